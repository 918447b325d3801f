"""COCO metrics of a model as it runs in-process (e.g. before and after
quantization), with the config's test pipeline and evaluator."""
import copy
from typing import Dict, Optional

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.evaluator import Evaluator
from torch import nn


def evaluate(model: nn.Module, cfg: Config, max_images: Optional[int] = None) -> Dict[str, float]:
    """The test evaluator's metrics of ``model`` on the config's test set (its
    first ``max_images`` images if given: COCO metrics then count only those
    images), one image at a time."""
    from mmdet.registry import DATASETS
    dataset_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    if max_images is not None:
        dataset_cfg.indices = max_images
    dataset = DATASETS.build(dataset_cfg)
    evaluator = Evaluator(copy.deepcopy(cfg.test_evaluator))
    evaluator.dataset_meta = dataset.metainfo
    img_ids = []
    with torch.no_grad():
        for i in range(len(dataset)):
            batch = pseudo_collate([dataset[i]])
            img_ids.append(batch['data_samples'][0].img_id)
            evaluator.process(model.test_step(batch), batch)
    for metric in evaluator.metrics:
        if max_images is not None and hasattr(metric, 'img_ids'):
            metric.img_ids = img_ids  # CocoMetric: score only the images run
    return evaluator.evaluate(len(dataset))

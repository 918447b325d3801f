"""COCO metrics of a model as it runs in-process (e.g. before and after
quantization), with the config's test pipeline and evaluator."""
import copy
import os.path as osp
from typing import Dict, List, Optional

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


def runtime_results_ap(entries: List[dict], ann_file: str,
                       file_names: Optional[List[str]] = None) -> Dict[str, float]:
    """COCO AP (``bbox``, and ``segm`` where entries have masks) of
    ``mmvanilla_runtime``'s JSON entries against a COCO annotation file,
    matched by file name and category name (pycocotools, as mmdet's CocoMetric),
    over the images ``file_names`` (default: every image of the file)."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(ann_file)
    image_ids = {osp.basename(img['file_name']): img['id'] for img in coco.dataset['images']}
    category_ids = {cat['name']: cat['id'] for cat in coco.dataset['categories']}
    results = [dict(e, image_id=image_ids[e['file_name']],
                    category_id=category_ids[e['category']]) for e in entries]
    kinds = ['bbox'] + (['segm'] if results and 'segmentation' in results[0] else [])
    aps = {}
    for kind in kinds:
        if not results:
            aps[kind] = aps[f'{kind}_50'] = 0.0
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            evaluation = COCOeval(coco, coco.loadRes(
                [dict(r) if kind == 'segm' else {k: v for k, v in r.items()
                                                 if k != 'segmentation'} for r in results]),
                kind)
            evaluation.params.imgIds = sorted(
                {r['image_id'] for r in results} | set(image_ids.values()) if file_names is None
                else {image_ids[n] for n in file_names})
            evaluation.evaluate()
            evaluation.accumulate()
            evaluation.summarize()
        aps[kind] = float(evaluation.stats[0])
        aps[f'{kind}_50'] = float(evaluation.stats[1])
    return aps

"""Inputs for post-training quantization: training images as the deployed
model sees them (the config's test pipeline and data preprocessor)."""
import copy
from typing import Callable, List, Sequence, Tuple

import numpy as np
from mmengine.config import Config
from torch import nn

from mmvanilla.deploy.end_to_end import Inputs, end_to_end_inputs
from mmvanilla.utils.errors import DatasetError


def evenly_spaced(count: int, total: int) -> List[int]:
    """``count`` indices spread over ``range(total)`` (all if fewer)."""
    if count >= total:
        return list(range(total))
    return sorted({int(round(i)) for i in np.linspace(0, total - 1, count)})


def calibration_source(cfg: Config, model: nn.Module,
                       count: int) -> Tuple[Sequence[int], Callable[[int], Inputs]]:
    """(indices, load): ``count`` evenly spread training images, and a function
    that turns one index into the end-to-end model's inputs (batch 1). Images
    are decoded only when asked for, so hundreds never sit in memory at once."""
    from mmdet.registry import DATASETS
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    while 'dataset' in dataset_cfg or 'datasets' in dataset_cfg:
        # RepeatDataset, ClassBalancedDataset, ...; ConcatDataset: its first part
        dataset_cfg = dataset_cfg.get('dataset') or dataset_cfg.datasets[0]
    dataset_cfg.pipeline = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
    try:
        dataset = DATASETS.build(dataset_cfg)
    except OSError as e:
        raise DatasetError(f'calibration needs the config\'s training images: {e}') from None
    if len(dataset) == 0:
        raise DatasetError('the config\'s training set has no images to calibrate on')
    preprocessor = model.data_preprocessor

    def load(index: int) -> Inputs:
        try:
            item = dataset[index]
        except DatasetError:
            raise
        except FileNotFoundError as e:
            raise DatasetError(f'{e.filename or e!r} not found: check the config\'s data_root '
                               'and file paths (or --cfg-options); calibration reads its '
                               'training images') from None
        return end_to_end_inputs(preprocessor(
            dict(inputs=[item['inputs']], data_samples=[item['data_samples']]), False))
    return evenly_spaced(count, len(dataset)), load

"""``--cfg-options`` that point the real COCO configs at the generated shapes
dataset with a tiny VanillaNet and small heads, as a user would on a laptop."""
from typing import List

TINY_DIMS = [16, 32, 64, 128]
NECK = 32


def _list(values) -> str:
    return '[' + ','.join(map(str, values)) + ']'


#: The shapes images' own size: the tiny detectors train and test at it
#: instead of the configs' 1280x800 (the Resize step of each pipeline).
IMAGE_SCALE = (320, 256)
_RESIZE_STEP = dict(train=2, val=1)  # its index in the configs' pipelines


def _data(root: str, split: str, prefix: str) -> List[str]:
    step = _RESIZE_STEP['train' if prefix.startswith('train') else 'val']
    return [f'{prefix}.dataset.data_root={root}/',
            f'{prefix}.dataset.pipeline.{step}.scale=({IMAGE_SCALE[0]},{IMAGE_SCALE[1]})',
            f'{prefix}.dataset.ann_file=annotations/instances_{split}.json',
            f'{prefix}.dataset.data_prefix.img={split}/',
            f'{prefix}.dataset.metainfo.classes=(circle,square,triangle)',
            f'{prefix}.num_workers=0', f'{prefix}.persistent_workers=False']


def tiny_detector_options(root: str, kind: str = 'retinanet', epochs: int = 1,
                          batch_size: int = 4) -> List[str]:
    """Options for ``configs/{kind}_vanillanet11.py``."""
    ann_val = f'{root}/annotations/instances_val.json'
    opts = [
        *_data(root, 'train', 'train_dataloader'),
        *_data(root, 'val', 'val_dataloader'),
        *_data(root, 'val', 'test_dataloader'),
        f'val_evaluator.ann_file={ann_val}', f'test_evaluator.ann_file={ann_val}',
        f'train_dataloader.batch_size={batch_size}',
        f'train_cfg.max_epochs={epochs}',
        'model.backbone.arch._delete_=True',
        f'model.backbone.arch.dims={_list(TINY_DIMS)}', 'model.backbone.arch.strides=[2,2,2]',
        'model.backbone.init_cfg.checkpoint=None',
        'model.backbone.norm_eval=False',
        'default_hooks.logger.interval=1',
        'randomness.seed=0',
    ]
    if kind == 'retinanet':
        opts += ['model.backbone.out_indices=[0,1,2]',
                 f'model.neck.in_channels={_list(TINY_DIMS[1:])}', f'model.neck.out_channels={NECK}',
                 f'model.bbox_head.in_channels={NECK}', f'model.bbox_head.feat_channels={NECK}',
                 'model.bbox_head.stacked_convs=1', 'model.bbox_head.num_classes=3']
    else:
        opts += ['model.backbone.out_indices=[0,1,2]',
                 f'model.neck.in_channels={_list(TINY_DIMS[1:])}', f'model.neck.out_channels={NECK}',
                 f'model.rpn_head.in_channels={NECK}', f'model.rpn_head.feat_channels={NECK}',
                 f'model.roi_head.bbox_roi_extractor.out_channels={NECK}',
                 f'model.roi_head.bbox_head.in_channels={NECK}',
                 'model.roi_head.bbox_head.fc_out_channels=64',
                 'model.roi_head.bbox_head.num_classes=3',
                 f'model.roi_head.mask_roi_extractor.out_channels={NECK}',
                 f'model.roi_head.mask_head.in_channels={NECK}',
                 f'model.roi_head.mask_head.conv_out_channels={NECK}',
                 'model.roi_head.mask_head.num_classes=3']
    return opts

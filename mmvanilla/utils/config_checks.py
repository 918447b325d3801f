"""Check a detector config before a run starts, so mistakes fail in one line.

mmengine would otherwise fail late and deep: a missing dataset inside a
dataloader worker, mismatched FPN channels in the first forward pass.
"""
import json
import os.path as osp
from typing import Iterable, List, Optional

from mmengine.config import Config

from mmvanilla.utils.errors import CheckpointError, ConfigError, DatasetError

DEMO_HINT = ('To try mmvanilla without COCO, run the demo on the generated '
             'shapes dataset: bash tools/demo.sh')
COCO_LAYOUT = ('data/coco/annotations/instances_{train,val}2017.json, '
               'data/coco/train2017/, data/coco/val2017/')


def check_backbone_and_neck(model_cfg: dict) -> None:
    """The neck's ``in_channels`` must equal the VanillaNet outputs' channels."""
    from mmvanilla.models.backbones.vanillanet import (
        check_out_indices,
        default_out_indices,
        resolve_arch,
    )
    backbone, neck = model_cfg.get('backbone', {}), model_cfg.get('neck')
    if backbone.get('type') not in ('VanillaNet', 'mmdet.VanillaNet'):
        return
    settings = resolve_arch(backbone.get('arch', 'vanillanet_11'))
    indices = backbone.get('out_indices')
    indices = check_out_indices(
        default_out_indices(settings['strides']) if indices is None else indices,
        len(settings['strides']))
    channels = [settings['dims'][i + 1] for i in indices]
    if isinstance(neck, dict) and 'in_channels' in neck:
        if list(neck['in_channels']) != channels:
            raise ConfigError(
                f'model.neck.in_channels {list(neck["in_channels"])} do not match '
                f'the backbone outputs {channels} (out_indices {list(indices)}): '
                f'set model.neck.in_channels={channels}')


def check_checkpoints(cfg: Config, pretrained: bool = True) -> None:
    """Checkpoint paths named in the config must exist.

    ``pretrained=False`` skips the backbone's ImageNet checkpoint, which only
    training reads.
    """
    init = cfg.model.get('backbone', {}).get('init_cfg')
    if pretrained and isinstance(init, dict) and init.get('type') == 'Pretrained':
        path = init.get('checkpoint')
        if path and '://' not in str(path) and not osp.isfile(path):
            raise CheckpointError(
                f'backbone checkpoint {path!r} not found: download it (official '
                f'ImageNet weights: the `ckpt` release of huawei-noah/VanillaNet) '
                f'to that path, or set --cfg-options '
                f'model.backbone.init_cfg.checkpoint=None to train from scratch')
    load_from = cfg.get('load_from')
    if load_from and '://' not in str(load_from) and not osp.isfile(load_from):
        raise CheckpointError(f'load_from checkpoint {load_from!r} not found')


def _dataset_files(dataset: dict) -> Iterable[tuple]:
    if 'datasets' in dataset:  # ConcatDataset
        for d in dataset['datasets']:
            yield from _dataset_files(d)
        return
    if 'dataset' in dataset:  # RepeatDataset, ClassBalancedDataset, ...
        yield from _dataset_files(dataset['dataset'])
        return
    root = dataset.get('data_root') or ''
    ann = dataset.get('ann_file')
    img = (dataset.get('data_prefix') or {}).get('img')
    yield (osp.join(root, ann) if ann else None,
           osp.join(root, img) if img is not None else None)


#: Annotation files up to this size are parsed before the run to check their
#: images; larger ones (COCO's train set) are left to the dataset, which
#: parses them anyway.
DEEP_CHECK_BYTES = 50 * 2**20


def check_annotation_file(path: str, img_dir: Optional[str] = None) -> None:
    """A COCO annotation file must exist and list images; small files also
    have every listed image file checked for existence."""
    if not osp.isfile(path):
        raise DatasetError(
            f'annotation file {path!r} not found. The COCO layout is '
            f'{COCO_LAYOUT} (link your COCO copy there or set data_root). '
            f'{DEMO_HINT}')
    size = osp.getsize(path)
    if size == 0:
        raise DatasetError(f'annotation file {path!r} is empty: regenerate or '
                           f're-download it')
    if size > DEEP_CHECK_BYTES:
        return
    try:
        with open(path) as f:
            data = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise DatasetError(
            f'annotation file {path!r} is not valid JSON ({e}); regenerate or '
            f're-download it') from None
    if not isinstance(data, dict) or not data.get('images'):
        raise DatasetError(
            f'annotation file {path!r} lists no images: a COCO instances file '
            f'needs "images", "annotations" and "categories"')
    if img_dir is not None and osp.isdir(img_dir):
        missing = [im.get('file_name') for im in data['images']
                   if not osp.isfile(osp.join(img_dir, str(im.get('file_name'))))]
        if missing:
            raise DatasetError(
                f'{len(missing)} image(s) listed in {path!r} are not in {img_dir!r}, '
                f'e.g. {missing[0]!r}: copy them there or remove them from the '
                f'annotation file')


def check_datasets(cfg: Config, splits: List[str]) -> None:
    """Annotation files and image folders of the given dataloaders exist."""
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        for ann, img_dir in _dataset_files(loader['dataset']):
            if img_dir and '://' not in img_dir and not osp.isdir(img_dir):
                if ann and not osp.isfile(ann):
                    check_annotation_file(ann)  # names the layout and the demo
                raise DatasetError(
                    f'image folder {img_dir!r} not found. The COCO layout is '
                    f'{COCO_LAYOUT}. {DEMO_HINT}')
            if ann:
                check_annotation_file(ann, img_dir)
        evaluator = cfg.get(f'{split}_evaluator')
        for metric in evaluator if isinstance(evaluator, list) else [evaluator]:
            if isinstance(metric, dict) and metric.get('ann_file'):
                check_annotation_file(metric['ann_file'])


def check_config(cfg: Config, splits: Optional[List[str]] = None,
                 pretrained: bool = True) -> None:
    """All pre-flight checks; ``splits`` e.g. ``['train', 'val']``."""
    check_backbone_and_neck(cfg.model)
    check_datasets(cfg, splits or [])
    check_checkpoints(cfg, pretrained)

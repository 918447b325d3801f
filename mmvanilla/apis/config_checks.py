"""Check a detector config before a run starts, so mistakes fail in one line.

mmengine would otherwise fail late and deep: a missing dataset inside a
dataloader worker, mismatched FPN channels in the first forward pass.
"""
import json
import os.path as osp
from typing import Iterable, List, Optional

from mmengine.config import Config

from mmvanilla.models.backbones.vanillanet_arch import out_channels
from mmvanilla.utils.errors import CheckpointError, ConfigError, DatasetError

DEMO_HINT = ('To try mmvanilla without COCO, run the demo on the generated '
             'shapes dataset: bash tools/demo.sh')
COCO_LAYOUT = ('data/coco/annotations/instances_{train,val}2017.json, '
               'data/coco/train2017/, data/coco/val2017/')


def check_backbone_and_neck(model_cfg: dict) -> None:
    """The neck's ``in_channels`` must equal the VanillaNet outputs' channels."""
    backbone, neck = model_cfg.get('backbone', {}), model_cfg.get('neck')
    if backbone.get('type') not in ('VanillaNet', 'mmdet.VanillaNet'):
        return
    channels, indices = out_channels(backbone.get('arch', 'vanillanet_11'),
                                     backbone.get('out_indices'))
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


def check_coco_schema(data: dict, path: str, training: bool = False) -> None:
    """The COCO instances layout that pycocotools and mmdet index without checks.

    A file without "annotations" (COCO's image_info_test-dev) is accepted
    except for training.
    """
    def bad(what: str) -> DatasetError:
        return DatasetError(f'annotation file {path!r}: {what}; a COCO instances file has '
                            f'"images" [{{id: int, file_name, width, height}}], "annotations" '
                            f'[{{id, image_id, category_id, bbox: [x, y, w, h]}}] and '
                            f'"categories" [{{id, name}}]')
    if not training and 'annotations' not in data:
        data = dict(data, annotations=[])
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(data.get(key), list):
            raise bad(f'"{key}" is missing or not a list')
    if not data['categories']:
        raise bad('"categories" is empty')
    image_ids = set()
    for image in data['images']:
        if not isinstance(image, dict) or not _is_int(image.get('id'), 0) \
                or 'file_name' not in image:
            raise bad(f'image entry {str(image)[:80]} needs an int "id" and a "file_name"')
        image_ids.add(image['id'])
    category_ids = {c.get('id') for c in data['categories'] if isinstance(c, dict)}
    valid_boxes = 0
    for ann in data['annotations']:
        if not isinstance(ann, dict):
            raise bad(f'annotation {str(ann)[:80]} is not an object')
        if ann.get('image_id') not in image_ids:
            raise bad(f'annotation {ann.get("id")!r} has image_id {ann.get("image_id")!r}, '
                      f'which is not in "images"')
        if ann.get('category_id') not in category_ids:
            raise bad(f'annotation {ann.get("id")!r} has category_id '
                      f'{ann.get("category_id")!r}, which is not in "categories"')
        box = ann.get('bbox')
        if not (isinstance(box, list) and len(box) == 4
                and all(isinstance(v, (int, float)) for v in box)):
            raise bad(f'annotation {ann.get("id")!r} has no "bbox" of 4 numbers (got {box!r})')
        valid_boxes += box[2] > 0 and box[3] > 0
    if training and data['annotations'] and not valid_boxes:
        raise DatasetError(
            f'annotation file {path!r}: every one of its {len(data["annotations"])} boxes has '
            f'zero or negative width or height, so training would learn nothing: boxes are '
            f'[x, y, width, height] in pixels')


def check_annotation_file(path: str, img_dir: Optional[str] = None,
                          training: bool = False) -> None:
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
    check_coco_schema(data, path, training)
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
                check_annotation_file(ann, img_dir, training=split == 'train')
        evaluator = cfg.get(f'{split}_evaluator')
        for metric in evaluator if isinstance(evaluator, list) else [evaluator]:
            if isinstance(metric, dict) and metric.get('ann_file'):
                check_annotation_file(metric['ann_file'])


def _is_int(value, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _num_classes(node, path: str = 'model'):
    """Every ``num_classes`` in a model config, with its dotted path."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'num_classes':
                yield f'{path}.{key}', value
            else:
                yield from _num_classes(value, f'{path}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _num_classes(value, f'{path}.{i}')


def check_values(cfg: Config, splits: List[str]) -> None:
    """Values that would fail deep inside torch or mmengine, or train nothing."""
    for path, value in _num_classes(cfg.model):
        if not _is_int(value, 1):
            raise ConfigError(f'{path} must be an int >= 1, got {value!r}: set it to the '
                              f'number of classes of the dataset')
    for split in splits:
        loader = cfg.get(f'{split}_dataloader') or {}
        size = loader.get('batch_size', 1)
        if not _is_int(size, 1):
            raise ConfigError(f'{split}_dataloader.batch_size must be an int >= 1, got {size!r}')
    if 'train' not in splits:
        return
    train_cfg = cfg.get('train_cfg') or {}
    for key in ('max_epochs', 'max_iters'):
        if key in train_cfg and not _is_int(train_cfg[key], 1):
            raise ConfigError(f'train_cfg.{key} must be an int >= 1, got {train_cfg[key]!r}: '
                              f'with it nothing would be trained')
    optimizer = (cfg.get('optim_wrapper') or {}).get('optimizer') or {}
    lr = optimizer.get('lr')
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0):
        raise ConfigError(f'optim_wrapper.optimizer.lr must be a number > 0, got {lr!r}')


def check_config(cfg: Config, splits: Optional[List[str]] = None,
                 pretrained: bool = True) -> None:
    """All pre-flight checks; ``splits`` e.g. ``['train', 'val']``."""
    check_values(cfg, splits or [])
    check_backbone_and_neck(cfg.model)
    check_datasets(cfg, splits or [])
    check_checkpoints(cfg, pretrained)

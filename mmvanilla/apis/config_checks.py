"""Check a detector config before a run starts, so mistakes fail in one line.

mmengine would otherwise fail late and deep: a missing dataset inside a
dataloader worker, mismatched FPN channels in the first forward pass.
"""
import json
import math
import os.path as osp
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from mmengine.config import Config

from mmvanilla.models.backbones.vanillanet_arch import out_channels
from mmvanilla.utils.errors import (CheckpointError, ConfigError, DatasetError, MMVanillaError,
                                    describe)

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


def check_levels(model_cfg: dict) -> None:
    """The neck gives as many feature levels as each dense head's anchor
    generator has strides (mmdet would fail at the first prediction, e.g.
    with a ZeroDivisionError)."""
    neck = model_cfg.get('neck')
    outs = neck.get('num_outs') if isinstance(neck, dict) else None
    for name in ('bbox_head', 'rpn_head'):
        head = model_cfg.get(name)
        prior = head.get('anchor_generator') if isinstance(head, dict) else None
        strides = prior.get('strides') if isinstance(prior, dict) else None
        if isinstance(outs, int) and isinstance(strides, (list, tuple)) \
                and len(strides) != outs:
            raise ConfigError(
                f'model.neck.num_outs={outs} but model.{name}.anchor_generator.strides has '
                f'{len(strides)} levels ({list(strides)}): give the neck as many outputs as the '
                f'head has strides (or the strides of its {outs} levels)')


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
           osp.join(root, img) if img is not None else None, dataset)


def _split_datasets(cfg: Config, splits: List[str]) -> Iterable[tuple]:
    """(split, annotation file, image folder, dataset config) of every leaf
    dataset of the given splits' dataloaders."""
    for split in splits:
        loader = cfg.get(f'{split}_dataloader') or {}
        for ann, img_dir, dataset in _dataset_files(loader.get('dataset') or {}):
            yield split, ann, img_dir, dataset


#: Annotation files up to this size are parsed before the run to check their
#: images; larger ones (COCO's train set) are left to the dataset, which
#: parses them anyway.
DEEP_CHECK_BYTES = 50 * 2**20


def _is_number(value) -> bool:
    """A finite real number (JSON's true/false are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _polygons_ok(segmentation) -> bool:
    if isinstance(segmentation, dict):  # RLE
        return 'counts' in segmentation and 'size' in segmentation
    return isinstance(segmentation, list) and all(
        isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 and all(map(_is_number, p))
        for p in segmentation)


def _mask_problem(segmentation, image: dict) -> Optional[str]:
    """What keeps an annotation's mask from being its image's, or None:
    a missing one, polygon points outside the image (1 px of slack), an RLE
    of another size."""
    width, height = image.get('width'), image.get('height')
    if segmentation is None or segmentation == []:
        return 'no "segmentation"'
    if isinstance(segmentation, dict):
        if width is not None and list(segmentation.get('size', [])) != [height, width]:
            return (f'an RLE mask of size {segmentation.get("size")}, not the image\'s '
                    f'[{height}, {width}] (height, width)')
        return None
    if width is None or height is None:
        return None
    for polygon in segmentation:
        xs, ys = polygon[0::2], polygon[1::2]
        if min(xs) < -1 or min(ys) < -1 or max(xs) > width + 1 or max(ys) > height + 1:
            return (f'polygon points outside its {width}x{height} image (x {min(xs):g}..'
                    f'{max(xs):g}, y {min(ys):g}..{max(ys):g})')
    return None


def check_class_mapping(classes: Sequence[str], categories: Sequence[str], path: str) -> None:
    """The dataset's ``classes`` must name categories of the annotation file,
    each once, in the file's order: mmdet's CocoDataset and CocoMetric number
    labels in the file's order of the categories they find by name and
    silently skip names they do not find, so otherwise labels and class names
    disagree (a renamed or misspelt class trains nothing, a reordered one is
    reported under another's name)."""
    names = list(dict.fromkeys(categories))  # (the file's names, each once)
    shown = ', '.join(map(repr, names[:12])) + (', ...' if len(names) > 12 else '')
    fix = (f'set dataset.metainfo.classes to category names of {path!r} in its order '
           f'({shown}), or rename or reorder the file\'s categories so that every split\'s '
           f'file lists them alike')
    again = sorted({str(n) for n in categories if n in classes and categories.count(n) > 1})
    if again:
        raise DatasetError(f'annotation file {path!r} has more than one category named '
                           f'{", ".join(again)}: give each category its own name')
    twice = sorted({str(c) for c in classes if list(classes).count(c) > 1})
    if twice:
        raise DatasetError(f'the dataset\'s classes name {", ".join(twice)} more than once: '
                           f'{fix}')
    found = [name for name in names if name in classes]
    missing = [c for c in classes if c not in found]
    if missing:
        raise DatasetError(
            f'annotation file {path!r} has no category named '
            f'{", ".join(map(repr, missing[:6]))}{", ..." if len(missing) > 6 else ""} '
            f'({len(missing)} of the dataset\'s {len(classes)} classes), so mmdet would '
            f'never label {"it" if len(missing) == 1 else "them"}: {fix}')
    if found != list(classes):
        i = next(i for i, (a, b) in enumerate(zip(found, classes)) if a != b)
        raise DatasetError(
            f'the dataset\'s classes are not in the order of the categories of {path!r} '
            f'(class {i} is {classes[i]!r}, the file\'s is {found[i]!r}): mmdet numbers '
            f'labels in the file\'s order, so classes would be reported under each other\'s '
            f'names: set dataset.metainfo.classes={tuple(found)}')


def numbers_labels_by_file_order(dataset: dict) -> bool:
    """Whether the dataset type numbers its labels as CocoDataset does (the
    file's order of the categories named by ``classes``); Objects365 and LVIS,
    for instance, sort or take every category instead."""
    from mmdet.datasets import CocoDataset
    from mmdet.registry import DATASETS
    kind = dataset.get('type')
    cls = DATASETS.get(kind) if isinstance(kind, str) else kind
    return isinstance(cls, type) and issubclass(cls, CocoDataset) \
        and cls.load_data_list is CocoDataset.load_data_list


def check_coco_schema(data: dict, path: str, training: bool = False,
                      classes: Optional[Sequence[str]] = None, min_size: int = 0,
                      label_order: bool = True, with_mask: bool = False) -> None:
    """The COCO instances layout that pycocotools and mmdet index without checks.

    A file without "annotations" (COCO's image_info_test-dev) is accepted
    except for training. For training, something must be left to learn once
    mmdet has dropped what it drops silently: crowd boxes, boxes under 1 px,
    boxes outside their image, boxes of categories not in ``classes``, images
    smaller than ``min_size`` or without a box.
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
    images = {}
    for image in data['images']:
        if not isinstance(image, dict) or not _is_int(image.get('id'), 0) \
                or 'file_name' not in image:
            raise bad(f'image entry {str(image)[:80]} needs an int "id" and a "file_name"')
        for side in ('width', 'height'):
            if side in image and not (_is_number(image[side]) and image[side] > 0):
                raise bad(f'image {image["id"]} has "{side}" {image[side]!r}, not a '
                          f'positive number of pixels')
        if image['id'] in images:
            raise bad(f'image id {image["id"]} is used by more than one image '
                      f'({images[image["id"]].get("file_name")!r} and '
                      f'{image.get("file_name")!r}): their boxes would be mixed up; give each '
                      f'image its own id')
        images[image['id']] = image
    category_names = {c.get('id'): c.get('name') for c in data['categories']
                      if isinstance(c, dict)}
    if classes is not None and label_order:
        check_class_mapping(classes, [c.get('name') for c in data['categories']
                                      if isinstance(c, dict)], path)
    dropped = dict(crowd=0, tiny=0, outside=0, other_class=0)
    kept_images = set()
    ann_ids = set()
    for ann in data['annotations']:
        if not isinstance(ann, dict):
            raise bad(f'annotation {str(ann)[:80]} is not an object')
        name = f'annotation {ann.get("id")!r}'
        if ann.get('id') in ann_ids:
            raise bad(f'{name} is used by more than one annotation (pycocotools keeps only '
                      f'the last): give each annotation its own id')
        ann_ids.add(ann.get('id'))
        if ann.get('image_id') not in images:
            raise bad(f'{name} has image_id {ann.get("image_id")!r}, which is not in "images"')
        if ann.get('category_id') not in category_names:
            raise bad(f'{name} has category_id {ann.get("category_id")!r}, which is not in '
                      f'"categories"')
        box = ann.get('bbox')
        if not (isinstance(box, list) and len(box) == 4 and all(map(_is_number, box))):
            raise bad(f'{name} has no "bbox" of 4 numbers (finite ones; got {box!r})')
        if ann.get('iscrowd', 0) not in (0, 1) or isinstance(ann.get('iscrowd'), (str, float)):
            raise bad(f'{name} has "iscrowd" {ann["iscrowd"]!r}: write 0 or 1 (a number; '
                      f'mmdet reads any other true value as a crowd region and ignores it)')
        if 'segmentation' in ann and ann['segmentation'] != [] \
                and not _polygons_ok(ann['segmentation']):
            raise bad(f'{name} has a "segmentation" that is neither polygons (lists of '
                      f'x, y pairs, 3 points or more) nor RLE (got {str(ann["segmentation"])[:60]})')
        image = images[ann['image_id']]
        if with_mask and not ann.get('iscrowd', 0):
            problem = _mask_problem(ann.get('segmentation'), image)
            if problem:
                raise bad(f'{name} (image {image.get("file_name")!r}) has {problem}: the '
                          f'config loads masks (LoadAnnotations with_mask=True), which must '
                          f'lie in their image')
        x, y, w, h = box
        inside_w = min(x + w, image.get('width', math.inf)) - max(x, 0)
        inside_h = min(y + h, image.get('height', math.inf)) - max(y, 0)
        if ann.get('iscrowd', 0):
            dropped['crowd'] += 1
        elif w < 1 or h < 1:
            dropped['tiny'] += 1
        elif inside_w <= 0 or inside_h <= 0:
            dropped['outside'] += 1
        elif classes is not None and category_names[ann['category_id']] not in classes:
            dropped['other_class'] += 1
        elif min(image.get('width', math.inf), image.get('height', math.inf)) >= min_size:
            kept_images.add(ann['image_id'])
    if not training or not data['annotations'] or kept_images:
        return
    count = len(data['annotations'])
    if dropped['tiny'] == count:
        raise DatasetError(
            f'annotation file {path!r}: every one of its {count} boxes has zero or negative '
            f'width or height, so training would learn nothing: boxes are '
            f'[x, y, width, height] in pixels')
    reasons = {'crowd': 'marked iscrowd', 'tiny': 'under 1 px wide or high',
               'outside': 'outside their image', 'other_class': 'of no class in the '
               f'dataset\'s classes {tuple(classes or ())}'}
    why = ', '.join(f'{n} {reasons[k]}' for k, n in dropped.items() if n)
    raise DatasetError(
        f'annotation file {path!r}: nothing to learn: mmdet drops all {count} boxes ({why}'
        f'{"" if min_size <= 0 else f"; images under {min_size} px are dropped too"}): '
        f'fix the boxes ([x, y, width, height] in pixels, inside the image), their '
        f'"iscrowd" or the dataset\'s metainfo.classes')


def check_annotation_file(path: str, img_dir: Optional[str] = None,
                          training: bool = False, classes: Optional[Sequence[str]] = None,
                          min_size: int = 0, label_order: bool = True,
                          with_mask: bool = False) -> None:
    """A COCO annotation file must exist and list images; small files are
    checked through (:func:`check_coco_schema`, the dataset's ``classes``
    among its categories) and have every listed image file checked for
    existence."""
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
    check_coco_schema(data, path, training, classes, min_size, label_order, with_mask)
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
        metric_classes = None  # (a concatenation's meta is its first dataset's)
        checked = set()  # (files checked against their dataset's classes)
        for _, ann, img_dir, dataset in _split_datasets(cfg, [split]):
            classes = dataset_classes(dataset)
            label_order = numbers_labels_by_file_order(dataset)
            if metric_classes is None and label_order:
                metric_classes = classes
            if img_dir and '://' not in img_dir and not osp.isdir(img_dir):
                if ann and not osp.isfile(ann):
                    check_annotation_file(ann)  # names the layout and the demo
                raise DatasetError(
                    f'image folder {img_dir!r} not found. The COCO layout is '
                    f'{COCO_LAYOUT}. {DEMO_HINT}')
            if ann:
                filter_cfg = dataset.get('filter_cfg') or {}
                min_size = filter_cfg.get('min_size', 0) if split == 'train' else 0
                check_annotation_file(ann, img_dir, training=split == 'train',
                                      classes=classes,
                                      min_size=min_size if _is_number(min_size) else 0,
                                      label_order=label_order,
                                      with_mask=loads_masks(dataset))
                checked.add((osp.abspath(ann), classes))
        evaluator = cfg.get(f'{split}_evaluator')
        for metric in evaluator if isinstance(evaluator, list) else [evaluator]:
            if isinstance(metric, dict) and metric.get('ann_file') and \
                    (osp.abspath(str(metric['ann_file'])), metric_classes) not in checked:
                # CocoMetric numbers classes as CocoDataset does (unless it sorts them)
                coco_order = str(metric.get('type', '')).split('.')[-1] == 'CocoMetric' \
                    and not metric.get('sort_categories')
                check_annotation_file(metric['ann_file'], classes=metric_classes,
                                      label_order=coco_order)


def loads_masks(dataset: dict) -> bool:
    """Whether a dataset's pipeline loads instance masks."""
    return any(isinstance(step, dict) and str(step.get('type', '')).endswith('LoadAnnotations')
               and step.get('with_mask') for step in dataset.get('pipeline') or [])


def dataset_classes(dataset: dict) -> Optional[Sequence[str]]:
    """The class names a dataset config selects: its ``metainfo.classes``, else
    its type's default (CocoDataset: COCO's 80); None if unknown."""
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes is None and isinstance(dataset.get('type'), str):
        from mmdet.registry import DATASETS
        cls = DATASETS.get(dataset['type'])
        classes = getattr(cls, 'METAINFO', {}).get('classes')
    if isinstance(classes, str):
        classes = (classes,)
    return tuple(classes) if classes is not None else None


def check_heads_against_dataset(cfg: Config, splits: List[str]) -> None:
    """Every ``num_classes`` of the heads (not the RPN's) equals the number of
    classes the dataset selects (otherwise labels run past the classifier, or
    outputs are never trained)."""
    for split, _, _, dataset in _split_datasets(cfg, splits):
        classes = dataset_classes(dataset)
        if classes is None:
            continue
        for path, value in _num_classes(cfg.model):
            if 'rpn_head' not in path and value != len(classes):
                raise ConfigError(
                    f'{path}={value!r} but {split}_dataloader\'s dataset has '
                    f'{len(classes)} classes ({", ".join(map(str, classes[:4]))}'
                    f'{", ..." if len(classes) > 4 else ""}): set {path}={len(classes)} '
                    f'(or metainfo.classes to the classes the model predicts)')
        return  # the first dataset that names its classes tells


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


class Domain(NamedTuple):
    """The values a config key may take, and how to say so."""
    text: str
    holds: Callable[[object], bool]


def _unit(value) -> bool:
    return _is_number(value) and 0 <= value <= 1


UNIT = Domain('a number in [0, 1]', _unit)
UNITS = Domain('a number in [0, 1] (or a list of them)', lambda v: _unit(v) or (
    isinstance(v, (list, tuple)) and bool(v) and all(map(_unit, v))))
COUNT = Domain('an int >= 1', lambda v: _is_int(v, 1))
NON_NEGATIVE_INT = Domain('an int >= 0', lambda v: _is_int(v, 0))
POSITIVE = Domain('a number > 0', lambda v: _is_number(v) and v > 0)
NON_NEGATIVE = Domain('a number >= 0', lambda v: _is_number(v) and v >= 0)
BOOL = Domain('True or False', lambda v: v is None or isinstance(v, bool))
#: The values each key may take wherever it stands in a config: one table for
#: every tool's pre-flight (``check_numbers``). Thresholds, IoUs and
#: probabilities lie in [0, 1], counts are >= 1, norms and rates are > 0.
DOMAINS: Dict[str, Domain] = {
    **dict.fromkeys(('score_thr', 'iou_threshold', 'iou_thr', 'pos_iou_thr', 'min_pos_iou',
                     'mask_thr_binary', 'pos_fraction', 'act_learn'), UNIT),
    'momentum': Domain('a number in [0, 1] (or None)', lambda v: v is None or _unit(v)),
    **dict.fromkeys(('neg_iou_thr', 'prob'), UNITS),
    **dict.fromkeys(('max_per_img', 'num_outs', 'batch_size', 'max_epochs', 'max_iters',
                     'num_classes', 'val_interval', 'base_batch_size'), COUNT),
    'num_workers': NON_NEGATIVE_INT,
    **dict.fromkeys(('lr', 'max_norm', 'layer_decay_rate', 'eps', 'start_factor'), POSITIVE),
    **dict.fromkeys(('weight_decay', 'decay_mult', 'lr_mult', 'norm_decay_mult',
                     'bias_decay_mult', 'eta_min'), NON_NEGATIVE),
    **dict.fromkeys(('resume', 'deploy', 'with_cp', 'keep_ratio', 'with_mask', 'with_bbox',
                     'norm_eval', 'by_epoch', 'draw', 'enable', 'bgr_to_rgb', 'rgb_to_bgr',
                     'find_unused_parameters', 'sort_categories', 'format_only',
                     'save_last', 'clip_border'), BOOL),
}


def _entries(node, path: str = ''):
    """Every (dotted path, key, value) of the config's dicts."""
    if isinstance(node, dict):
        for key, value in node.items():
            full = f'{path}.{key}' if path else str(key)
            yield full, str(key), value
            yield from _entries(value, full)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _entries(value, f'{path}.{i}')


def check_domains(cfg) -> None:
    """Each key of :data:`DOMAINS`, wherever it stands, holds a value of its domain."""
    for path, key, value in _entries(cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg):
        domain = DOMAINS.get(key)
        if domain is not None and not domain.holds(value):
            raise ConfigError(f'{path} must be {domain.text}, got {value!r}')
    for split in ('train', 'val', 'test'):  # PyTorch's DataLoader refuses the pair
        loader = cfg.get(f'{split}_dataloader') or {}
        if loader.get('persistent_workers') and loader.get('num_workers', 0) == 0:
            raise ConfigError(f'{split}_dataloader.persistent_workers=True needs worker '
                              f'processes, and num_workers is 0: set '
                              f'{split}_dataloader.persistent_workers=False, or num_workers '
                              '>= 1')


def _leaves(node, path: str):
    """Every value of a config with its dotted path (list items by index)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f'{path}.{key}' if path else str(key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _leaves(value, f'{path}.{i}')
    else:
        yield path, node


def check_numbers(cfg: Config) -> None:
    """Every number of the config is finite, no bool is written as a string
    (``'False'`` is true to Python) and no ``dict(...)`` is left as text (what
    ``--cfg-options`` makes of one): whatever key it is under; and every key
    of :data:`DOMAINS` holds a value of its domain."""
    for path, value in _leaves(cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg, ''):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f'{path} is {value}: every number in a config must be finite')
        if isinstance(value, str) and value.strip().lower() in ('true', 'false'):
            raise ConfigError(f'{path} is the string {value!r}, which Python reads as true: '
                              f'write {path}={value.strip().capitalize()} without quotes')
        if isinstance(value, str) and value.replace(' ', '').startswith('dict('):
            raise ConfigError(f'{path} is the text {value!r}, not a dict: --cfg-options does '
                              f'not parse dict(...); set its keys one by one, '
                              f'KEY.SUBKEY=VALUE, or put it in a config file')
    check_domains(cfg)


def check_pipelines(cfg: Config, splits: List[str]) -> None:
    """Resize scales that OpenCV and mmcv can use."""
    for split, _, _, dataset in _split_datasets(cfg, splits):
        for i, step in enumerate(dataset.get('pipeline') or []):
            where = f'{split}_dataloader.dataset.pipeline.{i} ({step.get("type")})'
            scales = step.get('scale')
            if scales is not None:
                scales = scales if isinstance(scales, list) else [scales]
                for scale in scales:
                    ok = (_is_number(scale) and scale > 0) or (
                        isinstance(scale, (tuple, list)) and len(scale) == 2
                        and all(_is_number(v) and v >= 1 for v in scale))
                    if not ok:
                        raise ConfigError(f'{where}: scale {scale!r} must be (width, '
                                          f'height) in pixels, both >= 1')


def resize_scale(cfg: Config) -> Tuple[int, int]:
    """(width, height) of the test pipeline's Resize; mmdet's (1333, 800) where
    it names no (width, height) pair."""
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    steps = next((d.get('pipeline') or [] for _, _, d in
                  _dataset_files(loader.get('dataset') or {})), [])
    scale = next((t.get('scale') for t in steps if t.get('type') == 'Resize'), None)
    if not (isinstance(scale, (tuple, list)) and len(scale) == 2):
        scale = (1333, 800)
    return int(scale[0]), int(scale[1])


def padded_test_shape(cfg: Config) -> tuple:
    """(height, width) of an image after the test pipeline's Resize, padded to 32."""
    width, height = resize_scale(cfg)
    return tuple(-(-v // 32) * 32 for v in (height, width))


def check_model_runs(cfg: Config) -> None:
    """Build the model as the run will, on PyTorch's meta device (shapes
    only, no memory, no weights loaded), and pass an image of the test size
    through its backbone, neck and dense head: any value that cannot make a
    model, or channels that do not chain, fail here in one line, before any
    data is read."""
    import copy

    import torch
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model_cfg = copy.deepcopy(cfg.model)
    if isinstance(model_cfg.get('backbone'), dict):
        model_cfg['backbone'].pop('init_cfg', None)  # nothing is loaded here
    height, width = padded_test_shape(cfg)
    stage, running = 'built', []
    try:
        with torch.device('meta'), torch.no_grad():
            model = MODELS.build(model_cfg).eval()
            stage = f'run on a {height}x{width} image'
            for name, module in model.named_modules():  # name the layer that fails
                if not list(module.children()):
                    module.register_forward_pre_hook(
                        lambda m, args, name=name: running.append(name))
            feats = model.extract_feat(torch.empty(1, 3, height, width))
            head = getattr(model, 'bbox_head', None) or getattr(model, 'rpn_head', None)
            if head is not None:
                head(feats)
    except MMVanillaError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure is the config's
        if isinstance(e, NotImplementedError) or 'meta' in str(e).lower():
            return  # a model that needs real data to be built (e.g. .item() in Swin)
        where = f' (in model.{running[-1]})' if running else _failing_part(model_cfg, e)
        raise ConfigError(
            f'the model of this config cannot be {stage}{where}: {describe(e)}; check the '
            f'values under model (channels of backbone, neck and heads, num_classes, '
            f'sizes)') from None


def _failing_part(model_cfg: dict, error: Exception) -> str:
    """`` (in model.KEY)`` for the part of a model config that fails to build
    alone as the whole model did (same exception type), else ''."""
    import torch
    from mmdet.registry import MODELS
    for key, part in model_cfg.items():
        if not (isinstance(part, dict) and 'type' in part):
            continue
        try:
            with torch.device('meta'):
                MODELS.build(part)
        except Exception as e:  # noqa: BLE001 - only its type is compared
            if type(e) is type(error):
                return f' (in model.{key})'
    return ''


def _registered_sections(cfg: Config, splits: List[str]):
    """(path, config of one object, registry) for what the Runner builds
    besides the model."""
    from mmdet import registry as r
    optim_wrapper = cfg.get('optim_wrapper') or {}
    yield 'optim_wrapper', optim_wrapper, r.OPTIM_WRAPPERS
    yield 'optim_wrapper.optimizer', optim_wrapper.get('optimizer'), r.OPTIMIZERS
    constructor = optim_wrapper.get('constructor')
    if isinstance(constructor, str):
        yield 'optim_wrapper.constructor', dict(type=constructor), r.OPTIM_WRAPPER_CONSTRUCTORS
    schedulers = cfg.get('param_scheduler') or []
    for i, scheduler in enumerate(schedulers if isinstance(schedulers, list) else [schedulers]):
        yield f'param_scheduler.{i}', scheduler, r.PARAM_SCHEDULERS
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        yield f'custom_hooks.{i}', hook, r.HOOKS
    for name, hook in (cfg.get('default_hooks') or {}).items():
        yield f'default_hooks.{name}', hook, r.HOOKS
    for split in splits:
        for _, _, _, dataset in _split_datasets(cfg, [split]):
            yield f'{split}_dataloader.dataset', dataset, r.DATASETS
            for i, step in enumerate(dataset.get('pipeline') or []):
                yield f'{split}_dataloader.dataset.pipeline.{i}', step, r.TRANSFORMS
        evaluator = cfg.get(f'{split}_evaluator')
        for i, metric in enumerate(evaluator if isinstance(evaluator, list) else [evaluator]):
            yield f'{split}_evaluator' + (f'.{i}' if isinstance(evaluator, list) else ''), \
                metric, r.METRICS


def check_registered_types(cfg: Config, splits: List[str]) -> None:
    """Every ``type`` the Runner will build names a registered class (mmengine
    would fail late, e.g. 'hook should be an instance of Hook or dict')."""
    for path, node, registry in _registered_sections(cfg, splits):
        kind = node.get('type') if isinstance(node, dict) else None
        if isinstance(kind, str) and registry.get(kind) is None:
            raise ConfigError(
                f'{path}.type {kind!r} is not a registered {registry.name}: check its '
                f'spelling, or import the module that registers it (custom_imports)')


def check_model_arguments(node, path: str = 'model', registries: Sequence = ()) -> None:
    """Each value of a config object has the kind the argument it goes to
    takes, where the class's signature tells it plainly (an annotation, or a
    default of that kind): a bool for a bool (``'no'`` would be true), a
    number for an ``int`` or ``float``. ``registries``: where its ``type``
    is looked up (default: mmdet's models and task utilities)."""
    import inspect

    from mmdet.registry import MODELS, TASK_UTILS
    registries = registries or (MODELS, TASK_UTILS)
    if isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            check_model_arguments(item, f'{path}.{i}', registries)
        return
    if not isinstance(node, dict):
        return
    kind = node.get('type')
    cls = next((c for c in (r.get(kind) for r in registries) if c is not None), None) \
        if isinstance(kind, str) else None
    try:
        params = inspect.signature(cls).parameters if inspect.isclass(cls) else {}
    except (TypeError, ValueError):
        params = {}
    for key, value in node.items():
        param = params.get(key)
        annotation = getattr(param.annotation, '__name__', param.annotation) if param else None
        default = param.default if param else None
        unannotated_bool = param is not None and isinstance(default, bool) \
            and param.annotation is inspect.Parameter.empty
        if (annotation == 'bool' or unannotated_bool) and value is not None \
                and not isinstance(value, bool):
            raise ConfigError(f'{path}.{key} must be True or False, got {value!r}')
        if annotation in ('int', 'float') and isinstance(value, (str, bool)):
            raise ConfigError(f'{path}.{key} must be a number, got {value!r}')
        check_model_arguments(value, f'{path}.{key}', registries)


def check_arguments(cfg: Config, splits: List[str]) -> None:
    """:func:`check_model_arguments` for the model and for everything else
    the Runner builds (hooks, datasets, transforms, optimizer, metrics)."""
    check_model_arguments(cfg.model)
    for path, node, registry in _registered_sections(cfg, splits):
        if isinstance(node, dict):
            check_model_arguments({k: v for k, v in node.items()
                                   if k not in ('pipeline', 'dataset', 'datasets', 'optimizer')},
                                  path, (registry,))


def check_config(cfg: Config, splits: Optional[List[str]] = None,
                 pretrained: bool = True) -> None:
    """All pre-flight checks; ``splits`` e.g. ``['train', 'val']``."""
    splits = splits or []
    check_numbers(cfg)
    check_backbone_and_neck(cfg.model)
    check_levels(cfg.model)
    check_pipelines(cfg, splits)
    check_heads_against_dataset(cfg, splits)
    check_model_runs(cfg)
    check_registered_types(cfg, splits)
    check_arguments(cfg, splits)
    check_datasets(cfg, splits)
    check_checkpoints(cfg, pretrained)

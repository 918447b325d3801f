"""A small COCO-format dataset of shapes, generated on the spot for demos and tests."""
import json
import math
import os
import os.path as osp
from typing import Dict, List, Tuple

import cv2
import numpy as np

from mmvanilla.utils.errors import ConfigError
from mmvanilla.utils.paths import atomic_output, check_outputs

SHAPES_CLASSES = ('circle', 'square', 'triangle')


def _polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    if kind == 'circle':
        t = np.linspace(0, 2 * math.pi, 32, endpoint=False)
    else:
        n = 4 if kind == 'square' else 3
        t = angle + np.arange(n) * 2 * math.pi / n
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)


def _image(rng: np.random.Generator, width: int, height: int,
           max_objects: int) -> Tuple[np.ndarray, List[dict]]:
    # Smooth coloured background: a few blurred blobs of noise.
    base = rng.integers(0, 256, (height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
    img = cv2.resize(base, (width, height), interpolation=cv2.INTER_CUBIC)
    img = (img // 2 + 64).astype(np.uint8)
    objects, circles = [], []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        for _attempt in range(20):
            r = float(rng.uniform(0.06, 0.2) * min(width, height))
            cx, cy = rng.uniform(r + 2, width - r - 2), rng.uniform(r + 2, height - r - 2)
            if all(math.hypot(cx - x, cy - y) > r + q + 4 for x, y, q in circles):
                break
        else:
            continue
        circles.append((cx, cy, r))
        label = int(rng.integers(len(SHAPES_CLASSES)))
        poly = _polygon(SHAPES_CLASSES[label], cx, cy, r, float(rng.uniform(0, math.pi)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.fillPoly(img, [np.round(poly).astype(np.int32)], colour, cv2.LINE_AA)
        objects.append(dict(label=label, polygon=poly))
    return img, objects


def _annotation(obj: dict, ann_id: int, image_id: int) -> dict:
    poly = obj['polygon']
    x0, y0 = poly.min(axis=0)
    x1, y1 = poly.max(axis=0)
    area = float(cv2.contourArea(poly.astype(np.float32)))
    return dict(id=ann_id, image_id=image_id, category_id=obj['label'] + 1,
                bbox=[float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                area=area, iscrowd=0,
                segmentation=[[round(float(v), 2) for v in poly.reshape(-1)]])


def make_shapes_dataset(root: str, num_train: int = 160, num_val: int = 40,
                        size: Tuple[int, int] = (320, 256), max_objects: int = 4,
                        seed: int = 0) -> Dict[str, str]:
    """Write ``root/{train,val}/*.png`` and ``root/annotations/instances_*.json``.

    The layout is COCO's, so mmdet's ``CocoDataset`` and ``CocoMetric`` read it
    with ``data_root=root``, ``ann_file='annotations/instances_train.json'``,
    ``data_prefix=dict(img='train/')`` and ``metainfo=dict(classes=SHAPES_CLASSES)``.
    Shapes never overlap, so the polygons are exact masks. Deterministic for a
    given seed. Returns the annotation file paths by split.
    """
    width, height = size
    for name, value, low in (('num_train', num_train, 1), ('num_val', num_val, 1),
                             ('width', width, 64), ('height', height, 64),
                             ('max_objects', max_objects, 1)):
        if not isinstance(value, int) or value < low:
            raise ConfigError(f'{name} must be a whole number >= {low}, got {value!r}')
    if width * height > 2**26:
        raise ConfigError(f'images of {width}x{height} are too large for a test set: '
                          'use a size up to 8192x8192')
    names = {split: [f'{split}_{i:05d}.png' for i in range(count)]
             for split, count in (('train', num_train), ('val', num_val))}
    ann_paths = {split: osp.join(root, 'annotations', f'instances_{split}.json')
                 for split in names}
    # never over a file of another kind, never into an artefact: checked before writing
    check_outputs({**{f'image {n}': osp.join(root, split, n)
                      for split in names for n in names[split]},
                   **{f'{split} annotations': p for split, p in ann_paths.items()}})
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    categories = [dict(id=i + 1, name=n) for i, n in enumerate(SHAPES_CLASSES)]
    ann_files, ann_id = {}, 1
    for split in names:
        os.makedirs(osp.join(root, split), exist_ok=True)
        images, annotations = [], []
        for name in names[split]:
            image_id = len(images) + 1
            img, objects = _image(rng, width, height, max_objects)
            with atomic_output(osp.join(root, split, name)) as tmp:
                if not cv2.imwrite(tmp, img):
                    raise OSError(f'OpenCV could not write {tmp}')
            images.append(dict(id=image_id, file_name=name, width=width, height=height))
            for obj in objects:
                annotations.append(_annotation(obj, ann_id, image_id))
                ann_id += 1
        path = ann_paths[split]
        with atomic_output(path) as tmp, open(tmp, 'w') as f:
            json.dump(dict(images=images, annotations=annotations,
                           categories=categories), f)
        ann_files[split] = path
    return ann_files

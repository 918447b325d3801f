"""Box-resolution mask probabilities to image masks and COCO RLE: mmdet's
``_do_paste_mask`` (bilinear ``grid_sample``, ``align_corners=False``, zero
outside the mask) written as two interpolation matrices."""
from typing import Dict

import numpy as np


def _weights(start: int, stop: int, lo: np.float32, hi: np.float32, size: int) -> np.ndarray:
    """(stop - start, size) bilinear weights of image pixels start..stop-1
    (centres at +0.5) over a mask row or column of ``size`` cells spanning
    [lo, hi]."""
    centres = np.arange(start, stop, dtype=np.float32) + np.float32(0.5)
    with np.errstate(divide='ignore', invalid='ignore'):
        grid = (centres - lo) / (hi - lo) * np.float32(2) - np.float32(1)
    grid[~np.isfinite(grid)] = 0  # an empty box, as mmdet
    src = ((grid + 1) * size - 1) / 2
    left = np.floor(src)
    frac = (src - left).astype(np.float32)
    left = left.astype(np.int64)
    weights = np.zeros((stop - start, size), np.float32)
    rows = np.arange(stop - start)
    for index, w in ((left, 1 - frac), (left + 1, frac)):
        inside = (index >= 0) & (index < size)
        weights[rows[inside], index[inside]] += w[inside]
    return weights


def paste_mask(probs: np.ndarray, box: np.ndarray, height: int, width: int,
               threshold: float) -> np.ndarray:
    """One (M, M) probability map pasted into its box: a (height, width) bool mask."""
    x0, y0, x1, y1 = (np.float32(v) for v in box)
    left = max(int(np.floor(x0)) - 1, 0)
    top = max(int(np.floor(y0)) - 1, 0)
    right = min(int(np.ceil(x1)) + 1, width)
    bottom = min(int(np.ceil(y1)) + 1, height)
    mask = np.zeros((height, width), bool)
    if right > left and bottom > top:
        rows = _weights(top, bottom, y0, y1, probs.shape[0])
        cols = _weights(left, right, x0, x1, probs.shape[1])
        mask[top:bottom, left:right] = rows @ probs.astype(np.float32) @ cols.T >= threshold
    return mask


def encode_rle(mask: np.ndarray) -> Dict[str, object]:
    """COCO RLE of a bool mask, JSON-ready (``counts`` as text)."""
    from pycocotools import mask as mask_util
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=[int(s) for s in rle['size']], counts=rle['counts'].decode('ascii'))

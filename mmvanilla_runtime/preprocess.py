"""Images to the end-to-end model's inputs, as mmdet's test pipeline and
``DetDataPreprocessor`` prepare them (``LoadImageFromFile``, ``Resize``, BGR to
RGB, mean/std, padding): the same OpenCV calls, so the same numbers."""
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from .errors import RuntimeInputError

#: The image files the runtime and tools/infer.py pick from a folder.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def read_image(path: str) -> np.ndarray:
    """The image at ``path`` as BGR uint8 (H, W, 3), as mmcv decodes it."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise RuntimeInputError(f'image {path!r} cannot be read: {e.strerror or e}') from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise RuntimeInputError(f'image {path!r} cannot be decoded: not an image OpenCV '
                                'reads (jpg, png, bmp, tiff, webp ...), or damaged')
    return image


def resize(image: np.ndarray, scale: Sequence[int], keep_ratio: bool
           ) -> Tuple[np.ndarray, Tuple[float, float]]:
    """mmdet's ``Resize`` (mmcv ``imrescale``/``imresize``, bilinear):
    the resized image and its (w_scale, h_scale)."""
    h, w = image.shape[:2]
    if keep_ratio:
        factor = min(max(scale) / max(h, w), min(scale) / min(h, w))
        size = (int(w * factor + 0.5), int(h * factor + 0.5))
    else:
        size = (int(scale[0]), int(scale[1]))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    return resized, (resized.shape[1] / w, resized.shape[0] / h)


def prepare_batch(images: List[np.ndarray], spec: dict) -> Dict[str, np.ndarray]:
    """BGR uint8 images to the model's ``input``, ``image_shape`` and
    ``scale_factor`` (one batch, padded to the largest image)."""
    resized, scales = zip(*(resize(img, spec['resize']['scale'], spec['resize']['keep_ratio'])
                            for img in images))
    divisor = int(spec['pad_size_divisor'])
    height = -(-max(r.shape[0] for r in resized) // divisor) * divisor
    width = -(-max(r.shape[1] for r in resized) // divisor) * divisor
    mean = np.asarray(spec['mean'], np.float32)
    std = np.asarray(spec['std'], np.float32)
    batch = np.full((len(images), 3, height, width), spec.get('pad_value', 0), np.float32)
    for i, img in enumerate(resized):
        x = img.astype(np.float32)
        if spec['to_rgb']:
            x = x[..., ::-1]
        batch[i, :, :img.shape[0], :img.shape[1]] = ((x - mean) / std).transpose(2, 0, 1)
    return dict(input=batch,
                image_shape=np.array([r.shape[:2] for r in resized], np.float32),
                scale_factor=np.array(scales, np.float32))

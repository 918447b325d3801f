"""Images to the end-to-end model's inputs, as mmdet's test pipeline and
``DetDataPreprocessor`` prepare them (``LoadImageFromFile``, ``Resize``, BGR to
RGB, mean/std, padding): the same OpenCV calls, so the same numbers."""
import os
import struct
from typing import Dict, List, Optional, Sequence, Tuple

#: The most pixels an image may have (OpenCV's own default limit, 2**30, would
#: take 3 GiB decoded): checked from the file's header, before decoding, and
#: OpenCV's own limit lowered to it where OpenCV is not loaded yet (a format
#: whose header is not read here).
MAX_PIXELS = 2**28
os.environ.setdefault('OPENCV_IO_MAX_IMAGE_PIXELS', str(MAX_PIXELS))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from .errors import RuntimeInputError  # noqa: E402

#: The image files the runtime and tools/infer.py pick from a folder.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def header_size(data: bytes) -> Optional[Tuple[int, int]]:
    """(width, height) from a PNG, JPEG, BMP, GIF, WebP or TIFF header; None
    for another format or a header that cannot be read."""
    try:
        if data[:4] in (b'II*\0', b'MM\0*'):
            return _tiff_size(data)
        if data[:8] == b'\x89PNG\r\n\x1a\n':
            return struct.unpack('>II', data[16:24])
        if data[:2] == b'BM':
            w, h = struct.unpack('<ii', data[18:26])
            return abs(w), abs(h)
        if data[:6] in (b'GIF87a', b'GIF89a'):
            return struct.unpack('<HH', data[6:10])
        if data[:4] == b'RIFF' and data[8:12] == b'WEBP':
            kind = data[12:16]
            if kind == b'VP8X':
                return (1 + int.from_bytes(data[24:27], 'little'),
                        1 + int.from_bytes(data[27:30], 'little'))
            if kind == b'VP8L':
                bits = int.from_bytes(data[21:25], 'little')
                return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
            if kind == b'VP8 ':
                w, h = struct.unpack('<HH', data[26:30])
                return w & 0x3FFF, h & 0x3FFF
        if data[:2] == b'\xff\xd8':
            i = 2
            while i + 9 < len(data):
                if data[i] != 0xFF:
                    return None
                marker = data[i + 1]
                if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                    i += 2
                    continue
                length = struct.unpack('>H', data[i + 2:i + 4])[0]
                if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                    h, w = struct.unpack('>HH', data[i + 5:i + 9])
                    return w, h
                i += 2 + length
    except struct.error:
        return None
    return None


def _tiff_size(data: bytes) -> Optional[Tuple[int, int]]:
    """(width, height) from a TIFF's first image directory (tags 256, 257)."""
    order = '<' if data[:2] == b'II' else '>'
    ifd = struct.unpack(order + 'I', data[4:8])[0]
    count = struct.unpack(order + 'H', data[ifd:ifd + 2])[0]
    size = {}
    for i in range(count):
        entry = data[ifd + 2 + 12 * i:ifd + 14 + 12 * i]
        tag, kind = struct.unpack(order + 'HH', entry[:4])
        if tag in (256, 257):  # SHORT (3) or LONG (4)
            size[tag] = struct.unpack(order + ('H' if kind == 3 else 'I'),
                                      entry[8:10] if kind == 3 else entry[8:12])[0]
    return (size[256], size[257]) if len(size) == 2 else None


def read_image(path: str) -> np.ndarray:
    """The image at ``path`` as BGR uint8 (H, W, 3), as mmcv decodes it;
    refused before decoding when it has more than :data:`MAX_PIXELS`."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise RuntimeInputError(f'image {path!r} cannot be read: {e.strerror or e}') from None
    check_pixels(path, header_size(data.tobytes()))  # (a JPEG's size may follow large metadata)
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except cv2.error as e:  # (e.g. over OpenCV's own limits in a format not read above)
        raise RuntimeInputError(f'image {path!r} cannot be decoded by OpenCV: '
                                f'{str(e).strip().splitlines()[-1]}') from None
    if image is None:
        raise RuntimeInputError(f'image {path!r} cannot be decoded: not an image OpenCV '
                                'reads (jpg, png, bmp, tiff, webp ...), or damaged')
    return image


def check_pixels(path: str, size: Optional[Tuple[int, int]]) -> None:
    """Refuse an image whose (width, height) has more than :data:`MAX_PIXELS`."""
    if size and size[0] * size[1] > MAX_PIXELS:
        raise RuntimeInputError(
            f'image {path!r} is {size[0]}x{size[1]} pixels, over the limit of {MAX_PIXELS} '
            '(a decompression bomb, or a scan far larger than a detector resizes to): '
            'downscale it first')


def resized_size(width: int, height: int, scale: Sequence[int], keep_ratio: bool
                 ) -> Tuple[int, int]:
    """(width, height) after mmdet's ``Resize``; refused where a side would be 0."""
    if keep_ratio:
        factor = min(max(scale) / max(height, width), min(scale) / min(height, width))
        size = (int(width * factor + 0.5), int(height * factor + 0.5))
    else:
        size = (int(scale[0]), int(scale[1]))
    if min(size) < 1:
        raise RuntimeInputError(
            f'an image of {width}x{height} pixels would be resized to {size[0]}x{size[1]} '
            f'(the deployed scale {tuple(scale)} keeps its aspect ratio): it is too thin to '
            'detect in; crop or pad it to a less extreme shape')
    return size


def resize(image: np.ndarray, scale: Sequence[int], keep_ratio: bool
           ) -> Tuple[np.ndarray, Tuple[float, float]]:
    """mmdet's ``Resize`` (mmcv ``imrescale``/``imresize``, bilinear):
    the resized image and its (w_scale, h_scale)."""
    h, w = image.shape[:2]
    size = resized_size(w, h, scale, keep_ratio)
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

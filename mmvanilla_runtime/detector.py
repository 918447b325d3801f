"""An artefact folder as a detector: images in, detections in original
image pixels out."""
from typing import Iterable, Iterator, List, Sequence, Tuple

import numpy as np

from .artefact import Artefact
from .engines import open_engine
from .errors import RuntimeInputError
from .masks import encode_rle, paste_mask
from .preprocess import prepare_batch, read_image, resized_size


class Detector:
    """``tools/deploy.py``'s output folder, run by ``engine`` on the CPU.

    Each detection is a dict: ``box`` (x1, y1, x2, y2), ``score``,
    ``label`` (class index), ``category`` (class name) and, for instance
    segmentation, ``mask`` (a bool array of the image's size).
    """

    def __init__(self, folder: str, engine: str = 'openvino'):
        self.artefact = Artefact.load(folder)
        self.run, names = open_engine(self.artefact.model, self.artefact.precision, engine)
        if names != self.artefact.outputs:
            raise RuntimeInputError(
                f'{self.artefact.model!r} has outputs {names}, its description '
                f'{self.artefact.outputs}: the folder mixes two deployments; run '
                'tools/deploy.py again')

    def raw_outputs(self, images: List[np.ndarray]):
        """The model's inputs and outputs for a batch of BGR images."""
        inputs = prepare_batch(images, self.artefact.preprocess)
        return inputs, self.run(inputs)

    @staticmethod
    def kept_rows(out: dict, i: int) -> np.ndarray:
        """Image ``i``'s real detection rows (score > 0), best first: the
        model's top-k order; the padding rows come after them."""
        return np.flatnonzero(out['scores'][i] > 0)

    def image_masks(self, out: dict, i: int, rows: np.ndarray, height: int,
                    width: int) -> np.ndarray:
        """(len(rows), height, width) bool masks of image ``i``'s ``rows``."""
        masks = [paste_mask(out['masks'][i][k], out['boxes'][i][k], height, width,
                            self.artefact.mask_threshold) for k in rows]
        return np.stack(masks) if masks else np.zeros((0, height, width), bool)

    def detect(self, images: List[np.ndarray]) -> List[List[dict]]:
        """Detections of each BGR uint8 image, best first."""
        _, out = self.raw_outputs(images)
        results = []
        for i, image in enumerate(images):
            rows = self.kept_rows(out, i)
            masks = (self.image_masks(out, i, rows, *image.shape[:2])
                     if self.artefact.with_masks else None)
            detections = []
            for n, k in enumerate(rows):
                label = int(out['labels'][i][k])
                if not 0 <= label < len(self.artefact.classes):
                    raise RuntimeInputError(f'the model gave class {label}; its description '
                                            f'names {len(self.artefact.classes)} classes')
                det = dict(box=out['boxes'][i][k].astype(float).tolist(),
                           score=float(out['scores'][i][k]), label=label,
                           category=self.artefact.classes[label])
                if masks is not None:
                    det['mask'] = masks[n]
                detections.append(det)
            results.append(detections)
        return results

    def detect_files(self, paths: Sequence[str], batch_size: int = 1
                     ) -> Iterator[Tuple[str, List[dict]]]:
        """(path, detections) per image file, ``batch_size`` images per run."""
        for start in range(0, len(paths), batch_size):
            chunk = paths[start:start + batch_size]
            images = [read_image(p) for p in chunk]
            resize = self.artefact.preprocess['resize']
            for path, image in zip(chunk, images):
                try:
                    resized_size(image.shape[1], image.shape[0], resize['scale'],
                                 resize['keep_ratio'])
                except RuntimeInputError as e:
                    raise RuntimeInputError(f'image {path!r}: {e}') from None
            yield from zip(chunk, self.detect(images))


def coco_entries(name: str, detections: Iterable[dict]) -> List[dict]:
    """JSON entries of the image called ``name``: ``file_name``, ``bbox`` [x, y, w, h],
    ``score``, ``category`` and, with masks, ``segmentation`` (COCO RLE)."""
    entries = []
    for det in detections:
        x1, y1, x2, y2 = det['box']
        entry = dict(file_name=name, bbox=[x1, y1, x2 - x1, y2 - y1],
                     score=det['score'], category=det['category'])
        if 'mask' in det:
            entry['segmentation'] = encode_rle(det['mask'])
        entries.append(entry)
    return entries

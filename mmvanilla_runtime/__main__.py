"""python -m mmvanilla_runtime OUT_DIR IMAGE_OR_FOLDER... --out results.json
[--engine openvino|onnxruntime] [--batch-size N]

Detect objects in images with an artefact folder of ``tools/deploy.py``; writes
one JSON list, one entry per detection (file_name, bbox [x, y, w, h] in the
image's pixels, score, category, and segmentation as COCO RLE for Mask R-CNN).
Needs no PyTorch or OpenMMLab package (mmvanilla_runtime/requirements.txt)."""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
from typing import List, Optional

from .detector import Detector, coco_entries
from .engines import ENGINES
from .errors import RuntimeInputError
from .preprocess import IMAGE_EXTENSIONS


def image_paths(args: List[str]) -> List[str]:
    """The image files named, folders expanded to their images (sorted)."""
    paths = []
    for arg in args:
        if osp.isdir(arg):
            found = sorted(osp.join(arg, n) for n in os.listdir(arg)
                           if n.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                raise RuntimeInputError(f'folder {arg!r} has no images '
                                        f'({", ".join(IMAGE_EXTENSIONS)})')
            paths += found
        elif osp.isfile(arg):
            paths.append(arg)
        else:
            raise RuntimeInputError(f'image {arg!r} not found')
    return paths


def write_json(path: str, entries: list) -> None:
    """Written beside ``path`` and renamed onto it: never half a file."""
    folder = osp.dirname(osp.abspath(path))
    fd, staged = tempfile.mkstemp(dir=folder, prefix='.tmp-', suffix='.json')
    try:
        with os.fdopen(fd, 'w') as f:
            json.dump(entries, f)
        os.replace(staged, path)
    except BaseException:
        os.unlink(staged)
        raise


def check_output(path: str) -> None:
    folder = osp.dirname(osp.abspath(path))
    if osp.isdir(path):
        raise RuntimeInputError(f'--out {path!r} is a folder: name a .json file')
    if not osp.isdir(folder):
        raise RuntimeInputError(f'--out {path!r}: folder {folder!r} does not exist')
    if not os.access(folder, os.W_OK):
        raise RuntimeInputError(f'--out {path!r}: folder {folder!r} is not writable')


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m mmvanilla_runtime', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('artefact', help='output folder of tools/deploy.py')
    parser.add_argument('images', nargs='+', help='image files or folders of images')
    parser.add_argument('--out', required=True, help='JSON file to write')
    parser.add_argument('--engine', choices=ENGINES, default='openvino')
    parser.add_argument('--batch-size', type=int, default=1)
    args = parser.parse_args(argv)
    try:
        if args.batch_size < 1:
            raise RuntimeInputError(f'--batch-size must be >= 1, got {args.batch_size}')
        check_output(args.out)
        paths = image_paths(args.images)
        detector = Detector(args.artefact, args.engine)
        entries = []
        for path, detections in detector.detect_files(paths, args.batch_size):
            entries += coco_entries(path, detections)
        write_json(args.out, entries)
    except RuntimeInputError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    except OSError as e:  # a folder that cannot be listed, a full disk, ...
        print(f'error: {e.filename or ""}: {e.strerror or e}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('interrupted: nothing written', file=sys.stderr)
        return 130
    print(f'{len(entries)} detections in {len(paths)} images: {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

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
from typing import List, Optional, Tuple

from .artefact import DESCRIPTION
from .detector import Detector, coco_entries
from .engines import ENGINES, bf16_note
from .errors import RuntimeInputError
from .failures import OneLineParser, run_main, write_failure
from .outputs import atomic_output, check_outputs
from .preprocess import IMAGE_EXTENSIONS


def safe_name(path: str) -> str:
    """``path`` as text that any JSON reader takes: bytes that are not UTF-8
    (kept by Python as surrogates) are written as ``\\xNN``."""
    return os.fsencode(path).decode('utf-8', 'backslashreplace')


def image_paths(args: List[str]) -> List[Tuple[str, str]]:
    """(path, name) of the image files named, folders expanded to their
    images (sorted); the name is the path relative to the argument's folder
    for a folder, the argument itself for a file, and unique."""
    paths = []
    for arg in args:
        if osp.isdir(arg):
            found = sorted(n for n in os.listdir(arg) if n.lower().endswith(IMAGE_EXTENSIONS)
                           and osp.isfile(osp.join(arg, n)))
            if not found:
                raise RuntimeInputError(f'folder {arg!r} has no images '
                                        f'({", ".join(IMAGE_EXTENSIONS)})')
            paths += [(osp.join(arg, n), n) for n in found]
        elif osp.isfile(arg):
            paths.append((arg, arg))
        else:
            raise RuntimeInputError(f'image {arg!r} not found')
    seen = {}
    for path, name in paths:
        if name in seen:
            raise RuntimeInputError(
                f'{seen[name]!r} and {path!r} would both be reported as file_name {name!r}: '
                'give each folder in its own run, or the files one by one')
        seen[name] = path
    return paths


def main(argv: Optional[List[str]] = None) -> int:
    """The command line's work; errors are raised (see :func:`run`)."""
    parser = OneLineParser(prog='python -m mmvanilla_runtime', description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter,
                           allow_abbrev=False)
    parser.add_argument('artefact', help='output folder of tools/deploy.py')
    parser.add_argument('images', nargs='+', help='image files or folders of images')
    parser.add_argument('--out', required=True, help='JSON file to write')
    parser.add_argument('--engine', choices=ENGINES, default='openvino')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--verbose', action='store_true',
                        help='on a failure, print its traceback too')
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        raise RuntimeInputError(f'--batch-size must be >= 1, got {args.batch_size}')
    paths = image_paths(args.images)
    artefact_files = [osp.join(args.artefact, n) for n in (DESCRIPTION, 'model.onnx')]
    check_outputs({'--out': args.out}, [p for p, _ in paths] + artefact_files, kind='.json')
    folder = osp.dirname(osp.abspath(args.out))
    if not osp.isdir(folder):
        raise RuntimeInputError(f'--out {args.out!r}: folder {folder!r} does not exist')
    if not os.access(folder, os.W_OK):
        raise RuntimeInputError(f'--out {args.out!r}: folder {folder!r} is not writable')
    detector = Detector(args.artefact, args.engine)
    note = bf16_note(detector.artefact.precision)
    if note:
        print(note, file=sys.stderr)
    names = dict(paths)
    entries = []
    for path, detections in detector.detect_files([p for p, _ in paths], args.batch_size):
        entries += coco_entries(safe_name(names[path]), detections)
    with atomic_output(args.out) as tmp, open(tmp, 'w') as f:
        json.dump(entries, f)
    print(f'{len(entries)} detections in {len(paths)} images: {args.out}')
    return 0


def translate(error: BaseException) -> Optional[str]:
    """The one line of a failure the user can act on; None for a bug."""
    if isinstance(error, RuntimeInputError):
        return str(error)
    if write_failure(error):
        return write_failure(error)
    if isinstance(error, OSError):  # a folder that cannot be listed, a file that vanished
        return f'{error.filename or ""}: {error.strerror or error}'
    if isinstance(error, MemoryError):
        return ('out of memory: use --batch-size 1, smaller images, or a machine with more '
                'memory')
    if isinstance(error, RecursionError):
        return 'an input is nested too deeply to be read'
    return None


def run(argv: Optional[List[str]] = None) -> int:
    """``python -m mmvanilla_runtime``: every failure is one ``error:`` line
    (exit status 2) with its traceback kept in a file (``--verbose``: shown)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    return run_main(main, argv, translate, own_errors=(RuntimeInputError,),
                    bugs_in_one_line=True, interrupted='interrupted: nothing written')


if __name__ == '__main__':
    sys.exit(run())

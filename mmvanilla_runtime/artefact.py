"""An artefact folder of ``tools/deploy.py``: ``model.onnx`` (or the file the
description names) and ``pipeline.json``, which says how images are prepared
for it and what its outputs mean. Model files and JSON only: loading one
runs no code of the artefact's."""
import hashlib
import json
import math
import os
import os.path as osp
import stat
from dataclasses import dataclass
from typing import Dict, List, Optional

from .errors import RuntimeInputError
from .onnx_external_data import external_locations
from .outputs import ARTEFACT_DESCRIPTION as DESCRIPTION

FORMAT = 'mmvanilla-end2end'
#: Bumped whenever inputs, outputs, pre-processing or the description change
#: meaning (2: content hashes of the model files and of the checkpoint).
FORMAT_VERSION = 2
PRECISIONS = ('fp32', 'bf16', 'int8')
INPUTS = ['input', 'image_shape', 'scale_factor']
OUTPUTS = ['boxes', 'scores', 'labels']
#: A description larger or more deeply nested than this is not one of ours.
MAX_DESCRIPTION_BYTES = 4 * 2**20
MAX_DEPTH = 6
MAX_SIDE = 16384  # a resize scale larger than this is no detector's
MAX_PAD_DIVISOR = 1024


def sha256_of(path: str, data: Optional[bytes] = None) -> str:
    """The SHA-256 of a file's content (of ``data`` where it was read already)."""
    if data is not None:
        return hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 24), b''):
            digest.update(block)
    return digest.hexdigest()


def _depth(node, limit: int) -> int:
    """How deep ``node`` nests, counted without recursion up to ``limit + 1``."""
    deepest, stack = 0, [(node, 1)]
    while stack and deepest <= limit:
        node, level = stack.pop()
        deepest = max(deepest, level)
        children = node.values() if isinstance(node, dict) else node \
            if isinstance(node, list) else ()
        stack.extend((child, level + 1) for child in children)
    return deepest


def _number(value, low=-math.inf, high=math.inf) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) and low <= value <= high


def _sha(value) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(
        c in '0123456789abcdef' for c in value)


def schema_problems(desc: dict) -> List[str]:
    """What in a description is not this format's: ``key: what it must be``
    (empty for a valid one). One schema, checked when tools/deploy.py writes
    a description and when the runtime loads it."""
    problems = []

    def need(ok: bool, key: str, what: str) -> None:
        if not ok:
            problems.append(f'{key} must be {what}, got {_short(desc, key)}')
    if not isinstance(desc, dict):
        return [f'the description must be a JSON object, got {type(desc).__name__}']
    if _depth(desc, MAX_DEPTH) > MAX_DEPTH:
        return [f'the description is nested more than {MAX_DEPTH} levels deep']
    need(isinstance(desc.get('model'), str) and osp.basename(desc['model']) == desc['model']
         and desc['model'].endswith('.onnx'), 'model', 'an .onnx file name in the folder')
    files = desc.get('files')
    need(isinstance(files, dict) and desc.get('model') in files and all(
        isinstance(k, str) and osp.basename(k) == k and _sha(v) for k, v in files.items()),
        'files', 'the SHA-256 of the model and of each external-data file, by name')
    need(desc.get('precision') in PRECISIONS, 'precision', f'one of {PRECISIONS}')
    producer = desc.get('producer')
    need(isinstance(producer, dict) and (producer.get('checkpoint_sha256') is None or _sha(
        producer['checkpoint_sha256'])), 'producer.checkpoint_sha256',
        'the SHA-256 of the checkpoint deployed (null: initialised weights)')
    need(desc.get('inputs') == INPUTS, 'inputs', str(INPUTS))
    outputs = desc.get('outputs')
    need(outputs in (OUTPUTS, OUTPUTS + ['masks']), 'outputs',
         f'{OUTPUTS} (+ masks for instance segmentation)')
    classes = desc.get('classes')
    need(isinstance(classes, list) and 1 <= len(classes) <= 100000 and all(
        isinstance(c, str) and 0 < len(c) <= 200 for c in classes), 'classes',
        'a list of names (1 to 100000 non-empty strings)')
    if outputs == OUTPUTS + ['masks']:
        need(_number(desc.get('mask_threshold'), 0, 1), 'mask_threshold', 'a number in [0, 1]')
    problems += preprocess_problems(desc.get('preprocess'))
    return problems


def preprocess_problems(p) -> List[str]:
    """The schema's part for ``preprocess``: what breaks it (empty if nothing)."""
    problems = []

    def need(ok: bool, key: str, what: str) -> None:
        if not ok:
            problems.append(f'{key} must be {what}, got {_short(dict(preprocess=p), key)}')
    if not isinstance(p, dict) or not isinstance(p.get('resize'), dict):
        return ['preprocess.resize must be an object']
    resize = p['resize']
    need(isinstance(resize.get('scale'), list) and len(resize['scale']) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_SIDE
        for v in resize['scale']), 'preprocess.resize.scale',
        f'[width, height], whole pixels in [1, {MAX_SIDE}]')
    need(isinstance(resize.get('keep_ratio'), bool), 'preprocess.resize.keep_ratio',
         'true or false')
    need(resize.get('interpolation', 'bilinear') == 'bilinear',
         'preprocess.resize.interpolation', "'bilinear'")
    need(isinstance(p.get('to_rgb'), bool), 'preprocess.to_rgb', 'true or false')
    for key, low in (('mean', -1e4), ('std', 1e-6)):
        values = p.get(key)
        need(isinstance(values, list) and len(values) == 3 and all(
            _number(v, low, 1e4) for v in values), f'preprocess.{key}',
            f'3 finite numbers in [{low:g}, 10000]')
    need(isinstance(p.get('pad_size_divisor'), int) and not isinstance(
        p.get('pad_size_divisor'), bool) and 1 <= p['pad_size_divisor'] <= MAX_PAD_DIVISOR,
        'preprocess.pad_size_divisor', f'a whole number in [1, {MAX_PAD_DIVISOR}]')
    need(_number(p.get('pad_value'), -1e4, 1e4), 'preprocess.pad_value',
         'a finite number in [-10000, 10000]')
    return problems


def _short(desc: dict, key: str) -> str:
    node = desc
    for part in key.split('.'):
        node = node.get(part) if isinstance(node, dict) else None
    return repr(node)[:60]


def check_description(desc: dict, where: str,
                      fix: str = 'the description is damaged or not from this mmvanilla; '
                      'run tools/deploy.py again') -> None:
    """One :class:`RuntimeInputError` naming the first key that breaks the schema."""
    problems = schema_problems(desc)
    if problems:
        more = f' (and {len(problems) - 1} more)' if len(problems) > 1 else ''
        raise RuntimeInputError(f'{where}: {problems[0]}{more}: {fix}')


def read_description(folder: str) -> dict:
    """``folder``'s ``pipeline.json``, read and checked against the schema
    (the model files are not read: see :meth:`Artefact.load`)."""
    path = osp.join(folder, DESCRIPTION)
    if not osp.isdir(folder):
        raise RuntimeInputError(f'artefact folder {folder!r} not found: make one with '
                                'tools/deploy.py CONFIG CHECKPOINT OUT_DIR')
    if not osp.isfile(path):
        raise RuntimeInputError(f'{folder!r} has no {DESCRIPTION}: it is not (or not a '
                                'complete) tools/deploy.py output folder; run '
                                'tools/deploy.py again')
    if osp.getsize(path) > MAX_DESCRIPTION_BYTES:
        raise RuntimeInputError(f'{path!r} is {osp.getsize(path)} bytes, over the '
                                f'{MAX_DESCRIPTION_BYTES} a description can have: not one '
                                'of tools/deploy.py\'s; run it again')
    try:
        with open(path, 'rb') as f:
            desc = json.loads(f.read().decode('utf-8'))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        reason = 'nested too deeply' if isinstance(e, RecursionError) else e
        raise RuntimeInputError(f'{path!r} is not readable JSON ({reason}): run '
                                'tools/deploy.py again') from None
    if not isinstance(desc, dict) or desc.get('format') != FORMAT:
        raise RuntimeInputError(f'{path!r} does not describe an {FORMAT} model')
    version = desc.get('format_version')
    if version != FORMAT_VERSION:
        raise RuntimeInputError(
            f'{path!r} is format version {version!r}; this runtime reads version '
            f'{FORMAT_VERSION}: deploy it again with this mmvanilla, or use the '
            'runtime of the mmvanilla that made it')
    check_description(desc, path)
    return desc


@dataclass
class Artefact:
    """A checked artefact folder: its model's path and its description."""
    folder: str
    model: str
    precision: str
    classes: List[str]
    preprocess: dict
    outputs: List[str]
    mask_threshold: Optional[float]
    description: dict

    @property
    def with_masks(self) -> bool:
        return 'masks' in self.outputs

    @classmethod
    def load(cls, folder: str) -> 'Artefact':
        """Read and check ``folder``: the description against the schema,
        every model file against its hash; one :class:`RuntimeInputError`
        per problem."""
        desc = read_description(folder)
        model = osp.join(folder, desc['model'])
        check_model_files(model, desc['files'])
        return cls(folder=folder, model=model, precision=desc['precision'],
                   classes=list(desc['classes']), preprocess=dict(desc['preprocess']),
                   outputs=list(desc['outputs']), mask_threshold=desc.get('mask_threshold'),
                   description=desc)


def _regular_file(path: str, what: str) -> None:
    """``path`` must be a regular file itself (not a link, a device or a fifo)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise RuntimeInputError(f'{osp.dirname(path)!r} lacks its {what} '
                                f'{osp.basename(path)!r}: the folder is incomplete; copy it '
                                'whole, or run tools/deploy.py again') from None
    if not stat.S_ISREG(mode):
        kind = 'a symbolic link' if stat.S_ISLNK(mode) else 'not a regular file'
        raise RuntimeInputError(f'{what} {path!r} is {kind}: an artefact\'s files must be '
                                'regular files in its folder; copy the files themselves '
                                '(cp -L)')


def model_files(model_path: str, data: bytes) -> Dict[str, str]:
    """{file name: path} of the model and its external-data files, which must
    all be regular files in the model's folder."""
    folder = osp.realpath(osp.dirname(model_path))
    try:
        locations = external_locations(data)
    except ValueError as e:
        raise RuntimeInputError(f'{model_path!r} is not an ONNX model ({e}): the file is '
                                'damaged or not from tools/deploy.py') from None
    files = {osp.basename(model_path): model_path}
    for location in locations:
        target = osp.join(folder, location)
        if osp.isabs(location) or osp.dirname(osp.normpath(location)) \
                or osp.realpath(target) != osp.normpath(target):
            raise RuntimeInputError(
                f'{model_path!r} refers to external data {location!r} outside its folder: '
                'refused (a model may only read files beside it)')
        if not osp.lexists(target):
            raise RuntimeInputError(f'{model_path!r} needs its external data file '
                                    f'{location!r}, which is missing: copy the folder whole')
        _regular_file(target, 'external data file')
        files[location] = target
    return files


def read_model(model_path: str) -> bytes:
    """The model file's bytes (a regular file in its folder)."""
    _regular_file(model_path, 'model file')
    try:
        with open(model_path, 'rb') as f:
            return f.read()
    except OSError as e:
        raise RuntimeInputError(f'{model_path!r} cannot be read: {e.strerror or e}') from None


def file_hashes(model_path: str) -> Dict[str, str]:
    """{name: SHA-256} of the model and its external data, for the description."""
    data = read_model(model_path)
    return {name: sha256_of(path, data if path == model_path else None)
            for name, path in model_files(model_path, data).items()}


def check_model_files(model_path: str, expected: Dict[str, str]) -> None:
    """The model and its external data are the files the description was
    written with, byte for byte (not another deployment's, not damaged)."""
    data = read_model(model_path)
    name = osp.basename(model_path)
    if sha256_of(model_path, data) != expected.get(name):  # before parsing a damaged file
        _differs(model_path)
    found = model_files(model_path, data)
    if set(found) != set(expected):
        raise RuntimeInputError(
            f'{model_path!r} uses the files {sorted(found)}, its description names '
            f'{sorted(expected)}: the folder mixes two deployments; run tools/deploy.py again')
    for name, path in found.items():
        if path != model_path and sha256_of(path) != expected[name]:
            _differs(path)


def _differs(path: str) -> None:
    raise RuntimeInputError(
        f'{path!r} is not the file {DESCRIPTION} describes (its SHA-256 differs): the folder '
        'mixes two deployments, or the file was damaged; run tools/deploy.py again')

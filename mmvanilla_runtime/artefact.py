"""An artefact folder of ``tools/deploy.py``: ``model.onnx`` (or the file the
description names) and ``pipeline.json``, which says how images are prepared
for it and what its outputs mean. Model files and JSON only: loading one
runs no code of the artefact's."""
import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional

from .errors import RuntimeInputError
from .onnx_external_data import external_locations

DESCRIPTION = 'pipeline.json'
FORMAT = 'mmvanilla-end2end'
#: Bumped whenever inputs, outputs or pre-processing change meaning.
FORMAT_VERSION = 1
PRECISIONS = ('fp32', 'bf16', 'int8')
INPUTS = ['input', 'image_shape', 'scale_factor']


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
        """Read and check ``folder``; one :class:`RuntimeInputError` per problem."""
        path = osp.join(folder, DESCRIPTION)
        if not osp.isdir(folder):
            raise RuntimeInputError(f'artefact folder {folder!r} not found: make one with '
                                    'tools/deploy.py CONFIG CHECKPOINT OUT_DIR')
        if not osp.isfile(path):
            raise RuntimeInputError(f'{folder!r} has no {DESCRIPTION}: it is not (or not a '
                                    'complete) tools/deploy.py output folder; run '
                                    'tools/deploy.py again')
        try:
            with open(path) as f:
                desc = json.load(f)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RuntimeInputError(f'{path!r} is not readable JSON ({e}): run '
                                    'tools/deploy.py again') from None
        if not isinstance(desc, dict) or desc.get('format') != FORMAT:
            raise RuntimeInputError(f'{path!r} does not describe an {FORMAT} model')
        version = desc.get('format_version')
        if version != FORMAT_VERSION:
            raise RuntimeInputError(
                f'{path!r} is format version {version!r}; this runtime reads version '
                f'{FORMAT_VERSION}: deploy it again with this mmvanilla, or use the '
                'runtime of the mmvanilla that made it')
        try:
            artefact = cls(folder=folder, model=_model_path(folder, desc['model']),
                           precision=desc['precision'], classes=list(desc['classes']),
                           preprocess=dict(desc['preprocess']), outputs=list(desc['outputs']),
                           mask_threshold=desc.get('mask_threshold'), description=desc)
            _check_preprocess(artefact.preprocess)
            if not isinstance(desc['classes'], list) or not artefact.classes \
                    or not all(isinstance(c, str) for c in artefact.classes):
                raise ValueError('classes must be a list of names')
            if 'masks' in artefact.outputs:
                float(artefact.mask_threshold)
        except (KeyError, TypeError, ValueError) as e:
            raise RuntimeInputError(f'{path!r} is incomplete or malformed ({e!r}): run '
                                    'tools/deploy.py again') from None
        if artefact.precision not in PRECISIONS:
            raise RuntimeInputError(f'{path!r}: unknown precision {artefact.precision!r}')
        if desc.get('inputs') != INPUTS or artefact.outputs[:3] != ['boxes', 'scores', 'labels']:
            raise RuntimeInputError(f'{path!r}: inputs {desc.get("inputs")} / outputs '
                                    f'{artefact.outputs} are not this format\'s')
        check_model_size(artefact)
        return artefact


def _model_path(folder: str, name: str) -> str:
    if not isinstance(name, str) or osp.basename(name) != name or not name.endswith('.onnx'):
        raise ValueError(f'model must be an .onnx file name in the folder, got {name!r}')
    path = osp.join(folder, name)
    if not osp.isfile(path):
        raise RuntimeInputError(f'{folder!r} lacks its model file {name!r}: the folder is '
                                'incomplete; copy it whole, or run tools/deploy.py again')
    check_external_data(path)
    return path


def check_model_size(artefact: 'Artefact') -> None:
    """Refuse a model file that is not the one its description was written
    with (a folder half-replaced by another deployment)."""
    expected = artefact.description.get('model_bytes')
    if expected is not None and osp.getsize(artefact.model) != expected:
        raise RuntimeInputError(
            f'{artefact.model!r} ({osp.getsize(artefact.model)} bytes) is not the model '
            f'{DESCRIPTION} describes ({expected} bytes): the folder mixes two deployments; '
            'run tools/deploy.py again')


def check_external_data(model_path: str) -> None:
    """Refuse a model whose external-data files lie outside its folder."""
    folder = osp.realpath(osp.dirname(model_path))
    try:
        with open(model_path, 'rb') as f:
            data = f.read()
    except OSError as e:
        raise RuntimeInputError(f'{model_path!r} cannot be read: {e.strerror or e}') from None
    try:
        locations = external_locations(data)
    except ValueError as e:
        raise RuntimeInputError(f'{model_path!r} is not an ONNX model ({e}): the file is '
                                'damaged or not from tools/deploy.py') from None
    for location in locations:
        target = osp.realpath(osp.join(folder, location))
        if osp.isabs(location) or os.path.commonpath([folder, target]) != folder:
            raise RuntimeInputError(
                f'{model_path!r} refers to external data {location!r} outside its folder: '
                'refused (a model may only read files beside it)')
        if not osp.isfile(target):
            raise RuntimeInputError(f'{model_path!r} needs its external data file '
                                    f'{location!r}, which is missing: copy the folder whole')


def _check_preprocess(p: dict) -> None:
    resize = p['resize']
    if len(resize['scale']) != 2 or resize.get('interpolation', 'bilinear') != 'bilinear' \
            or not isinstance(resize['keep_ratio'], bool) or not isinstance(p['to_rgb'], bool):
        raise ValueError(f'resize {resize}')
    [float(v) for v in list(resize['scale']) + list(p['mean']) + list(p['std'])]
    float(p['pad_value'])
    if len(p['mean']) != 3 or len(p['std']) != 3 or int(p['pad_size_divisor']) < 1:
        raise ValueError('mean/std/pad_size_divisor')

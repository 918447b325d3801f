"""Put a fused detector into the precision it is deployed in."""
import os.path as osp
from typing import Dict, Optional, Tuple

import torch
from mmengine.config import Config
from torch import nn

from mmvanilla.deploy.precision import DESCRIPTIONS
from mmvanilla.deploy.reduced_precision import to_reduced_precision
from mmvanilla.utils.errors import ConfigError

#: Config key, written by tools/quantize.py: the INT8 artefact folder
#: (model.onnx and pipeline.json), relative to the config file.
INT8_ARTEFACT_KEY = 'int8_artefact'


def int8_artefact_path(cfg: Config) -> str:
    """The config's INT8 artefact folder, or one message saying how to make one."""
    path = cfg.get(INT8_ARTEFACT_KEY)
    if not path:
        older = ' (its int8_model key is from an older tools/quantize.py)' \
            if cfg.get('int8_model') else ''
        raise ConfigError(
            f'--precision int8 runs the INT8 artefact that tools/quantize.py makes{older}: '
            'run tools/quantize.py CONFIG CHECKPOINT OUT_DIR, then use OUT_DIR/config.py '
            'and OUT_DIR/fused.pth')
    base = osp.dirname(osp.abspath(cfg.filename)) if cfg.filename else '.'
    full = osp.normpath(osp.join(base, path))
    if not osp.isdir(full):
        raise ConfigError(f'the config\'s INT8 artefact {INT8_ARTEFACT_KEY}={path!r} (relative '
                          f'to the config\'s folder) is not at {full!r}: keep '
                          'tools/quantize.py\'s output folder together, or run it again')
    return full


def apply_precision(model: nn.Module, precision: str,
                    int8_artefact: Optional[str] = None) -> Tuple[nn.Module, Dict[str, str]]:
    """``model`` (fused) to run in ``precision``: (the model to run, what runs
    in which precision, for logs and JSON). bf16/fp16 cast ``model`` in place;
    int8 wraps it around the INT8 artefact (:class:`DeployedDetector`)."""
    info = dict(precision=precision, runs=DESCRIPTIONS[precision])
    if precision in ('bf16', 'fp16'):
        to_reduced_precision(model, torch.bfloat16 if precision == 'bf16' else torch.float16)
    elif precision == 'int8':
        from mmvanilla.deploy.deployed_detector import DeployedDetector
        if not int8_artefact:
            raise ConfigError('--precision int8 needs the INT8 artefact of tools/quantize.py')
        model = DeployedDetector(model, int8_artefact)
        info.update(int8_artefact=int8_artefact)
    return model, info

"""Put a fused detector into the precision it is deployed in."""
import os.path as osp
from typing import Dict, Optional

import torch
from mmengine.config import Config
from torch import nn

from mmvanilla.deploy.precision import DESCRIPTIONS
from mmvanilla.deploy.reduced_precision import to_reduced_precision
from mmvanilla.utils.errors import ConfigError

#: Config key, written by tools/quantize.py: the INT8 network (QDQ ONNX), relative
#: to the config file.
INT8_MODEL_KEY = 'int8_model'


def int8_model_path(cfg: Config) -> str:
    """The config's INT8 network, or one message saying how to make one."""
    path = cfg.get(INT8_MODEL_KEY)
    if not path:
        raise ConfigError(
            '--precision int8 runs the INT8 network that tools/quantize.py makes: run '
            'tools/quantize.py CONFIG CHECKPOINT OUT_DIR, then use OUT_DIR/config.py '
            'and OUT_DIR/fused.pth')
    base = osp.dirname(osp.abspath(cfg.filename)) if cfg.filename else '.'
    full = osp.normpath(osp.join(base, path))
    if not osp.isfile(full):
        raise ConfigError(f'the config\'s INT8 network {INT8_MODEL_KEY}={path!r} (relative '
                          f'to the config\'s folder) is not at {full!r}: keep '
                          'tools/quantize.py\'s output folder together, or run it again')
    return full


def apply_precision(model: nn.Module, precision: str,
                    int8_model: Optional[str] = None) -> Dict[str, str]:
    """Run ``model`` (fused) in ``precision`` from now on, in place; returns
    what runs in which precision, for logs and JSON."""
    info = dict(precision=precision, runs=DESCRIPTIONS[precision])
    if precision in ('bf16', 'fp16'):
        to_reduced_precision(model, torch.bfloat16 if precision == 'bf16' else torch.float16)
    elif precision == 'int8':
        from mmvanilla.deploy.openvino_network import use_openvino_network
        if not int8_model:
            raise ConfigError('--precision int8 needs the INT8 network of tools/quantize.py')
        network = use_openvino_network(model, int8_model)
        info.update(int8_model=int8_model,
                    openvino_other_ops_precision=network.inference_precision())
    return info

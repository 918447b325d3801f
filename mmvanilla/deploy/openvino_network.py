"""Run a detector's network with OpenVINO (e.g. the INT8 QDQ ONNX model made
by ``tools/quantize.py``), keeping mmdet's post-processing."""
import os.path as osp
from typing import Tuple

import numpy as np
import torch
from torch import Tensor, nn

from mmvanilla.deploy.network import check_single_stage
from mmvanilla.utils.errors import ConfigError


def import_openvino():
    """``openvino``, or one message saying how to install it."""
    try:
        import openvino
    except ImportError:
        raise ConfigError('OpenVINO is not installed: pip install -e ".[deploy]" '
                          '(tools/setup_env.sh installs it)') from None
    return openvino


class OpenVINONetwork(nn.Module):
    """A model file OpenVINO reads (ONNX, or IR ``.xml``) as a module: image
    batch in, the flat tuple of :class:`DetectorNetwork`'s head outputs out,
    on CPU, with OpenVINO's default settings."""

    def __init__(self, path: str):
        super().__init__()
        if not osp.isfile(path):
            raise ConfigError(f'INT8 network {path!r} not found: make it with '
                              'tools/quantize.py CONFIG CHECKPOINT OUT_DIR')
        ov = import_openvino()
        self.path = path
        self.compiled = ov.Core().compile_model(path, 'CPU')
        self.request = self.compiled.create_infer_request()

    def inference_precision(self) -> str:
        """What OpenVINO runs the non-quantized operations in on this CPU."""
        return self.compiled.get_property('INFERENCE_PRECISION_HINT').to_string()

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        results = self.request.infer([np.ascontiguousarray(x.detach().float().numpy())])
        return tuple(torch.from_numpy(np.array(results[out]))
                     for out in self.compiled.outputs)


def use_openvino_network(model: nn.Module, path: str) -> OpenVINONetwork:
    """Make ``model`` (a single-stage detector) compute its head outputs with
    OpenVINO running ``path``; its post-processing (``predict_by_feat``) is
    unchanged.

    The backbone becomes the OpenVINO network, the neck is dropped and the
    head's ``forward`` regroups the flat outputs into its per-kind lists.
    """
    check_single_stage(model, '--precision int8')
    network = OpenVINONetwork(path)
    head = model.bbox_head
    num_levels = len(head.prior_generator.strides)
    if len(network.compiled.outputs) % num_levels:
        raise ConfigError(
            f'INT8 network {path!r} has {len(network.compiled.outputs)} outputs, '
            f'not a multiple of the head\'s {num_levels} levels: it was made for '
            'another detector; run tools/quantize.py with this config')
    model.backbone = network
    model.neck = None

    def regroup(flat: Tuple[Tensor, ...]):
        return tuple(list(flat[i:i + num_levels]) for i in range(0, len(flat), num_levels))
    head.forward = regroup
    return network

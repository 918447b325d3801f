"""Run a detector's network through an OpenVINO model (e.g. the INT8 one
made by ``tools/quantize.py``), keeping mmdet's post-processing."""
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
    """An OpenVINO model (IR ``.xml``) as a module: image batch in, the flat
    tuple of head outputs of :class:`DetectorNetwork` out, on CPU."""

    def __init__(self, xml_path: str):
        super().__init__()
        if not osp.isfile(xml_path):
            raise ConfigError(f'OpenVINO model {xml_path!r} not found: make it with '
                              'tools/quantize.py CONFIG CHECKPOINT OUT_DIR')
        ov = import_openvino()
        self.xml_path = xml_path
        core = ov.Core()
        self.compiled = core.compile_model(core.read_model(xml_path), 'CPU')
        self.request = self.compiled.create_infer_request()

    def inference_precision(self) -> str:
        """What OpenVINO runs the non-quantized operations in on this CPU."""
        return str(self.compiled.get_property('INFERENCE_PRECISION_HINT'))

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        results = self.request.infer([np.ascontiguousarray(x.detach().float().numpy())])
        return tuple(torch.from_numpy(np.array(results[out]))
                     for out in self.compiled.outputs)


def use_openvino_network(model: nn.Module, xml_path: str) -> OpenVINONetwork:
    """Make ``model`` (a single-stage detector) compute its head outputs with
    the OpenVINO model; its post-processing (``predict_by_feat``) is unchanged.

    The backbone becomes the OpenVINO network, the neck is dropped and the
    head's ``forward`` regroups the flat outputs into its per-kind lists.
    """
    check_single_stage(model, '--precision int8')
    network = OpenVINONetwork(xml_path)
    head = model.bbox_head
    num_levels = len(head.prior_generator.strides)
    if len(network.compiled.outputs) % num_levels:
        raise ConfigError(
            f'OpenVINO model {xml_path!r} has {len(network.compiled.outputs)} outputs, '
            f'not a multiple of the head\'s {num_levels} levels: it was made for '
            'another detector; run tools/quantize.py with this config')
    model.backbone = network
    model.neck = None

    def regroup(flat: Tuple[Tensor, ...]):
        return tuple(list(flat[i:i + num_levels]) for i in range(0, len(flat), num_levels))
    head.forward = regroup
    return network

"""A network file that OpenVINO reads, as a torch module: the benchmarks
compare engines on the same network with it (deployed detectors run their
whole end-to-end artefact instead: :mod:`mmvanilla.deploy.deployed_detector`)."""
import os.path as osp
from typing import Tuple

import numpy as np
import torch
from torch import Tensor, nn

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
            raise ConfigError(f'network {path!r} not found')
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

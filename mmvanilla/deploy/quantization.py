"""INT8 post-training quantization of a fused single-stage detector's network
with NNCF, for OpenVINO (why this engine: docs/benchmarks.md, "INT8")."""
import os
import os.path as osp
import tempfile
import warnings
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from mmvanilla.deploy.network import DetectorNetwork
from mmvanilla.deploy.openvino_network import import_openvino
from mmvanilla.utils.errors import ConfigError


def export_onnx(network: nn.Module, example: Tensor, path: str, opset: int = 17) -> None:
    """``network`` to ONNX with dynamic batch, height and width."""
    with torch.no_grad(), warnings.catch_warnings():
        # The backbone's input-size check is a Python branch: traced as a
        # constant, which is what a deployed network wants.
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        torch.onnx.export(network.eval(), (example,), path, dynamo=False,
                          opset_version=opset, input_names=['input'],
                          dynamic_axes={'input': {0: 'batch', 2: 'height', 3: 'width'}})


def quantize_detector(model: nn.Module, indices: Sequence[int],
                      load: Callable[[int], Tensor], xml_path: str) -> None:
    """Quantize ``model``'s network (fused detector, up to post-processing) to
    INT8 and save it as OpenVINO IR at ``xml_path`` (and its ``.bin``).

    NNCF's default preset: symmetric INT8 weights (per channel) and
    activations, statistics from the ``indices`` inputs that ``load`` makes,
    then bias correction.
    """
    ov = import_openvino()
    try:
        import nncf
    except ImportError:
        raise ConfigError('NNCF is not installed: pip install -e ".[deploy]" '
                          '(tools/setup_env.sh installs it)') from None
    network = DetectorNetwork(model)
    example = load(indices[0])
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = osp.join(tmp, 'network.onnx')
        export_onnx(network, example, onnx_path)
        fp32 = ov.Core().read_model(onnx_path)
        dataset = nncf.Dataset(list(indices), lambda i: load(i).numpy())
        quantized = nncf.quantize(fp32, dataset, subset_size=len(indices))
    directory = osp.dirname(osp.abspath(xml_path))
    with tempfile.TemporaryDirectory(dir=directory, prefix='.tmp-') as tmp:
        staged = osp.join(tmp, osp.basename(xml_path))
        # compress_to_fp16=False: keep the fp32 constants (biases, scales) exact.
        ov.save_model(quantized, staged, compress_to_fp16=False)
        bin_name = osp.splitext(osp.basename(xml_path))[0] + '.bin'
        os.replace(osp.join(tmp, bin_name), osp.join(directory, bin_name))
        os.replace(staged, xml_path)  # the .xml last: a present .xml has its .bin

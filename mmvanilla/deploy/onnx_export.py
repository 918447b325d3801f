"""A fused network to ONNX, as ``tools/export_onnx.py`` and INT8 quantization
export it: one input named ``input``, dynamic batch, height and width."""
import warnings

import torch
from torch import Tensor, nn


def export_onnx(network: nn.Module, example: Tensor, path: str, opset: int = 17) -> None:
    """``network`` to ONNX with dynamic batch, height and width."""
    with torch.no_grad(), warnings.catch_warnings():
        # The backbone's input-size check is a Python branch: traced as a
        # constant, which is what a deployed network wants.
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        torch.onnx.export(network.eval(), (example,), path, dynamo=False,
                          opset_version=opset, input_names=['input'],
                          dynamic_axes={'input': {0: 'batch', 2: 'height', 3: 'width'}})

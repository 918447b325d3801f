"""The one place mmvanilla calls ``torch.onnx.export``: the end-to-end
artefact (:mod:`mmvanilla.deploy.artefact`) and the network-only graphs of
``tools/deploy.py --graph network|backbone`` both go through it."""
import warnings
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

#: RoiAlign's half-pixel mode needs >= 16
OPSET = 17
#: the one input of a network-only graph, batch, height and width dynamic
IMAGE_AXES = {'input': {0: 'batch', 2: 'height', 3: 'width'}}


def export_onnx(module: nn.Module, args: Tuple[Tensor, ...], path: str,
                input_names: Sequence[str], output_names: Optional[Sequence[str]] = None,
                dynamic_axes: Optional[Dict[str, Dict[int, str]]] = None) -> None:
    """``module`` traced on ``args`` to ONNX at ``path`` (opset :data:`OPSET`)."""
    with torch.no_grad(), warnings.catch_warnings():
        # Python branches on shapes (the backbone's size check) are traced as
        # constants, which is what a deployed graph wants.
        warnings.simplefilter('ignore')
        torch.onnx.export(module.eval(), args, path, dynamo=False, opset_version=OPSET,
                          input_names=list(input_names),
                          output_names=list(output_names) if output_names else None,
                          dynamic_axes=dynamic_axes)


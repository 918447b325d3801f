"""Run a detector's network in bf16 (CPU) or fp16 (CUDA).

The backbone, the neck and the dense head (RetinaNet's head, or a two-stage
detector's RPN head) are cast to ``dtype`` in channels-last layout, where
oneDNN's bf16 convolutions are fastest (a fused VanillaNet on CPU runs its
oneDNN plan in bf16 where oneDNN has bf16); forward pre-hooks cast what enters
them. The neck's and the head's outputs are cast back to fp32 by forward
hooks, so mmdet's post-processing (box decoding, NMS) and a two-stage
detector's RoI heads run in fp32, as they do in fp32 models. Each runs under
``torch.autocast`` too, for the tensors a module makes itself in fp32.
"""
import types
from typing import List

import torch
from torch import nn


def _to_float(tensors):
    if isinstance(tensors, torch.Tensor):
        # back to fp32 and to the default (NCHW) layout: mmcv's RoIAlign
        # reads its input as contiguous NCHW, and a channels-last map gave a
        # two-stage detector's RoI heads scrambled features (AP 0.001)
        return tensors.float().contiguous() if tensors.is_floating_point() else tensors
    if isinstance(tensors, (list, tuple)):
        return type(tensors)(_to_float(t) for t in tensors)
    return tensors


def _cast_inputs(dtype: torch.dtype):
    def cast(tensors):
        if isinstance(tensors, torch.Tensor) and tensors.is_floating_point():
            return tensors.to(dtype).contiguous(memory_format=torch.channels_last)
        if isinstance(tensors, (list, tuple)):
            return type(tensors)(cast(t) for t in tensors)
        return tensors

    def hook(module, args):
        return tuple(cast(a) for a in args)
    return hook


def _cast_outputs_to_float(module, args, output):
    return _to_float(output)


def reduced_precision_modules(model: nn.Module) -> List[nn.Module]:
    """The modules :func:`to_reduced_precision` casts: backbone, neck, dense head."""
    head = model.bbox_head if hasattr(model, 'bbox_head') else getattr(model, 'rpn_head', None)
    return [m for m in (model.backbone, getattr(model, 'neck', None), head)
            if m is not None]


def _forward_in_autocast(self, *args, **kwargs):
    """The module's own forward under ``torch.autocast`` to its reduced dtype."""
    weight = next(self.parameters(), None)
    with torch.autocast(weight.device.type if weight is not None else 'cpu',
                        dtype=self.reduced_dtype):
        return type(self).forward(self, *args, **kwargs)


def _autocast(module: nn.Module, dtype: torch.dtype) -> None:
    """Run ``module``'s forward under ``torch.autocast`` to ``dtype`` on its
    device: what the module makes itself in fp32 (mmdet's Swin adds an fp32
    attention mask to bf16 scores) still meets bf16 weights in bf16. (A bound
    method: a deep copy of the module runs its own weights.)"""
    module.reduced_dtype = dtype
    module.forward = types.MethodType(_forward_in_autocast, module)


def to_reduced_precision(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Cast ``model``'s network (see module doc) to ``dtype``, in place."""
    modules = reduced_precision_modules(model)
    for module in modules:
        module.to(dtype=dtype, memory_format=torch.channels_last)
        module.register_forward_pre_hook(_cast_inputs(dtype))
        _autocast(module, dtype)
    for module in modules[1:]:  # the neck's and head's outputs (not the backbone's)
        module.register_forward_hook(_cast_outputs_to_float)
    return model

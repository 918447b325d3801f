"""Run a fused VanillaNet on CPU in oneDNN's blocked layout, weights packed once.

Through ``nn.Conv2d`` every call re-lays out each weight (~200 MB for VN-11)
and converts every activation to and from oneDNN's blocked layout. A plan packs
the weights once and keeps activations blocked from the stem to the last
block, converting back only the emitted maps. Same arithmetic, same results.
Off with ``MMVANILLA_ONEDNN=0``.
"""
import os
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmvanilla.utils import cpu


def onednn_enabled(x: Tensor) -> bool:
    """Use a plan for this input? CPU fp32, or bf16 (``--precision bf16``)
    where oneDNN runs it; no autograd, no tracing/export."""
    return (x.device.type == 'cpu'
            and (x.dtype == torch.float32
                 or (x.dtype == torch.bfloat16 and cpu.onednn_runs_bf16()))
            and not torch.is_grad_enabled()
            and torch.backends.mkldnn.is_available()
            and os.environ.get('MMVANILLA_ONEDNN', '1') != '0'
            and not torch.jit.is_tracing() and not torch.jit.is_scripting()
            and not torch.onnx.is_in_onnx_export()
            and not torch.compiler.is_compiling())


def pack_conv_weight(weight: Tensor, padding, stride, groups: int) -> Tensor:
    """``weight`` reordered once into oneDNN's layout for these conv settings."""
    return torch._C._nn.mkldnn_reorder_conv2d_weight(
        weight.detach().contiguous().to_mkldnn(), list(padding), list(stride), [1, 1],
        groups)


class _Layer:
    """conv (stem 4x4 or block 1x1) -> max-pool -> ReLU -> depthwise conv."""

    def __init__(self, conv: nn.Conv2d, pool: nn.Module, act: nn.Module):
        self.padding, self.stride = list(conv.padding), list(conv.stride)
        self.weight = pack_conv_weight(conv.weight, conv.padding, conv.stride, 1)
        self.bias = conv.bias.detach().clone()
        self.pool = pool if isinstance(pool, nn.MaxPool2d) else None
        k = act.act_num
        self.act_padding, self.channels = [k, k], act.channels
        self.act_weight = pack_conv_weight(act.weight, (k, k), (1, 1), act.channels)
        self.act_bias = act.bias.detach().clone()

    def __call__(self, x: Tensor) -> Tensor:
        x = torch.mkldnn_convolution(x, self.weight, self.bias, self.padding,
                                     self.stride, [1, 1], 1)
        if self.pool is not None:
            p = self.pool
            x = F.max_pool2d(x, p.kernel_size, p.stride, p.padding, p.dilation,
                             p.ceil_mode)
        x = torch.relu_(x)
        return torch.mkldnn_convolution(x, self.act_weight, self.act_bias,
                                        self.act_padding, [1, 1], [1, 1],
                                        self.channels)


class OneDNNPlan:
    """A fused VanillaNet's forward with packed weights (see module doc)."""

    def __init__(self, backbone: nn.Module):
        self.key = self.key_of(backbone)
        stem_conv, stem_act = backbone.stem
        self.layers = [_Layer(stem_conv, nn.Identity(), stem_act)] + [
            _Layer(block.conv, block.pool, block.act) for block in backbone.stages]
        self.out_indices = set(backbone.out_indices)

    @staticmethod
    def key_of(backbone: nn.Module) -> Tuple:
        """Changes whenever a parameter is replaced or modified.

        Identity, version and storage catch replacement and in-place updates;
        writes through ``.data`` (mmengine's EMAHook swaps weights so) bump
        no version, so a sum over ~64 evenly spaced values of each weight is
        part of the key too (microseconds per call).
        """
        key = []
        with torch.no_grad():
            for p in backbone.parameters():
                flat = p.detach().reshape(-1)
                sample = flat[::max(1, flat.numel() // 64)]
                key.append((id(p), p._version, p.data_ptr(), float(sample.sum())))
        return tuple(key)

    def __call__(self, x: Tensor) -> Tuple[Tensor, ...]:
        x = self.layers[0](x.contiguous().to_mkldnn())
        outs: List[Tensor] = []
        for i, layer in enumerate(self.layers[1:]):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x.to_dense())
        return tuple(outs)

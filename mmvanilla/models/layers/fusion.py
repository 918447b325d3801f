"""Reparameterization math: fold BatchNorm into convs and merge stacked linear convs."""
from typing import Optional, Tuple

import torch
from torch import Tensor, nn


def fuse_conv_bn(weight: Tensor, bias: Optional[Tensor],
                 bn: nn.modules.batchnorm._BatchNorm) -> Tuple[Tensor, Tensor]:
    """Fold an eval-mode BN into the preceding conv.

    ``W' = W * gamma / sigma`` per output channel and
    ``b' = (b - mean) * gamma / sigma + beta`` with ``sigma = sqrt(var + eps)``.
    Computed in float64 and returned in the weight's dtype.
    """
    mean, var = bn.running_mean.double(), bn.running_var.double()
    scale = bn.weight.detach().double() / torch.sqrt(var + bn.eps)
    bias = mean.new_zeros(mean.shape) if bias is None else bias.detach().double()
    fused_weight = weight.detach().double() * scale.reshape(
        -1, *([1] * (weight.dim() - 1)))
    fused_bias = (bias - mean) * scale + bn.bias.detach().double()
    return fused_weight.to(weight.dtype), fused_bias.to(weight.dtype)


def merge_conv_1x1(first: Tuple[Tensor, Tensor],
                   second: Tuple[Tensor, Tensor]) -> Tuple[Tensor, Tensor]:
    """Merge ``conv2(conv1(x))`` where conv2 is 1x1 and nothing lies between.

    ``first`` is any conv's (weight C x I x kh x kw, bias C); ``second`` a 1x1
    conv's (weight D x C x 1 x 1, bias D). Returns (W2 W1, W2 b1 + b2),
    computed in float64 and returned in the first weight's dtype.
    """
    w1, b1 = (t.double() for t in first)
    w2, b2 = (t.double() for t in second)
    w2 = w2.flatten(1)
    weight = torch.einsum('dc,cikl->dikl', w2, w1)
    bias = w2 @ b1 + b2
    dtype = first[0].dtype
    return weight.to(dtype), bias.to(dtype)

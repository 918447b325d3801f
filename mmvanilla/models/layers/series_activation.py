"""The series-informed activation of VanillaNet."""
import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from torch import Tensor, nn

from mmvanilla.models.layers.fusion import fuse_conv_bn


class SeriesActivation(nn.Module):
    """ReLU followed by a depthwise (2n+1)x(2n+1) conv and a BN (train form).

    In deploy form the BN is folded into the depthwise conv, which then has a
    bias. Parameter names (``weight``, ``bias``, ``bn``) follow the official
    checkpoints.

    Args:
        channels: Number of channels C.
        act_num: Order n of the series; the kernel is (2n+1)x(2n+1).
        norm_cfg: Config of the BN (train form only).
        deploy: Build the fused form directly.
    """

    def __init__(self, channels: int, act_num: int = 3,
                 norm_cfg: dict = dict(type='BN', eps=1e-6),
                 deploy: bool = False):
        super().__init__()
        self.channels = channels
        self.act_num = act_num
        self.deploy = deploy
        kernel = 2 * act_num + 1
        self.weight = nn.Parameter(torch.empty(channels, 1, kernel, kernel))
        nn.init.trunc_normal_(self.weight, std=0.02)
        if deploy:
            self.bias = nn.Parameter(self.weight.new_zeros(channels))
        else:
            self.bias = None
            self.bn = build_norm_layer(norm_cfg, channels)[1]

    def forward(self, x: Tensor) -> Tensor:
        # Callers hand over a fresh tensor they never reuse, so without autograd
        # the ReLU can run in place and save one large allocation per layer.
        x = F.relu(x, inplace=not x.requires_grad)
        x = F.conv2d(x, self.weight, self.bias, padding=self.act_num,
                     groups=self.channels)
        return x if self.deploy else self.bn(x)

    def switch_to_deploy(self) -> None:
        """Fold the BN into the depthwise conv (no-op if already fused)."""
        if self.deploy:
            return
        weight, bias = fuse_conv_bn(self.weight.data, None, self.bn)
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(bias)
        del self.bn
        self.deploy = True

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, act_num={self.act_num}, '
                f'deploy={self.deploy}')


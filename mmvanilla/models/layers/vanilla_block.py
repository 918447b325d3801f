"""The block of VanillaNet, in train and deploy forms, and its shared pieces."""
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from torch import Tensor, nn

from mmvanilla.models.layers.fusion import fuse_conv_bn, merge_conv_1x1
from mmvanilla.models.layers.series_activation import SeriesActivation
from mmvanilla.utils.errors import ConfigError


def conv_bn(in_channels: int, out_channels: int, kernel_size: int,
             stride: int, norm_cfg: dict, padding: int = 0) -> nn.Sequential:
    """Conv then BN; as a Sequential its keys are the official ``.0.*``, ``.1.*``."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding),
        build_norm_layer(norm_cfg, out_channels)[1])


def merged_conv(first: nn.Sequential, second: nn.Sequential) -> nn.Conv2d:
    """One conv equal to ``second(first(x))`` for two :func:`conv_bn` branches
    (the second 1x1): BNs folded, convs merged, geometry of the first conv."""
    weight, bias = merge_conv_1x1(
        *(fuse_conv_bn(conv.weight.data, conv.bias.data, bn) for conv, bn in (first, second)))
    conv = first[0]
    fused = nn.Conv2d(conv.in_channels, weight.shape[0], conv.kernel_size,
                      conv.stride, conv.padding)
    fused.weight.data, fused.bias.data = weight, bias
    return fused


def deep_training_nonlinearity(x: Tensor, act_learn: float) -> Tensor:
    """``leaky_relu(x, act_learn)``; 1 makes it the identity."""
    # leaky_relu with slope 1 is the identity: skip it (the fine-tuning case).
    if act_learn == 1.0:
        return x
    return F.leaky_relu(x, act_learn)


class VanillaBlock(nn.Module):
    """Block: 1x1 conv, BN, leaky ReLU(lambda), 1x1 conv, BN, pool, activation.

    Deploy form: one 1x1 conv, the pool and the fused activation. Key names
    follow the official checkpoints (``conv1``, ``conv2``, ``conv``, ``act``).

    Args:
        in_channels: Input channels C.
        out_channels: Output channels D.
        stride: Max-pool stride (1: no pool).
        act_num: Order of the series activation.
        norm_cfg: Config of the BNs.
        deploy: Build the fused form directly.
        ceil_mode: Pool with ``ceil_mode`` (the ``ada_pool`` arch, see
            :class:`VanillaNet`).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 act_num: int, norm_cfg: dict, deploy: bool = False,
                 ceil_mode: bool = False):
        super().__init__()
        self.deploy = deploy
        self.act_learn = 1.0
        if deploy:
            self.conv = nn.Conv2d(in_channels, out_channels, 1)
        else:
            self.conv1 = conv_bn(in_channels, in_channels, 1, 1, norm_cfg)
            self.conv2 = conv_bn(in_channels, out_channels, 1, 1, norm_cfg)
        self.pool = (nn.Identity() if stride == 1 else
                     nn.MaxPool2d(stride, ceil_mode=ceil_mode))
        self.act = SeriesActivation(out_channels, act_num, norm_cfg, deploy)

    def forward(self, x: Tensor) -> Tensor:
        if self.deploy:
            x = self.conv(x)
        else:
            x = self.conv1(x)
            x = deep_training_nonlinearity(x, self.act_learn)
            x = self.conv2(x)
        return self.act(self.pool(x))

    def switch_to_deploy(self) -> None:
        """Merge the two 1x1 conv+BN pairs into one conv and fuse the activation."""
        if self.deploy:
            return
        check_fusable(self.act_learn)
        self.conv = merged_conv(self.conv1, self.conv2)
        self.act.switch_to_deploy()
        del self.conv1, self.conv2
        self.deploy = True


def check_fusable(act_learn: float) -> None:
    """Raise unless the deep-training non-linearity is linear (lambda = 1)."""
    if act_learn != 1.0:
        raise ConfigError(
            f'cannot fuse VanillaNet while act_learn (lambda) = {act_learn:g}: '
            'the two convs of a block are only linear in sequence at lambda = 1. '
            'Finish deep training (DeepTrainingHook anneals lambda to 1) or set '
            'backbone.act_learn = 1.0 before switch_to_deploy().')

from .fusion import fuse_conv_bn, merge_conv_1x1
from .series_activation import SeriesActivation
from .vanilla_block import VanillaBlock

__all__ = ['fuse_conv_bn', 'merge_conv_1x1', 'SeriesActivation', 'VanillaBlock']

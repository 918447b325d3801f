"""Layer-wise LR decay for detectors whose backbone has ``get_layer_depth``."""
import functools
from typing import Callable, List, Optional

from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmpretrain.engine.optimizers import LearningRateDecayOptimWrapperConstructor
from torch import nn

from mmvanilla.utils.errors import ConfigError


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class BackboneLayerDecayOptimWrapperConstructor(
        LearningRateDecayOptimWrapperConstructor):
    """mmpretrain's layer-wise LR decay, driven by ``model.backbone``.

    mmpretrain's constructor asks the whole model for ``get_layer_depth``; an
    mmdet detector has none, so this one asks the backbone, with the
    ``backbone.`` prefix: parameters outside it (neck, heads) get the full LR.
    ``paramwise_cfg`` is mmpretrain's: ``layer_decay_rate``,
    ``norm_decay_mult``, ``bias_decay_mult``, ``flat_decay_mult``,
    ``custom_keys``.
    """

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   get_layer_depth: Optional[Callable] = None, **kwargs) -> None:
        if get_layer_depth is None and not hasattr(module, 'get_layer_depth'):
            backbone = getattr(module, 'backbone', None)
            if not hasattr(backbone, 'get_layer_depth'):
                raise ConfigError(
                    f'{type(self).__name__} needs a backbone with get_layer_depth() '
                    f'(such as VanillaNet); {type(backbone).__name__} has none: '
                    f'use the default optim wrapper constructor instead')
            get_layer_depth = functools.partial(backbone.get_layer_depth,
                                                prefix='backbone.')
        super().add_params(params, module, prefix, get_layer_depth, **kwargs)

"""Layer-wise LR decay for detectors whose backbone has ``get_layer_depth``."""
import functools
import importlib
import importlib.util
import os.path as osp
import sys
from typing import Callable, List, Optional

from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

from mmvanilla.utils.errors import ConfigError

_MODULE = 'mmpretrain.engine.optimizers.layer_decay_optim_wrapper_constructor'


def _mmpretrain_constructor() -> type:
    """mmpretrain's ``LearningRateDecayOptimWrapperConstructor``, imported from
    its own module alone.

    ``import mmpretrain.engine.optimizers`` first runs ``mmpretrain.engine``'s
    ``__init__``, which imports mmpretrain's hooks and its whole model zoo
    (with its multimodal models: :mod:`mmvanilla.patches` item 4). The
    constructor needs none of that, and every program that imports the
    plugin would pay for it: ``import mmvanilla.plugin`` took 15.4-16.6 s
    that way and 13.1-13.6 s this way (four runs each, Zen 3, 2026-12-02).
    Its module is registered under its own name, so a later
    ``import mmpretrain.engine`` reuses it instead of registering the class
    twice.
    """
    if _MODULE not in sys.modules:
        package = importlib.util.find_spec('mmpretrain').submodule_search_locations[0]
        path = osp.join(package, *_MODULE.split('.')[1:]) + '.py'
        if not osp.isfile(path):  # another layout: the plain import
            return importlib.import_module(_MODULE).LearningRateDecayOptimWrapperConstructor
        spec = importlib.util.spec_from_file_location(_MODULE, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[_MODULE] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[_MODULE]
            raise
    return sys.modules[_MODULE].LearningRateDecayOptimWrapperConstructor


LearningRateDecayOptimWrapperConstructor = _mmpretrain_constructor()


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

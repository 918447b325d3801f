from .layer_decay_optim_wrapper_constructor import (
    BackboneLayerDecayOptimWrapperConstructor,
)

__all__ = ['BackboneLayerDecayOptimWrapperConstructor']

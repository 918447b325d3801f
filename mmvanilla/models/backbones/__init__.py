from .vanillanet import VanillaNet
from .vanillanet_arch import ARCH_SETTINGS, resolve_arch

__all__ = ['ARCH_SETTINGS', 'VanillaNet', 'resolve_arch']

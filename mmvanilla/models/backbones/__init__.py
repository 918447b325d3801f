from .vanillanet import ARCH_SETTINGS, VanillaNet, resolve_arch

__all__ = ['ARCH_SETTINGS', 'VanillaNet', 'resolve_arch']

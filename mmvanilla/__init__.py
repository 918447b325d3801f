"""VanillaNet for MMDetection 3.x.

Importing the package itself loads nothing heavy (no torch, no mmdet): the
errors, the runtime settings and the tools' entry point import on their own.
``import mmvanilla.plugin`` registers the modules in mmdet's (and
mmpretrain's) registries and applies the safe checkpoint loading; configs do
it with ``custom_imports=dict(imports=['mmvanilla.plugin'])``.
"""
__version__ = '0.1.0'

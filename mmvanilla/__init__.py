"""VanillaNet for MMDetection 3.x.

Importing the package registers its modules in mmdet's (and mmpretrain's)
registries and routes mmengine's local checkpoint loading through the safe
loader; configs do it with ``custom_imports=dict(imports=['mmvanilla'])``.
"""
from . import deploy, engine, models, utils  # noqa: F401

__version__ = '0.1.0'

"""mmvanilla as an MMDetection plugin: import this module and everything is in place.

Registers VanillaNet (mmdet's and mmpretrain's model registries), the hooks,
the optimizer constructor and the runner, and applies :mod:`mmvanilla.patches`
(safe checkpoint loading, atomic checkpoint writes, mmpretrain's multimodal
models beside a transformers they cannot import with). Configs import it with
``custom_imports=dict(imports=['mmvanilla.plugin'], allow_failed_imports=False)``.
"""
from mmvanilla import patches

patches.apply()  # first: before anything imports mmdet.models (see patches, 4.)

from mmvanilla import deploy, engine, models  # noqa: E402, F401  (register their modules)

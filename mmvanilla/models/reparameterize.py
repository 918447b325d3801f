"""Fuse a whole model: every module that has ``switch_to_deploy()``."""
from mmengine.model import is_model_wrapper
from torch import nn


def switch_to_deploy(model: nn.Module) -> int:
    """Call ``switch_to_deploy()`` on the outermost modules that have it
    (a model wrapper's module is fused).

    Returns how many modules were switched (0: nothing to fuse).
    """
    if is_model_wrapper(model):
        model = model.module
    switched, skip = 0, set()
    for name, module in model.named_modules():
        if any(name.startswith(p) for p in skip):
            continue
        if hasattr(module, 'switch_to_deploy') and module is not model:
            module.switch_to_deploy()
            skip.add(name + '.')
            switched += 1
    return switched

"""Reparameterize a model before it is evaluated (``tools/test.py --deploy``)."""
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmvanilla.utils.console import announce


def switch_to_deploy(model) -> int:
    """Call ``switch_to_deploy()`` on the outermost modules that have it.

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


@HOOKS.register_module()
class SwitchToDeployHook(Hook):
    """Fuse the backbone after the checkpoint is loaded, before testing."""

    priority = 'VERY_HIGH'

    def before_test(self, runner) -> None:
        if switch_to_deploy(runner.model) == 0:
            runner.logger.warning('--deploy: the model has nothing to fuse')
        else:
            announce(runner.logger, 'reparameterized the model to its fused form')

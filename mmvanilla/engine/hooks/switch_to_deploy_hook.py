"""Reparameterize a model before it is evaluated (``tools/test.py --deploy``)."""
from mmdet.registry import HOOKS
from mmengine.hooks import Hook

from mmvanilla.models.reparameterize import switch_to_deploy
from mmvanilla.utils.console import announce


@HOOKS.register_module()
class SwitchToDeployHook(Hook):
    """Fuse the backbone after the checkpoint is loaded, before testing."""

    priority = 'VERY_HIGH'

    def before_test(self, runner) -> None:
        if switch_to_deploy(runner.model) == 0:
            runner.logger.warning('--deploy: the model has nothing to fuse')
        else:
            announce(runner.logger, 'reparameterized the model to its fused form')

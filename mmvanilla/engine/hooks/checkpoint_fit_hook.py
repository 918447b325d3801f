"""Fail a run whose ``load_from``/``--resume`` checkpoint does not fit the model."""
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmvanilla.utils.checkpoint_fit import check_checkpoint_fits


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Check a loaded checkpoint against the model before mmengine fills it.

    mmengine would load it non-strictly and only log what did not fit; the
    tools add this hook so that a mismatch is one error instead.
    """

    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        source = f'checkpoint {runner._load_from!r}' if runner._load_from else 'checkpoint'
        check_checkpoint_fits(model, checkpoint, source)

"""Deep training: anneal VanillaNet's non-linearity lambda from 0 to 1."""
from typing import Optional

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmvanilla.utils.errors import ConfigError


@HOOKS.register_module()
class DeepTrainingHook(Hook):
    """Set ``backbone.act_learn`` to ``progress / length``, capped at 1.

    The paper's deep-training strategy for training from scratch: each block's
    two convs start with a ReLU between them (lambda = 0) that becomes the
    identity (lambda = 1) by the end of the annealing, after which the model
    can be fused. Give exactly one of ``epochs`` (lambda = epoch / epochs,
    updated each epoch, as in the paper) or ``iters`` (updated each iteration).
    Resuming recomputes lambda from the restored epoch or iteration.
    """

    priority = 'NORMAL'

    def __init__(self, epochs: Optional[int] = None, iters: Optional[int] = None):
        length = epochs if iters is None else iters
        if (epochs is None) == (iters is None) or not isinstance(length, int) \
                or length <= 0:
            raise ConfigError(
                f'DeepTrainingHook needs exactly one of epochs= or iters=, a '
                f'positive int; got epochs={epochs!r}, iters={iters!r}')
        self.epochs, self.iters = epochs, iters

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self.epochs is not None:
            value = runner.epoch / self.epochs
        else:
            value = runner.iter / self.iters
        self._backbone(runner).act_learn = min(1.0, value)

    def after_train(self, runner) -> None:
        value = self._backbone(runner).act_learn
        if value < 1.0:
            runner.logger.warning(
                f'DeepTrainingHook: training ended at lambda = {value:g} < 1, so the '
                f'model cannot be fused; anneal over fewer epochs/iterations than '
                f'the run has')

    @staticmethod
    def _backbone(runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        return model.backbone

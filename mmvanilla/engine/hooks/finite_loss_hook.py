"""Stop a training whose loss is no longer a number."""
import math

from mmdet.registry import HOOKS
from mmengine.hooks import Hook

from mmvanilla.utils.errors import TrainingDivergedError


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise at the first iteration whose loss is NaN or inf.

    mmengine trains on (every later loss is NaN, the weights become NaN) and
    exits 0. Runs before the checkpoint hook, so no checkpoint of diverged
    weights is written: the last one saved is the last good one.
    """

    priority = 'VERY_HIGH'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        loss = (outputs or {}).get('loss')
        if loss is None:
            return
        value = float(loss.detach() if hasattr(loss, 'detach') else loss)
        if not math.isfinite(value):
            last = runner.message_hub.get_info('last_ckpt')
            kept = f'the last checkpoint, {last}, is from before' if last else \
                'no checkpoint was written yet'
            raise TrainingDivergedError(
                f'the loss became {value} at epoch {runner.epoch + 1}, iteration '
                f'{runner.iter + 1}: training stopped ({kept}). Lower '
                f'optim_wrapper.optimizer.lr, or clip gradients with '
                f'optim_wrapper.clip_grad=dict(max_norm=35, norm_type=2)')

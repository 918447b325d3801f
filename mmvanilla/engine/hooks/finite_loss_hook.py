"""Stop a training whose loss is no longer a number."""
import math

import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_reduce, get_rank, is_distributed
from mmengine.hooks import Hook

from mmvanilla.utils.errors import TrainingDivergedError


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise at the first iteration whose loss is NaN or inf, on every rank.

    mmengine trains on (every later loss is NaN, the weights become NaN) and
    exits 0. Runs before the checkpoint hook, so no checkpoint of diverged
    weights is written: the last one saved is the last good one. In a
    distributed run each rank sees its own loss: the ranks agree (one scalar
    all-reduce per iteration) so that all of them stop at the same iteration,
    instead of the others waiting for the stopped one until NCCL times out.
    """

    priority = 'VERY_HIGH'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        loss = (outputs or {}).get('loss')
        if loss is None:
            return
        value = float(loss.detach() if hasattr(loss, 'detach') else loss)
        where = ''
        if is_distributed():  # the highest rank whose loss is not finite, + 1
            flag = torch.tensor([0. if math.isfinite(value) else get_rank() + 1.],
                                device=loss.device if hasattr(loss, 'device') else 'cpu')
            all_reduce(flag, op='max')
            if not flag.item():
                return
            bad = int(flag.item()) - 1
            where = f' on rank {bad}'
            value = value if bad == get_rank() else 'not finite'
        elif math.isfinite(value):
            return
        last = runner.message_hub.get_info('last_ckpt')
        kept = f'the last checkpoint, {last}, is from before' if last else \
            'no checkpoint was written yet'
        raise TrainingDivergedError(
            f'the loss became {value}{where} at epoch {runner.epoch + 1}, iteration '
            f'{runner.iter + 1}: training stopped ({kept}). Lower '
            f'optim_wrapper.optimizer.lr, or clip gradients with '
            f'optim_wrapper.clip_grad=dict(max_norm=35, norm_type=2)')

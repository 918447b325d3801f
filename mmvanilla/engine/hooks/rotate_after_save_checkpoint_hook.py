"""Checkpoint rotation that never leaves fewer checkpoints than before."""
from collections import deque

from mmdet.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook


@HOOKS.register_module()
class RotateAfterSaveCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` whose ``max_keep_ckpts`` removes the oldest
    checkpoint only after the new one is written.

    Upstream removes it first, so a save that fails (a full disk) leaves one
    checkpoint fewer than there was. The tools use this hook in place of
    ``CheckpointHook`` (same arguments).
    """

    def _save_checkpoint_with_step(self, runner, step, meta):
        keep = self.max_keep_ckpts
        kept = deque(runner.message_hub.get_info('keep_ckpt_ids', []) or [])
        if keep > 0 and (not kept or kept[-1] != step):
            kept.append(step)
            # recorded before the save, as upstream does: the checkpoint holds
            # its own step, so a run resumed from it rotates it out in turn
            runner.message_hub.update_info('keep_ckpt_ids', list(kept))
        self.max_keep_ckpts = -1  # upstream's removal before the save: off
        try:
            super()._save_checkpoint_with_step(runner, step, meta)
        finally:
            self.max_keep_ckpts = keep
        if keep <= 0:
            return
        while len(kept) > keep:
            old = kept.popleft()
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old))
            if is_main_process() and self.file_backend.isfile(path):
                self.file_backend.remove(path)
        self.keep_ckpt_ids = deque(kept)
        runner.message_hub.update_info('keep_ckpt_ids', list(kept))

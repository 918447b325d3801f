"""Every change mmvanilla makes to a third-party library, in one place.

Applied once, by :mod:`mmvanilla.plugin` (what configs import through
``custom_imports``, so mmdet's own tools get them too). Each entry says what
upstream does and why it is replaced:

1. **Local checkpoint loading** (mmengine ``CheckpointLoader``, scheme ``''``).
   Upstream: ``torch.load(filename)``: torch < 2.6 unpickles anything a file
   holds; torch >= 2.6 defaults to ``weights_only=True`` and refuses mmengine's
   own training state, so ``--resume`` breaks. Here:
   :func:`mmvanilla.utils.safe_checkpoint.safe_load`, ``weights_only=True`` with
   an explicit allow-list of what mmengine checkpoints hold.
2. **Checkpoint downloads** (``mmengine.runner.checkpoint.load_url``, which
   ``http(s)://``, ``torchvision://``, ``open-mmlab://`` and ``mmcls://`` end in).
   Upstream: ``torch.hub``'s loader with ``weights_only=False``. Here:
   download to torch's hub cache, then the same safe loader.
3. **Local file writes** (mmengine ``fileio`` backend ``'local'``, which
   ``save_checkpoint`` and ``CheckpointHook`` use). Upstream: writes the file in
   place, so a process killed while saving leaves a truncated checkpoint.
   Here: :class:`~mmvanilla.utils.checkpoint_files.AtomicLocalBackend`, which
   renames a finished temporary file into place.
"""
_applied = False


def apply() -> None:
    """Apply the changes above (once; later calls do nothing)."""
    global _applied
    if _applied:
        return
    import mmengine.runner.checkpoint as mmengine_checkpoint
    from mmengine.fileio import register_backend

    from mmvanilla.utils.checkpoint_files import AtomicLocalBackend
    from mmvanilla.utils.safe_checkpoint import safe_load, safe_load_url

    def load_from_local(filename, map_location):  # (mmengine logs 'by local backend')
        return safe_load(filename, map_location)

    mmengine_checkpoint.CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local, force=True)
    mmengine_checkpoint.load_url = safe_load_url
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    _applied = True

"""Every change mmvanilla makes to a third-party library, in one place.

Applied once, by :mod:`mmvanilla.plugin` (what configs import through
``custom_imports``, so mmdet's own tools get them too) or by whichever of
:mod:`mmvanilla.engine` and the tools' config loading comes first (change 5
alone there). Each entry says what upstream does and why it is replaced:

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
4. **mmpretrain's multimodal models beside transformers >= 4.56**
   (``mmpretrain.utils.dependency.WITH_MULTIMODAL``). Upstream (mmpretrain
   1.2): BLIP's language model imports ``find_pruneable_heads_and_indices``
   and two more names from ``transformers.modeling_utils``, which 4.56 removed
   (there in the 4.55.4 wheel, gone in 4.56.0); its fallback sets their base
   class to ``None`` and the class statement raises ``TypeError``, which
   mmdet's guarded import of ``mmpretrain.models`` (``except ImportError``,
   reached by every model build) does not catch: nothing builds. Here, for
   that combination only, mmpretrain's own switch is off: its multimodal
   models become its placeholders, which say what they need when built.
   mmvanilla uses none of them.
5. **Config loading and printing** (``mmengine.config``: the metafile reader
   of ``_get_cfg_metainfo``, ``is_installed``, and yapf's ``FormatCode`` as
   ``Config.pretty_text`` calls it). Upstream: for each ``mmdet::``
   base of a config, parses every metafile of mmdet's model index (408 YAML
   files) looking for the path, does not find it (bases are not models; nor are
   models found: the lookup drops ``.py`` from the name), and falls back to the
   file under ``.mim/configs``; ``is_installed`` reloads ``pkg_resources`` each
   time: on an AMD EPYC Zen 3, 0.7 s of the 0.9 s that loading one of this
   project's configs takes, at every load. And a training formats the same
   config text with yapf five times (dumped twice, logged, in the runtime
   information, in each checkpoint's meta), 0.1-0.4 s each. Here: each
   metafile is parsed once per process (the same lookup, on the same contents
   while the file is unchanged), a package found installed stays found, and
   a text yapf formatted is not formatted again (the same text out).
"""
import functools
import importlib.metadata
import importlib.util
import os
import os.path as osp
import threading

_applied = False
_config_caches_applied = False


def multimodal_models_cannot_import() -> bool:
    """Whether the installed mmpretrain's BLIP imports names that the
    installed transformers no longer has (read, not imported: importing
    transformers takes seconds)."""
    try:
        version = importlib.metadata.version('transformers')
    except importlib.metadata.PackageNotFoundError:
        return False
    if tuple(int(p) for p in version.split('.')[:2] if p.isdigit()) < (4, 56):
        return False
    spec = importlib.util.find_spec('mmpretrain')
    blip = osp.join(spec.submodule_search_locations[0], 'models', 'multimodal', 'blip',
                    'language_model.py') if spec else ''
    return osp.isfile(blip) and 'find_pruneable_heads_and_indices' in open(blip).read()


def apply() -> None:
    """Apply the changes above (once; later calls do nothing)."""
    global _applied
    if _applied:
        return
    if multimodal_models_cannot_import():
        import mmpretrain.utils.dependency
        mmpretrain.utils.dependency.WITH_MULTIMODAL = False
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
    apply_config_caches()
    _applied = True


def apply_config_caches() -> None:
    """Change 5 alone (load_config applies it before a tool's first config
    load, ahead of the plugin that configs import); later calls do nothing."""
    global _config_caches_applied
    if _config_caches_applied:
        return
    import mmengine.config.config as mmengine_config
    import mmengine.config.utils as mmengine_config_utils
    mmengine_config_utils.load = _parsed_once(mmengine_config_utils.load)
    mmengine_config.is_installed = _found_once(mmengine_config.is_installed)
    mmengine_config.FormatCode = _formatted_once(mmengine_config.FormatCode)
    _config_caches_applied = True


def _parsed_once(load):
    """``load``, remembering each file's contents while its size and
    modification time stay the same (one object for every caller: its only
    caller, ``_get_cfg_metainfo``, reads it)."""
    parsed = {}

    @functools.wraps(load)
    def load_once(path, *args, **kwargs):
        if args or kwargs or not isinstance(path, str) or not osp.isfile(path):
            return load(path, *args, **kwargs)
        stat = os.stat(path)
        key = (osp.abspath(path), stat.st_size, stat.st_mtime_ns)
        if key not in parsed:
            parsed[key] = load(path)
        return parsed[key]
    return load_once


def _found_once(is_installed):
    """``is_installed``, remembering the packages it found."""
    found = set()

    @functools.wraps(is_installed)
    def is_installed_once(package: str) -> bool:
        if package not in found and is_installed(package):
            found.add(package)
        return package in found
    return is_installed_once


def _formatted_once(format_code, keep: int = 16):
    """yapf's ``FormatCode``, remembering the last ``keep`` texts it formatted."""
    formatted, lock = {}, threading.Lock()

    @functools.wraps(format_code)
    def format_code_once(text, **kwargs):
        key = (text, repr(sorted(kwargs.items())))
        with lock:
            if key in formatted:
                return formatted[key]
        result = format_code(text, **kwargs)
        with lock:
            if len(formatted) >= keep:
                formatted.pop(next(iter(formatted)))
            formatted[key] = result
        return result
    return format_code_once

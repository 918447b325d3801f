"""Output paths: checked before any work (so a bad one fails in one line
first), never over an input, an artefact or a file of another kind, and
written atomically: the guard of ``mmvanilla_runtime.outputs``, which the
runtime shares, plus the tools' folder checks."""
import os
import os.path as osp
import tempfile

from mmvanilla.utils.errors import ConfigError
from mmvanilla_runtime.outputs import (atomic_output, check_folder_outputs,  # noqa: F401
                                       check_outputs, remove_orphans, staged_folder)


def writable_dir(path: str, what: str) -> str:
    """Create ``path`` now and prove it writable, so a bad one fails before any work."""
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix='.write-test-'):
            pass
    except OSError as e:
        raise ConfigError(f'{what} {path!r} cannot be written ({e.strerror or e}): choose a '
                          f'shorter path in a folder you can write to') from None
    return path


def creatable_dir(path: str, what: str) -> str:
    """Like :func:`writable_dir`, but creates nothing: the nearest existing
    ancestor must be a writable folder and every name short enough. For tools
    that must leave nothing behind when they fail later."""
    full = osp.abspath(path)
    name_max = os.pathconf('/', 'PC_NAME_MAX')
    problem = 'File name too long' if any(
        len(part) > name_max for part in full.split(os.sep)) else None
    existing = full
    while not osp.exists(existing):
        existing = osp.dirname(existing)
    if problem is None and not osp.isdir(existing):
        problem = 'Not a directory'
    elif problem is None and not os.access(existing, os.W_OK | os.X_OK):
        problem = 'Permission denied'
    if problem:
        raise ConfigError(f'{what} {path!r} cannot be written ({problem}): choose a '
                          f'shorter path in a folder you can write to')
    return path


def writable_file(path: str, what: str) -> str:
    """``path`` is a file that will be written later: its folder is made and
    checked now, so an unwritable one fails before the work, not after."""
    if osp.isdir(path):
        raise ConfigError(f'{what} {path!r} is a folder: give a file name')
    writable_dir(osp.dirname(osp.abspath(path)), f'the folder of {what}')
    return path

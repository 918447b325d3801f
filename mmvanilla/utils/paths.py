"""Output paths: checked before any work (so a bad one fails in one line
first), never over an input or each other, and written atomically."""
import contextlib
import os
import os.path as osp
import tempfile
from typing import Dict, Iterable, Iterator

from mmvanilla.utils.errors import ConfigError


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


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[str]:
    """A temporary path beside ``path`` (same extension) to write the output
    to; renamed onto ``path`` when the block ends without an error, removed
    otherwise. A reader never sees a half-written file, and a failed write
    (a full disk, a check that fails) leaves the file there before untouched."""
    folder, name = osp.split(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.tmp-', suffix='-' + name)
    os.close(fd)
    try:
        try:
            yield tmp
        except OSError as e:  # a refused write names the output, not its temporary
            if e.filename is None or str(e.filename) == tmp:
                e.filename = path
            raise
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as open() would (mkstemp makes 0600)
        os.replace(tmp, path)
    finally:
        if osp.lexists(tmp):
            os.remove(tmp)


def check_outputs(outputs: Dict[str, str], inputs: Iterable[str] = ()) -> None:
    """Refuse a run whose outputs (``{what: path}``) would overwrite one of its
    ``inputs`` or each other, before any work is done."""
    def key(path: str) -> str:
        return osp.realpath(osp.expanduser(str(path)))
    given = {key(p): p for p in inputs if p}
    seen: Dict[str, str] = {}
    for what, path in outputs.items():
        k = key(path)
        if k in given:
            raise ConfigError(f'{what} {path!r} is one of the inputs ({given[k]!r}): '
                              f'writing it would destroy that input; choose another path')
        if k in seen:
            raise ConfigError(f'{what} {path!r} and {seen[k]} are the same file: one '
                              f'would overwrite the other; give them different paths')
        seen[k] = f'{what} {path!r}'


@contextlib.contextmanager
def staged_folder(out_dir: str, names: Iterable[str]) -> Iterator[str]:
    """A staging folder on ``out_dir``'s file system; on success each of
    ``names`` written there is moved into ``out_dir`` (created if needed).
    A failure (or a full disk) leaves ``out_dir`` as it was. The last name
    marks the folder complete: its old copy is removed before the others
    are replaced and the new one moved in after them, so an interrupted
    move never leaves new files beside an old marker."""
    ancestor = osp.abspath(out_dir)
    while not osp.isdir(ancestor):
        ancestor = osp.dirname(ancestor)
    with tempfile.TemporaryDirectory(dir=ancestor, prefix='.tmp-stage-') as stage:
        yield stage
        os.makedirs(out_dir, exist_ok=True)
        names = list(names)
        with contextlib.suppress(FileNotFoundError):
            os.remove(osp.join(out_dir, names[-1]))
        for name in names:
            os.replace(osp.join(stage, name), osp.join(out_dir, name))

"""Where an mmvanilla program may write: the one output guard.

Every writer goes through it: the tools (through :mod:`mmvanilla.utils.paths`),
the runtime's ``--out``, the hooks mmvanilla configures (``--show-dir``) and
the dataset generator. Before any work, :func:`check_outputs` refuses an
output that would

- overwrite an input of the run, or another output of it;
- land in an artefact folder (one holding ``pipeline.json``) that the run is
  not deploying;
- replace a file that this kind of output did not make: an existing file is
  only replaced by one of its own kind (a ``.json`` by JSON, a ``.pth`` by a
  checkpoint, a picture by a picture, ...), so a mistyped path never destroys
  an image, a config or a document.

Then :func:`atomic_output` and :func:`staged_folder` write so that a reader
never sees half a file, and a killed run's temporaries are removed by the
next run that writes there (:func:`remove_orphans`). Standard library only:
the runtime needs no PyTorch.
"""
import contextlib
import os
import os.path as osp
import re
import shutil
import socket
import tempfile
from typing import Dict, Iterable, Iterator, Optional, Union

from .errors import RuntimeInputError
from .failures import WRITE_FAILURES

#: The file that makes a folder a deployed artefact (and marks it complete).
ARTEFACT_DESCRIPTION = 'pipeline.json'
_HOST = re.sub(r'[^A-Za-z0-9]', '', socket.gethostname())[:20] or 'host'
#: Temporaries are named after their host and process, so that a later run can
#: tell a dead run's leftovers from a live run's files (also on a shared disk).


def temporary_prefix(pid: Optional[int] = None) -> str:
    """How the temporaries of process ``pid`` (default: this one) begin."""
    return f'.tmp-{_HOST}-{os.getpid() if pid is None else pid}-'


_PREFIX = temporary_prefix()
_ORPHAN = re.compile(r'^\.tmp-(stage-)?([A-Za-z0-9]+)-(\d+)-')

_MAGIC = {  # the first bytes of each kind of file the programs write
    '.pth': (b'PK\x03\x04', b'\x80'), '.pkl': (b'\x80',), '.pickle': (b'\x80',),
    '.png': (b'\x89PNG',), '.jpg': (b'\xff\xd8',), '.jpeg': (b'\xff\xd8',),
    '.bmp': (b'BM',), '.webp': (b'RIFF',), '.tif': (b'II*\x00', b'MM\x00*'),
    '.tiff': (b'II*\x00', b'MM\x00*'), '.onnx': (b'\x08',),
}


def _key(path: str) -> str:
    return osp.realpath(osp.expanduser(str(path)))


def is_own_kind(path: str, kind: Optional[str] = None) -> bool:
    """Whether the existing file ``path`` is of the kind a program of
    mmvanilla writes there (``kind``, an extension such as ``.json``;
    default: the one its name has), so that replacing it loses nothing the
    user made by other means. Empty files are; folders, links and unknown
    kinds are not."""
    if osp.islink(path) or not osp.isfile(path):
        return False
    size = osp.getsize(path)
    if size == 0:
        return True
    ext = (kind or osp.splitext(path)[1]).lower()
    try:
        with open(path, 'rb') as f:
            head = f.read(16)
            if ext == '.json':
                f.seek(max(size - 16, 0))
                tail = f.read().rstrip()
                return head.lstrip()[:1] in (b'{', b'[') and tail[-1:] in (b'}', b']')
    except OSError:
        return False
    return ext in _MAGIC and head.startswith(_MAGIC[ext])


def artefact_folder_of(path: str) -> Optional[str]:
    """The deployed artefact folder ``path`` would be written into (its
    folder, or a folder above it), if any."""
    folder = osp.dirname(_key(path))
    while True:
        if osp.isfile(osp.join(folder, ARTEFACT_DESCRIPTION)):
            return folder
        parent = osp.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def check_outputs(outputs: Dict[str, str], inputs: Iterable[str] = (),
                  into_artefact: bool = False, replace: bool = False,
                  kind: Union[str, Dict[str, str], None] = None) -> None:
    """Refuse, before any work, outputs (``{what: path}``) that would destroy
    something (see the module's rules). ``into_artefact``: the run writes an
    artefact folder itself (``tools/deploy.py``, ``tools/quantize.py``);
    ``replace``: the paths are an earlier complete output of the same kind,
    which may be replaced whatever its files hold; ``kind``: the kind of file
    written (an extension, e.g. ``.json``; or one per output), where not the
    one each name has."""
    given = {_key(p): p for p in inputs if p}
    seen: Dict[str, str] = {}
    for what, path in outputs.items():
        if not path:  # (an optional output not asked for)
            continue
        path = str(path)
        k = _key(path)
        if k in given:
            raise RuntimeInputError(f'{what} {path!r} is one of the inputs ({given[k]!r}): '
                                    f'writing it would destroy that input; choose another path')
        if k in seen:
            raise RuntimeInputError(f'{what} {path!r} and {seen[k]} are the same file: one '
                                    f'would overwrite the other; give them different paths')
        seen[k] = f'{what} {path!r}'
        artefact = artefact_folder_of(path)
        # a run that writes an artefact may replace its own folder's, no other
        if artefact and not (into_artefact and artefact == osp.dirname(k)):
            raise RuntimeInputError(
                f'{what} {path!r} is inside the deployed artefact folder {artefact!r}: its '
                f'files must stay as tools/deploy.py wrote them; write elsewhere')
        if osp.isdir(path):
            raise RuntimeInputError(f'{what} {path!r} is a folder: give a file name')
        written = kind.get(what) if isinstance(kind, dict) else kind
        if osp.lexists(path) and not replace and not is_own_kind(path, written):
            raise RuntimeInputError(
                f'{what} {path!r} already exists and is not a '
                f'{written or osp.splitext(path)[1] or "extension-less"} file of the kind this '
                f'run writes (it was not made here): move it away, or choose another path')


def check_folder_outputs(out_dir: str, names: Iterable[str], inputs: Iterable[str] = (),
                         into_artefact: bool = False) -> None:
    """:func:`check_outputs` for ``names`` written into ``out_dir`` by
    :func:`staged_folder`. A folder that holds the complete output of an
    earlier run (its last name, the marker) may be written again."""
    names = list(names)
    marker = osp.join(out_dir, names[-1])
    check_outputs({name: osp.join(out_dir, name) for name in names}, inputs, into_artefact,
                  replace=osp.isfile(marker) and is_own_kind(marker))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_orphans(folder: str) -> list:
    """Remove the temporaries (files and staging folders) that runs of this
    host which no longer live left in ``folder``; returns their paths."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = _ORPHAN.match(name)
        if not match or match.group(2) != _HOST or _alive(int(match.group(3))):
            continue
        path = osp.join(folder, name)
        with contextlib.suppress(OSError):
            if osp.isdir(path) and not osp.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
            removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[str]:
    """A temporary path beside ``path`` (same extension) to write the output
    to; renamed onto ``path`` when the block ends without an error, removed
    otherwise. A reader never sees a half-written file, and a failed write
    (a full disk, a check that fails) leaves the file there before untouched."""
    folder, name = osp.split(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_orphans(folder)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=_PREFIX, suffix='-' + name)
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
    remove_orphans(ancestor)
    with tempfile.TemporaryDirectory(dir=ancestor, prefix=_PREFIX.replace(
            '.tmp-', '.tmp-stage-', 1)) as stage:
        try:
            yield stage
        except OSError as e:  # a refused write names the output, not its staging folder
            if e.errno in WRITE_FAILURES:
                if e.filename is None:
                    e.filename = out_dir
                elif str(e.filename).startswith(stage + os.sep):
                    e.filename = osp.join(out_dir, osp.relpath(e.filename, stage))
            raise
        os.makedirs(out_dir, exist_ok=True)
        names = list(names)
        with contextlib.suppress(FileNotFoundError):
            os.remove(osp.join(out_dir, names[-1]))
        for name in names:
            os.replace(osp.join(stage, name), osp.join(out_dir, name))

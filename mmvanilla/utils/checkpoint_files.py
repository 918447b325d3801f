"""Checkpoint files that survive a crash: atomic writes, resume from a complete one.

mmengine writes checkpoints in place, so a process killed while saving leaves
a truncated ``epoch_N.pth``. :mod:`mmvanilla.patches` makes local writes through
mmengine's file backend atomic with :class:`AtomicLocalBackend` (write a
temporary file, then rename), and ``--resume`` starts from the newest
checkpoint that loads (:func:`latest_complete_checkpoint`).
"""
import glob
import os
import os.path as osp
import re
import zipfile
from typing import List, Optional, Union

from mmengine.fileio import LocalBackend
from mmengine.logging import print_log

from mmvanilla.utils.paths import atomic_output, remove_orphans
from mmvanilla.utils.work_dir import LOCAL_RANK_VARIABLES, launcher_rank


class AtomicLocalBackend(LocalBackend):
    """mmengine's local backend, but ``put`` and ``put_text`` rename a finished
    temporary file into place, so readers never see a partly written file."""

    def put(self, obj: bytes, filepath: Union[str, os.PathLike]) -> None:
        with atomic_output(str(filepath)) as tmp, open(tmp, 'wb') as f:
            f.write(obj)
            f.flush()
            os.fsync(f.fileno())  # on disk before the rename makes it visible

    def put_text(self, obj: str, filepath: Union[str, os.PathLike],
                 encoding: str = 'utf-8') -> None:
        """Text (mmengine's JSON/YAML dumps) through the same atomic ``put``."""
        self.put(obj.encode(encoding), filepath)



def _complete(path: str) -> bool:
    """A torch zip checkpoint whose every member reads back with its CRC.

    Cheaper than unpickling it: no tensors are built. (mmengine loads the
    chosen one afterwards, through the safe loader.)
    """
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        bad = str(e) or type(e).__name__
    if bad is None:
        return True
    print_log(f'skipping {path}: truncated or corrupt ({bad})', logger='current',
              level=30)
    return False


def remove_stale_temporaries(work_dir: str) -> List[str]:
    """Delete the temporaries that saves killed mid-write left in ``work_dir``
    (those of processes of this host that no longer run; a live save's file
    is kept). In a distributed run only each host's first process (local rank
    0, as torchrun, Slurm or MPI set it) cleans: temporaries are per host,
    and one warning per file is enough."""
    if launcher_rank(LOCAL_RANK_VARIABLES) != 0:
        return []
    stale = remove_orphans(work_dir)
    for path in stale:
        print_log(f'removed {path}: a partial file left by an interrupted save',
                  logger='current', level=30)
    return stale


def _inside(path: str, folder: str) -> bool:
    return osp.realpath(path).startswith(osp.realpath(folder) + os.sep)


def resume_candidates(work_dir: str, checkpoint_dir: Optional[str] = None) -> List[str]:
    """The checkpoints ``--resume`` may start from, newest first: the one named
    in ``last_checkpoint`` (if it is in ``work_dir``, or in ``checkpoint_dir``,
    the checkpoint hook's ``out_dir``), then ``epoch_*.pth`` and ``iter_*.pth``
    by number."""
    candidates = []
    marker = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(marker):
        with open(marker) as f:
            named = f.read().strip()
        inside = bool(named) and (_inside(named, work_dir) or bool(
            checkpoint_dir and _inside(named, checkpoint_dir)))
        if inside:
            candidates.append(named)
        elif named:  # a work dir copied elsewhere still names the original's files
            print_log(f'last_checkpoint names {named}, outside {work_dir}: resuming from '
                      f'this work dir\'s own checkpoints', logger='current', level=30)

    def number(path: str) -> int:
        return int(re.search(r'_(\d+)\.pth$', path).group(1))

    for pattern in ('epoch_*.pth', 'iter_*.pth'):
        found = [p for p in glob.glob(osp.join(work_dir, pattern))
                 if re.search(r'_(\d+)\.pth$', p)]
        candidates += sorted(found, key=number, reverse=True)
    unique = []
    for path in candidates:
        if path not in unique and osp.isfile(path):
            unique.append(path)
    return unique


def latest_complete_checkpoint(work_dir: str,
                               checkpoint_dir: Optional[str] = None) -> Optional[str]:
    """The newest of :func:`resume_candidates` that loads, or None."""
    return next((p for p in resume_candidates(work_dir, checkpoint_dir) if _complete(p)), None)

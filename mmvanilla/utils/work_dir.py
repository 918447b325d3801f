"""One training per work dir: a run holds its work dir while it runs."""
import contextlib
import fcntl
import os
import os.path as osp
from typing import Iterator

from mmvanilla.utils.errors import ConfigError

LOCK_NAME = '.mmvanilla-train.lock'
#: Where each launcher says which process this is, before mmengine's init_dist
#: (torchrun, Slurm's srun, Open MPI, MPICH / Intel MPI).
RANK_VARIABLES = ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK', 'PMI_RANK')
LOCAL_RANK_VARIABLES = ('LOCAL_RANK', 'SLURM_LOCALID', 'OMPI_COMM_WORLD_LOCAL_RANK',
                        'MPI_LOCALRANKID')


def launcher_rank(variables=RANK_VARIABLES) -> int:
    """This process's rank as its launcher set it (0 when run alone);
    ``LOCAL_RANK_VARIABLES``: its rank on this host."""
    for name in variables:
        value = os.environ.get(name, '')
        if value.strip().isdigit():
            return int(value)
    return 0


@contextlib.contextmanager
def hold_work_dir(work_dir: str) -> Iterator[None]:
    """Hold ``work_dir`` for this process (an exclusive ``flock`` on a file in
    it, released when the block ends or the process dies); a second training
    into the same folder is refused instead of mixing configs and checkpoints.
    Only the first process of a distributed run (rank 0) holds it."""
    if launcher_rank() != 0:
        yield
        return
    path = osp.join(work_dir, LOCK_NAME)
    with open(path, 'a+') as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            owner = lock.read().strip() or 'another process'
            raise ConfigError(
                f'work dir {work_dir!r} is in use by another training ({owner}): wait for '
                f'it to end, or give this run its own --work-dir') from None
        lock.seek(0)
        lock.truncate()
        lock.write(f'pid {os.getpid()}')
        lock.flush()
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

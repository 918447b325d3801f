import os

import pytest
import torch
from mmengine.fileio import get_file_backend

from mmvanilla.utils.checkpoint_files import (
    AtomicLocalBackend,
    latest_complete_checkpoint,
)


def test_mmengine_local_writes_are_atomic(tmp_path):
    backend = get_file_backend(str(tmp_path / 'x.pth'))
    assert isinstance(backend, AtomicLocalBackend)
    backend.put(b'complete', tmp_path / 'sub' / 'x.pth')
    assert (tmp_path / 'sub' / 'x.pth').read_bytes() == b'complete'
    assert [p.name for p in (tmp_path / 'sub').iterdir()] == ['x.pth']
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / 'sub' / 'x.pth').stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    backend = get_file_backend(str(tmp_path / 'x.pth'))
    backend.put(b'old, complete', tmp_path / 'x.pth')

    def crash(*args):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'replace', crash)
    with pytest.raises(OSError, match='disk full'):
        backend.put(b'new', tmp_path / 'x.pth')
    assert (tmp_path / 'x.pth').read_bytes() == b'old, complete'
    assert [p.name for p in tmp_path.iterdir()] == ['x.pth']  # no temporary left


def test_latest_complete_checkpoint_skips_truncated_files(tmp_path):
    for epoch in (1, 2, 10):
        torch.save({'meta': {'epoch': epoch}}, tmp_path / f'epoch_{epoch}.pth')
    good = (tmp_path / 'epoch_10.pth').read_bytes()
    (tmp_path / 'epoch_11.pth').write_bytes(good[:len(good) // 3])
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_11.pth'))
    assert latest_complete_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_10.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_2.pth'))
    assert latest_complete_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_2.pth')
    (tmp_path / 'last_checkpoint').write_text('')  # killed while writing the marker
    assert latest_complete_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_10.pth')
    assert latest_complete_checkpoint(str(tmp_path / 'empty')) is None


def test_one_process_per_host_removes_stale_temporaries(tmp_path, monkeypatch):
    import subprocess

    from mmvanilla.utils.checkpoint_files import remove_stale_temporaries
    from mmvanilla_runtime.outputs import temporary_prefix
    dead = subprocess.Popen(['true'])
    dead.wait()
    stale = tmp_path / f'{temporary_prefix(dead.pid)}abc123-epoch_2.pth'
    stale.write_bytes(b'partial')
    monkeypatch.setenv('LOCAL_RANK', '1')  # another rank of this host (torchrun)
    assert remove_stale_temporaries(str(tmp_path)) == [] and stale.exists()
    monkeypatch.delenv('LOCAL_RANK')
    monkeypatch.setenv('SLURM_LOCALID', '1')  # (srun: before mmengine sets LOCAL_RANK)
    assert remove_stale_temporaries(str(tmp_path)) == [] and stale.exists()
    monkeypatch.setenv('SLURM_LOCALID', '0')
    assert remove_stale_temporaries(str(tmp_path)) == [str(stale)] and not stale.exists()

"""A training killed with SIGKILL in the middle of a real checkpoint save resumes
to the same weights (deep-training lambda included) as an uninterrupted run."""
import os
import signal
import subprocess
import sys
import time

import torch

from mmvanilla.utils.safe_checkpoint import safe_load
from tests.conftest import REPO, call_tool, log_text
from tests.detection_options import tiny_detector_options

# Loaded into the training process through PYTHONPATH: when the atomic writer
# is about to rename the finished temporary file of epoch_3.pth into place, it
# says so in a marker file and waits, so that the kill lands inside the save.
PAUSE_SAVE = '''
import os, time
_replace = os.replace
def replace(src, dst, *args, **kwargs):
    if str(dst).endswith('epoch_3.pth') and os.path.basename(str(src)).startswith('.tmp-'):
        open(os.environ['PAUSE_MARKER'], 'w').write(str(src))
        while True:
            time.sleep(1)
    return _replace(src, dst, *args, **kwargs)
os.replace = replace
'''


def write_config(tmp_path):
    """The RetinaNet config with the paper's deep training: lambda goes 0 -> 1
    over 4 epochs, so at the kill (epoch 3) it is neither 0 nor 1."""
    path = tmp_path / 'deep_training.py'
    path.write_text(f"_base_ = '{REPO / 'configs' / 'retinanet_vanillanet11.py'}'\n"
                    "custom_hooks = [dict(type='DeepTrainingHook', epochs=4)]\n")
    return path


def deterministic_options(shapes_root):
    # RandomFlip stays on: non-persistent workers are re-seeded the same way
    # every epoch, so an epoch's data do not depend on what ran before.
    return tiny_detector_options(shapes_root, 'retinanet', epochs=3) + [
        'randomness.deterministic=True', 'train_dataloader.num_workers=1',
        'train_cfg.val_interval=100']


def test_kill_during_a_save_and_resume_reaches_the_same_weights(shapes_root, tmp_path):
    config, options = write_config(tmp_path), deterministic_options(shapes_root)
    straight, killed = tmp_path / 'straight', tmp_path / 'killed'
    proc = call_tool('train.py', config, '--work-dir', straight, '--cfg-options', *options)
    assert proc.returncode == 0, proc.stderr[-3000:]

    hook_dir, marker = tmp_path / 'pause', tmp_path / 'saving'
    hook_dir.mkdir()
    (hook_dir / 'sitecustomize.py').write_text(PAUSE_SAVE)
    child = subprocess.Popen(
        [sys.executable, str(REPO / 'tools' / 'train.py'), str(config), '--work-dir',
         str(killed), '--cfg-options', *options], cwd=REPO, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
        env=dict(os.environ, PYTHONWARNINGS='ignore', PAUSE_MARKER=str(marker),
                 OMP_NUM_THREADS=str(torch.get_num_threads()),  # as the in-process runs
                 PYTHONPATH=os.pathsep.join(filter(None, [str(hook_dir),
                                                          os.environ.get('PYTHONPATH')]))))
    deadline = time.time() + 240
    while not marker.exists():
        assert child.poll() is None and time.time() < deadline, 'run ended before the save'
        time.sleep(0.2)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    partial = marker.read_text()
    assert os.path.isfile(partial) and os.path.getsize(partial) > 0  # the dead save's file
    assert not (killed / 'epoch_3.pth').exists()
    assert (killed / 'last_checkpoint').read_text().endswith('epoch_2.pth')

    proc = call_tool('train.py', config, '--work-dir', killed, '--resume',
                    '--cfg-options', *options)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert not os.path.exists(partial)  # the partial save was cleaned up
    assert 'resumed epoch: 2, iter: 4' in log_text(killed)

    a, b = safe_load(str(straight / 'epoch_3.pth')), safe_load(str(killed / 'epoch_3.pth'))
    assert a['meta']['iter'] == b['meta']['iter'] == 6
    assert a['state_dict'].keys() == b['state_dict'].keys()
    lam = a['state_dict']['backbone.deep_training_lambda'].item()
    assert 0 < lam < 1  # mid-annealing: a restart from 0 or 1 would differ
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key


def test_resume_skips_a_truncated_newest_checkpoint(shapes_root, tmp_path):
    """A file truncated by other means (copy, full disk) with last_checkpoint
    naming it: the newest complete checkpoint is used instead."""
    options = deterministic_options(shapes_root)
    proc = call_tool('train.py', REPO / 'configs' / 'retinanet_vanillanet11.py', '--work-dir',
                    tmp_path, '--cfg-options', *options[:-1], 'train_cfg.max_epochs=2',
                    'train_cfg.val_interval=100')
    assert proc.returncode == 0, proc.stderr[-3000:]
    good = (tmp_path / 'epoch_2.pth').read_bytes()
    (tmp_path / 'epoch_3.pth').write_bytes(good[:len(good) // 2])
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_3.pth'))
    proc = call_tool('train.py', REPO / 'configs' / 'retinanet_vanillanet11.py', '--work-dir',
                    tmp_path, '--resume', '--cfg-options', *options)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert 'skipping' in out and 'truncated or corrupt' in out
    assert 'resumed epoch: 2, iter: 4' in log_text(tmp_path)
    assert safe_load(str(tmp_path / 'epoch_3.pth'))['meta']['iter'] == 6

"""A training killed with SIGKILL resumes to the same weights as an uninterrupted one."""
import os
import signal
import subprocess
import sys
import time

import torch

from mmvanilla.utils import safe_load
from tests.conftest import REPO, log_text, run_tool
from tests.detection_options import tiny_detector_options

CONFIG = REPO / 'configs' / 'retinanet_vanillanet11.py'


def deterministic_options(shapes_root):
    # RandomFlip stays on: non-persistent workers are re-seeded the same way
    # every epoch, so an epoch's data do not depend on what ran before.
    return tiny_detector_options(shapes_root, 'retinanet', epochs=3) + [
        'randomness.deterministic=True', 'train_dataloader.num_workers=1',
        'train_cfg.val_interval=100']


def test_kill_and_resume_reaches_the_same_weights(shapes_root, tmp_path):
    options = deterministic_options(shapes_root)
    straight, killed = tmp_path / 'straight', tmp_path / 'killed'
    proc = run_tool('train.py', CONFIG, '--work-dir', straight, '--cfg-options', *options)
    assert proc.returncode == 0, proc.stderr[-3000:]

    log = open(tmp_path / 'killed.log', 'w')
    child = subprocess.Popen(
        [sys.executable, str(REPO / 'tools' / 'train.py'), str(CONFIG), '--work-dir',
         str(killed), '--cfg-options', *options], cwd=REPO, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
        env=dict(os.environ, PYTHONWARNINGS='ignore'))
    deadline = time.time() + 240
    while 'Epoch(train) [3][1/2]' not in (tmp_path / 'killed.log').read_text():
        assert child.poll() is None and time.time() < deadline, 'run ended before the kill'
        time.sleep(0.2)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    assert not (killed / 'epoch_3.pth').exists()
    # Worst case: killed while writing epoch 3, with last_checkpoint naming it.
    good = (killed / 'epoch_2.pth').read_bytes()
    (killed / 'epoch_3.pth').write_bytes(good[:len(good) // 2])
    (killed / 'last_checkpoint').write_text(str(killed / 'epoch_3.pth'))

    proc = run_tool('train.py', CONFIG, '--work-dir', killed, '--resume',
                    '--cfg-options', *options)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert 'skipping' in out and 'truncated or corrupt' in out
    assert 'resumed epoch: 2, iter: 4' in log_text(killed)

    a, b = safe_load(str(straight / 'epoch_3.pth')), safe_load(str(killed / 'epoch_3.pth'))
    assert a['meta']['iter'] == b['meta']['iter'] == 6
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key

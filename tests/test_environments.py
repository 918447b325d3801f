"""The environments researchers already have: mmvanilla trains and evaluates
beside numpy 1.26 as well as numpy 2 (numpy 1.26 from tools/setup_env.sh, put
first on PYTHONPATH, as a user's older site-packages would be). transformers
and timm are in the venv itself: the whole suite runs beside them
(tests/engine/optimizers: a fresh interpreter that imports them first)."""
import os
import subprocess
import sys

from tests.conftest import REPO, coco_metrics, log_text, run_program
from tests.detection_options import tiny_detector_options


def test_training_and_coco_evaluation_run_beside_numpy_1(shapes_root, tmp_path):
    numpy1 = os.path.join(sys.prefix, 'numpy1')
    assert os.path.isdir(os.path.join(numpy1, 'numpy')), \
        f'{numpy1} lacks numpy 1.26: run bash tools/setup_env.sh'
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([numpy1, str(REPO)]))
    version = subprocess.run([sys.executable, '-c', 'import numpy; print(numpy.__version__)'],
                             env=env, capture_output=True, text=True)
    assert version.stdout.strip() == '1.26.4', version.stdout + version.stderr
    proc = run_program('train.py', REPO / 'configs' / 'retinanet_vanillanet11.py', '--work-dir',
                       tmp_path, '--cfg-options', *tiny_detector_options(shapes_root),
                       env={'PYTHONPATH': env['PYTHONPATH']})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'bbox_mAP' in coco_metrics(log_text(tmp_path))

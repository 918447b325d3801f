"""The environments researchers already have: mmvanilla trains and evaluates
beside numpy 1.26 as well as numpy 2 (numpy 1.26 from tools/setup_env.sh, put
first on PYTHONPATH, as a user's older site-packages would be). transformers
and timm are in the venv itself: the whole suite runs beside them
(tests/engine/optimizers: a fresh interpreter that imports them first)."""
import os
import subprocess
import sys

from tests.conftest import REPO, log_text, run_program
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
    assert (tmp_path / 'epoch_1.pth').is_file() and 'Epoch(val) [1]' in log_text(tmp_path)
    # COCO evaluation itself (a 1-epoch model detects nothing): the ground truth
    # as detections scores AP 1 through mmdet's CocoMetric, under numpy 1.26
    script = f'''
import json, numpy, torch
from mmdet.evaluation import CocoMetric
ann = {shapes_root!r} + '/annotations/instances_val.json'
coco = json.load(open(ann))
metric = CocoMetric(ann_file=ann, metric='bbox')
metric.dataset_meta = dict(classes=[c['name'] for c in coco['categories']])
for image in coco['images']:
    boxes = [a for a in coco['annotations'] if a['image_id'] == image['id']]
    xyxy = [[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in boxes)]
    labels = [[c['id'] for c in coco['categories']].index(a['category_id']) for a in boxes]
    metric.process({{}}, [dict(img_id=image['id'], ori_shape=(image['height'], image['width']),
                          pred_instances=dict(bboxes=torch.tensor(xyxy).reshape(-1, 4).float(),
                                              scores=torch.ones(len(boxes)),
                                              labels=torch.tensor(labels, dtype=torch.long)))])
result = metric.evaluate(len(coco['images']))
print(numpy.__version__, result['coco/bbox_mAP'])
'''
    proc = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.stdout.split()[-2:] == ['1.26.4', '1.0'], proc.stdout[-500:] + proc.stderr[-3000:]

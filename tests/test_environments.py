"""The environments researchers already have: mmvanilla trains and evaluates
beside numpy 1.26 as well as numpy 2 (numpy 1.26 from tools/setup_env.sh, put
first on PYTHONPATH, as a user's older site-packages would be). transformers
and timm are in the venv itself: the whole suite runs beside them
(tests/engine/optimizers: a fresh interpreter that imports them first)."""
import os
import subprocess
import sys

import torch

from tests.conftest import REPO, log_text
from tests.detection_options import tiny_detector_options


def test_training_and_coco_evaluation_run_beside_numpy_1(shapes_root, tmp_path):
    numpy1 = os.path.join(sys.prefix, 'numpy1')
    assert os.path.isdir(os.path.join(numpy1, 'numpy')), \
        f'{numpy1} lacks numpy 1.26: run bash tools/setup_env.sh'
    # one process under numpy 1.26: tools/train.py's main, then COCO evaluation itself
    # (a 1-epoch model detects nothing): the ground truth as detections scores AP 1
    # through mmdet's CocoMetric
    options = tiny_detector_options(shapes_root)
    script = f'''
import json, numpy, torch
assert numpy.__version__ == '1.26.4', numpy.__version__
from mmvanilla.cli import call
from mmvanilla.tools import train
assert call(train.main, [{str(REPO / 'configs' / 'retinanet_vanillanet11.py')!r}, '--work-dir',
                         {str(tmp_path)!r}, '--cfg-options', *{options!r}]) == 0
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
    proc = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          timeout=300, cwd=REPO, env=dict(
                              os.environ, PYTHONWARNINGS='ignore',
                              OMP_NUM_THREADS=str(torch.get_num_threads()),
                              PYTHONPATH=os.pathsep.join([numpy1, str(REPO)])))
    assert proc.stdout.split()[-2:] == ['1.26.4', '1.0'], proc.stdout[-500:] + proc.stderr[-3000:]
    assert (tmp_path / 'epoch_1.pth').is_file() and 'Epoch(val) [1]' in log_text(tmp_path)

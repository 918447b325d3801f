"""The official detectors as released: mmdet 2.x / mmcv 1.x files (synthesised
in exactly that layout, REFERENCE §7) evaluate through tools/test.py."""
import collections
import zipfile

import numpy as np
import pytest
import torch

from mmvanilla.apis.detector import build_detector
from mmvanilla.utils.safe_checkpoint import safe_load
from tests.conftest import (
    REPO,
    call_tool,
    cli_options,
    coco_metrics,
    log_text,
    randomize_norms,
)
from tests.detection_options import tiny_detector_options
from tests.numpy1 import numpy1_pickles

OFFICIAL = REPO / 'configs' / 'official'
CONFIGS = {'retinanet': OFFICIAL / 'retinanet_vanillanet13_mstrain_480-1024_adamw.py',
           'mask_rcnn': OFFICIAL / 'mask_rcnn_vanillanet13_mstrain_480-1024_adamw.py'}


#: Module names in the released mmdet 2.x files (the official backbone's
#: stem1/stem2/stages and mmdet 2.x's FPN and heads), written out rather than
#: taken from our model, so a name that mmdet 3.x changed would be caught.
OFFICIAL_2X_KEYS = {
    'retinanet': ['backbone.stem1.0.weight', 'backbone.stem1.1.running_var',
                  'backbone.stem2.0.bias', 'backbone.stem2.2.weight',
                  'backbone.stem2.2.bn.running_mean', 'backbone.stages.0.conv1.0.weight',
                  'backbone.stages.0.conv1.1.num_batches_tracked',
                  'backbone.stages.2.conv2.1.weight', 'backbone.stages.2.act.weight',
                  'backbone.stages.2.act.bn.bias', 'neck.lateral_convs.0.conv.weight',
                  'neck.fpn_convs.4.conv.bias', 'bbox_head.cls_convs.0.conv.weight',
                  'bbox_head.reg_convs.0.conv.bias', 'bbox_head.retina_cls.weight',
                  'bbox_head.retina_reg.bias'],
    'mask_rcnn': ['backbone.stem1.0.weight', 'backbone.stages.2.act.bn.running_var',
                  'neck.lateral_convs.2.conv.weight', 'neck.fpn_convs.2.conv.bias',
                  'rpn_head.rpn_conv.weight', 'rpn_head.rpn_cls.bias', 'rpn_head.rpn_reg.weight',
                  'roi_head.bbox_head.shared_fcs.0.weight', 'roi_head.bbox_head.shared_fcs.1.bias',
                  'roi_head.bbox_head.fc_cls.weight', 'roi_head.bbox_head.fc_reg.bias',
                  'roi_head.mask_head.convs.3.conv.weight', 'roi_head.mask_head.upsample.weight',
                  'roi_head.mask_head.conv_logits.bias'],
}


def mmdet2_checkpoint(path, kind, options):
    """What mmdet 2.x's ``save_checkpoint`` wrote: ``meta`` with mmcv 1.x fields
    (numpy 1.x pickles inside), ``state_dict`` under the module names mmdet 3.x
    kept, ``optimizer``; no deep-training lambda (the official backbone has none)."""
    model, _, _ = build_detector(str(CONFIGS[kind]), cfg_options=cli_options(options))
    randomize_norms(model.backbone)
    assert set(OFFICIAL_2X_KEYS[kind]) <= set(model.state_dict())
    state = collections.OrderedDict(
        (k, v) for k, v in model.state_dict().items() if 'deep_training_lambda' not in k)
    meta = dict(mmcv_version='1.7.1', mmdet_version='2.28.2', time='Mon Jun  5 10:00:00 2023',
                CLASSES=('circle', 'square', 'triangle'), epoch=12, iter=87960,
                config="model = dict(type='RetinaNet')\n", env_info='sys.platform: linux',
                seed=np.int64(0), exp_name=CONFIGS[kind].name,
                hook_msgs=dict(last_ckpt='work_dirs/x/epoch_12.pth',
                               best_score=np.float64(0.43), scores=np.array([0.41, 0.43])))
    with numpy1_pickles():
        torch.save(dict(meta=meta, state_dict=state, optimizer=dict(
            state={}, param_groups=[dict(lr=8e-7, betas=(0.9, 0.999), params=[0])])), path)
    return state


def test_synthesised_file_is_numpy1(tmp_path, shapes_root):
    mmdet2_checkpoint(tmp_path / 'r.pth', 'retinanet',
                      tiny_detector_options(shapes_root, 'retinanet'))
    with zipfile.ZipFile(tmp_path / 'r.pth') as z:
        pickle = next(z.read(n) for n in z.namelist() if n.endswith('data.pkl'))
    assert b'numpy.core.multiarray' in pickle and b'numpy._core' not in pickle
    meta = safe_load(tmp_path / 'r.pth')['meta']
    assert meta['hook_msgs']['scores'].tolist() == [0.41, 0.43] and meta['seed'] == 0


@pytest.mark.parametrize('kind', ['retinanet', 'mask_rcnn'])
def test_released_mmdet2_detector_evaluates_plain_fused_and_reparameterized(
        kind, shapes_root, tmp_path):
    # Random weights score at the prior: keep every box so that COCO evaluates.
    options = tiny_detector_options(shapes_root, kind) + [
        'model.test_cfg.score_thr=0.0' if kind == 'retinanet' else
        'model.test_cfg.rcnn.score_thr=0.0']
    ckpt = tmp_path / f'{kind}_vanillanet_13.pth'
    state = mmdet2_checkpoint(ckpt, kind, options)
    # Every key of the released file fills the 3.x model, with its value.
    model, _, meta = build_detector(str(CONFIGS[kind]), str(ckpt), cli_options(options))
    assert meta['mmcv_version'] == '1.7.1'
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    expected = {'bbox_mAP'} | ({'segm_mAP'} if kind == 'mask_rcnn' else set())
    for extra in ([], ['--deploy']):  # tools/test.py refuses a file that does not fit
        work_dir = tmp_path / f'w{len(extra)}'
        proc = call_tool('test.py', CONFIGS[kind], ckpt, '--work-dir', work_dir,
                        *extra, '--cfg-options', *options)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert expected <= set(coco_metrics(log_text(work_dir)))
        assert 'test: bbox AP' in proc.stdout
        assert ('reparameterized the model' in proc.stdout + proc.stderr) == bool(extra)
    proc = call_tool('reparameterize.py', CONFIGS[kind], ckpt, tmp_path / 'deploy',
                    '--cfg-options', *options)
    assert proc.returncode == 0, proc.stderr[-3000:]
    fused = safe_load(tmp_path / 'deploy' / f'{kind}_vanillanet_13_deploy.pth')
    assert fused['meta']['mmdet_version'] == '2.28.2' and fused['meta']['reparameterized']

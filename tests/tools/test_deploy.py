"""tools/deploy.py: Mask R-CNN in INT8 from a checkpoint to masks in the
runtime's JSON; what it cannot deploy is one line and writes nothing."""
import json

import torch

from mmvanilla.apis.detector import build_detector
from mmvanilla_runtime.__main__ import run as runtime_main
from tests.conftest import REPO, call_tool, cli_options, randomize_norms
from tests.detection_options import tiny_detector_options
from tests.tools.test_bad_inputs import one_line_error

MASK_RCNN = REPO / 'configs' / 'mask_rcnn_vanillanet11.py'


def test_mask_rcnn_deploys_in_int8_and_the_runtime_writes_masks(shapes_root, tmp_path):
    options = tiny_detector_options(shapes_root, 'mask_rcnn')
    model, cfg, _ = build_detector(str(MASK_RCNN), cfg_options=cli_options(options))
    randomize_norms(model)
    torch.save(dict(state_dict=model.state_dict()), tmp_path / 'ckpt.pth')
    out = tmp_path / 'int8'
    proc = call_tool('deploy.py', MASK_RCNN, tmp_path / 'ckpt.pth', out, '--precision', 'int8',
                     '--calib-images', 2, '--cfg-options', *options)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'calibrating on 2 training images' in proc.stdout
    desc = json.loads((out / 'pipeline.json').read_text())
    assert desc['precision'] == 'int8' and desc['outputs'][-1] == 'masks'
    assert desc['classes'] == ['circle', 'square', 'triangle']
    assert runtime_main([str(out), f'{shapes_root}/val', '--out', str(tmp_path / 'r.json'),
                         '--engine', 'onnxruntime']) == 0
    entries = json.loads((tmp_path / 'r.json').read_text())
    assert entries and all(e['segmentation']['size'] == [256, 320] for e in entries)
    from pycocotools import mask as mask_util
    assert sum(int(mask_util.area(dict(e['segmentation'], counts=e['segmentation']['counts']
                                       .encode()))) for e in entries) > 0

    # tools/test.py --precision int8 runs the same artefact in mmdet's loop: its
    # best detections and masks are the fp32 detector's (INT8 rounding apart)
    from mmdet.registry import DATASETS
    from mmdet.structures.bbox import bbox_overlaps as box_iou
    from mmengine.dataset import pseudo_collate

    from mmvanilla.deploy.precision import apply_precision
    from mmvanilla.models import switch_to_deploy
    switch_to_deploy(model)
    int8, _ = apply_precision(model, 'int8', str(out))
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    batch = pseudo_collate([dataset[0]])
    with torch.no_grad():
        expected = model.test_step(batch)[0].pred_instances
        got = int8.test_step(batch)[0].pred_instances
    assert got.masks.shape[1:] == expected.masks.shape[1:] == (256, 320)
    assert len(expected) >= 10 and len(got) >= 10
    best, twin = box_iou(expected.bboxes[:10], got.bboxes).max(1)
    assert (best >= 0.5).all() and (best >= 0.9).sum() >= 5, best
    for k in torch.nonzero(best >= 0.9)[:, 0]:
        a, b = expected.masks[k], got.masks[twin[k]]
        assert (a & b).sum() / (a | b).sum().clamp(min=1) >= 0.8


def test_what_cannot_be_deployed_is_one_line_and_writes_nothing(
        trained_retinanet, shapes_root, tmp_path):
    _, checkpoint, options = trained_retinanet
    out = tmp_path / 'out'
    proc = call_tool('deploy.py', REPO / 'configs' / 'retinanet_vanillanet11.py', checkpoint,
                     out, '--cfg-options', *options,
                     'test_dataloader.dataset.pipeline.1.type=RandomResize')
    one_line_error(proc, 'the deployed runtime prepares images as LoadImageFromFile',
                   "['LoadImageFromFile', 'RandomResize']")
    proc = call_tool('deploy.py', REPO / 'configs' / 'retinanet_vanillanet11.py', checkpoint,
                     out, '--precision', 'int8', '--cfg-options', *options,
                     f'train_dataloader.dataset.data_root={tmp_path}/nothing/')
    one_line_error(proc, 'not found')
    assert not out.exists() and list(tmp_path.glob('.tmp-*')) == []

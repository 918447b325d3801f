"""INT8 (QDQ ONNX from ONNX Runtime, run by OpenVINO) agrees with fp32 on a tiny trained detector."""
import copy

import pytest
import torch

from mmvanilla.deploy import DetectorNetwork
from mmvanilla.deploy.apply import apply_precision
from mmvanilla.deploy.calibration import calibration_source, evenly_spaced
from mmvanilla.deploy.openvino_network import OpenVINONetwork
from mmvanilla.deploy.quantization import quantize_detector
from mmvanilla.utils.detector import max_rel_err
from mmvanilla.utils.errors import ConfigError
from tests.conftest import val_batches
from tests.deploy.test_reduced_precision import fused_detector

# INT8 activations have 255 steps over each calibrated range, so every
# quantized layer adds up to half a step (1/510 of its range); weights are
# per channel. Through the tiny detector's ~15 quantized layers the head's
# outputs stay within a few percent of their largest value; the bound is
# 50 half-steps.
INT8_TOLERANCE = 50 / 510


@pytest.fixture(scope='module')
def int8_network(trained_retinanet, tmp_path_factory):
    model, cfg = fused_detector(trained_retinanet)
    indices, load = calibration_source(cfg, model, 4)
    path = str(tmp_path_factory.mktemp('int8') / 'network_int8.onnx')
    quantize_detector(model, indices, load, path)
    return model, cfg, path


def test_evenly_spaced_calibration_indices():
    assert evenly_spaced(3, 9) == [0, 4, 8]
    assert evenly_spaced(20, 5) == [0, 1, 2, 3, 4]


def test_int8_network_agrees_with_fp32(int8_network):
    model, cfg, path = int8_network
    fp32, int8 = DetectorNetwork(model), OpenVINONetwork(path)
    for inputs in val_batches(cfg):
        with torch.no_grad():
            expected = fp32(inputs)
        got = int8(inputs)
        assert [t.shape for t in got] == [t.shape for t in expected]
        assert 0 < max_rel_err(list(got), list(expected)) <= INT8_TOLERANCE


def test_int8_detector_keeps_mmdet_post_processing(int8_network):
    model, cfg, path = int8_network
    int8 = copy.deepcopy(model)
    info = apply_precision(int8, 'int8', path)
    assert info['precision'] == 'int8' and info['int8_model'] == path
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    batch = pseudo_collate([dataset[0]])
    with torch.no_grad():
        got = int8.test_step(batch)[0].pred_instances
        expected = model.test_step(batch)[0].pred_instances
    # the same post-processing (score threshold, NMS, top-k) on nearby scores
    assert got.bboxes.dtype == torch.float32
    assert abs(len(got) - len(expected)) <= max(2, len(expected) // 10)


def test_two_stage_detector_is_refused_with_a_hint(shapes_root):
    from mmvanilla.utils.detector import build_detector
    from tests.conftest import REPO, cli_options
    from tests.detection_options import tiny_detector_options
    model, _, _ = build_detector(str(REPO / 'configs' / 'mask_rcnn_vanillanet11.py'),
                                 cfg_options=cli_options(
                                     tiny_detector_options(shapes_root, 'mask_rcnn')))
    with pytest.raises(ConfigError, match='--precision bf16'):
        apply_precision(model, 'int8', 'unused.onnx')


def test_missing_openvino_model_names_the_tool(tmp_path):
    with pytest.raises(ConfigError, match='tools/quantize.py'):
        OpenVINONetwork(str(tmp_path / 'absent.onnx'))

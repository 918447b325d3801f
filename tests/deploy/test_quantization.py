"""INT8 (QDQ ONNX from ONNX Runtime, run by OpenVINO) agrees with fp32 on a tiny trained detector."""
import copy

import pytest
import torch

from mmvanilla.apis.detector import max_rel_err
from mmvanilla.deploy import DetectorNetwork
from mmvanilla.deploy.apply import apply_precision
from mmvanilla.deploy.calibration import evenly_spaced
from mmvanilla.deploy.openvino_network import OpenVINONetwork
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
def int8_network(trained_retinanet, spread_scores_checkpoint, int8_artefact):
    """The fused detector and tools/quantize.py's INT8 network of it
    (quantize_detector on 4 calibration images); spread scores: hundreds
    of detections per image to post-process."""
    model, cfg = fused_detector(trained_retinanet, spread_scores_checkpoint)
    out, _ = int8_artefact
    return model, cfg, str(out / 'network_int8.onnx')


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


def test_int8_weights_leave_headroom_for_cpus_without_vnni(int8_network):
    # 7-bit weights (reduce_range): u8 x s8 products summed in pairs fit int16
    # on AVX2 / pre-VNNI CPUs, where full-range weights saturate.
    import onnx
    from onnx import numpy_helper
    _, _, path = int8_network
    weights = [numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer
               if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 4]
    assert len(weights) >= 10  # every conv of the tiny detector
    assert all(w.min() >= -64 and w.max() <= 64 for w in weights)
    assert max(int(abs(w).max()) for w in weights) >= 60  # yet the 7 bits are used


def test_int8_detector_keeps_mmdet_post_processing(int8_network):
    model, cfg, path = int8_network
    int8 = copy.deepcopy(model)
    info = apply_precision(int8, 'int8', path)
    assert info['precision'] == 'int8' and info['int8_model'] == path
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    batch = pseudo_collate([dataset[0]])
    assert isinstance(int8.backbone, OpenVINONetwork) and int8.neck is None
    with torch.no_grad():
        got = int8.test_step(batch)[0].pred_instances
        expected = model.test_step(batch)[0].pred_instances
    # mmdet's post-processing (score threshold, NMS, top-k) on nearby scores:
    # about as many detections, the best ones scored alike
    assert got.bboxes.dtype == torch.float32 and len(expected) >= 20
    assert abs(len(got) - len(expected)) <= len(expected) // 5
    top = min(len(got), len(expected), 20)
    assert (got.scores[:top] - expected.scores[:top]).abs().max() <= INT8_TOLERANCE


def test_two_stage_detector_is_refused_with_a_hint(shapes_root):
    from mmvanilla.apis.detector import build_detector
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

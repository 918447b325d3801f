"""INT8 (the end-to-end graph's network quantized to QDQ by ONNX Runtime, run
by OpenVINO) agrees with fp32 on a tiny trained detector."""
import pytest
import torch

from mmvanilla.deploy.calibration import evenly_spaced
from mmvanilla.deploy.precision import apply_precision
from tests.deploy.test_reduced_precision import fused_detector

# INT8 activations have 255 steps over each calibrated range, so every
# quantized layer adds up to half a step (1/510 of its range); weights are
# per channel. Through the tiny detector's ~15 quantized layers the head's
# outputs stay within a few percent of their largest value; the bound is
# 50 half-steps.
INT8_TOLERANCE = 50 / 510


@pytest.fixture(scope='module')
def int8_model(trained_retinanet, spread_scores_checkpoint, int8_artefact):
    """The fused detector and tools/quantize.py's INT8 artefact folder of it
    (4 calibration images); spread scores: hundreds of detections per image."""
    model, cfg = fused_detector(trained_retinanet, spread_scores_checkpoint)
    out, _ = int8_artefact
    return model, cfg, out


def test_evenly_spaced_calibration_indices():
    assert evenly_spaced(3, 9) == [0, 4, 8]
    assert evenly_spaced(20, 5) == [0, 1, 2, 3, 4]


def test_int8_weights_leave_headroom_for_cpus_without_vnni(int8_model):
    # 7-bit weights (reduce_range): u8 x s8 products summed in pairs fit int16
    # on AVX2 / pre-VNNI CPUs, where full-range weights saturate.
    import onnx
    from onnx import numpy_helper
    _, _, out = int8_model
    weights = [numpy_helper.to_array(t) for t in onnx.load(out / 'model.onnx').graph.initializer
               if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 4]
    assert len(weights) >= 10  # every conv of the tiny detector
    assert all(w.min() >= -64 and w.max() <= 64 for w in weights)
    assert max(int(abs(w).max()) for w in weights) >= 60  # yet the 7 bits are used


def assert_only_the_detector_layers_are_quantized(model_path, layers):
    """Anchors, box decoding and NMS stay fp32: no quantized tensor reaches them."""
    import onnx
    graph = onnx.load(model_path).graph
    dequantized = {n.output[0] for n in graph.node if n.op_type == 'DequantizeLinear'}
    consumers = [n for n in graph.node if set(n.input) & dequantized
                 and n.op_type != 'Shape']  # (a Shape reads only the map's size)
    assert len(consumers) >= 10
    assert all(n.name.split('/')[1] in layers for n in consumers), \
        sorted({n.name for n in consumers if n.name.split('/')[1] not in layers})


def test_only_the_detector_layers_are_quantized(int8_model):
    _, _, out = int8_model
    assert_only_the_detector_layers_are_quantized(out / 'model.onnx',
                                                  ('backbone', 'neck', 'bbox_head'))


def test_int8_artefact_detects_as_the_fp32_detector(int8_model):
    model, cfg, out = int8_model
    int8, info = apply_precision(model, 'int8', str(out))
    assert info['precision'] == 'int8' and int8.detector is model  # wrapped, not rewired
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    batch = pseudo_collate([dataset[0]])
    with torch.no_grad():
        got = int8.test_step(batch)[0].pred_instances
        expected = model.test_step(batch)[0].pred_instances
    # post-processing (score threshold, NMS, top-k) on nearby scores: about as
    # many detections, the best ones scored alike
    assert got.bboxes.dtype == torch.float32 and len(expected) >= 20
    assert abs(len(got) - len(expected)) <= len(expected) // 5
    top = min(len(got), len(expected), 20)
    assert (got.scores[:top] - expected.scores[:top]).abs().max() <= INT8_TOLERANCE

"""bf16 (and the same code path for fp16) agrees with fp32 on a tiny trained
detector, and hands fp32 to mmdet's post-processing."""
import copy

import torch

from mmvanilla.apis.detector import build_detector, pre_nms_outputs
from mmvanilla.deploy import to_reduced_precision
from mmvanilla.models import switch_to_deploy
from mmvanilla.utils.numerics import max_rel_err
from tests.conftest import REPO, cli_options, val_batches

CONFIG = str(REPO / 'configs' / 'retinanet_vanillanet11.py')
# bf16 keeps 8 significant bits: each rounding is off by up to 2^-9 (2e-3)
# relative. Over the tiny detector's ~15 conv layers the errors add up to
# ~1e-2 of each map's largest value (VN-11 at 1280x800: 1.1e-2); the bound is
# 20 roundings' worth.
BF16_TOLERANCE = 20 * 2.0 ** -9


def fused_detector(trained_retinanet, checkpoint=None):
    _, trained, options = trained_retinanet
    model, cfg, _ = build_detector(CONFIG, str(checkpoint or trained), cli_options(options))
    switch_to_deploy(model)
    return model, cfg


def test_bf16_outputs_agree_with_fp32(trained_retinanet):
    model, cfg = fused_detector(trained_retinanet)
    bf16 = to_reduced_precision(copy.deepcopy(model), torch.bfloat16)
    assert next(bf16.backbone.parameters()).dtype == torch.bfloat16
    for inputs in val_batches(cfg):
        expected = pre_nms_outputs(model, inputs)
        got = pre_nms_outputs(bf16, inputs)
        # FPN maps and the head's outputs come back as fp32 for post-processing
        assert all(t.dtype == torch.float32 for t in got)
        err = max_rel_err(got, expected)
        assert 0 < err <= BF16_TOLERANCE


def test_bf16_detector_predicts_in_fp32(trained_retinanet):
    model, cfg = fused_detector(trained_retinanet)
    to_reduced_precision(model, torch.bfloat16)
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    with torch.no_grad():
        result = model.test_step(pseudo_collate([dataset[0]]))[0]
    assert result.pred_instances.bboxes.dtype == torch.float32
    assert result.pred_instances.scores.dtype == torch.float32


def test_two_stage_detector_runs_rpn_in_bf16_and_roi_heads_in_fp32(shapes_root):
    from tests.detection_options import tiny_detector_options
    options = cli_options(tiny_detector_options(shapes_root, 'mask_rcnn'))
    model, cfg, _ = build_detector(str(REPO / 'configs' / 'mask_rcnn_vanillanet11.py'),
                                   cfg_options=options)
    switch_to_deploy(model)
    to_reduced_precision(model, torch.bfloat16)
    assert next(model.rpn_head.parameters()).dtype == torch.bfloat16
    assert next(model.roi_head.parameters()).dtype == torch.float32
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    with torch.no_grad():
        result = model.test_step(pseudo_collate([dataset[0]]))[0]
    assert result.pred_instances.bboxes.dtype == torch.float32
    assert result.pred_instances.masks.shape[-2:] == result.ori_shape


def test_bf16_two_stage_detector_detects_as_fp32(shapes_root):
    # the RoI heads read fp32 NCHW maps (mmcv's RoIAlign scrambled channels-last
    # ones: AP 0.001 before)
    from tests.deploy.test_end_to_end import tiny_detector
    model, cfg = tiny_detector(shapes_root, 'mask_rcnn')
    bf16 = to_reduced_precision(copy.deepcopy(model), torch.bfloat16)
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate
    batch = pseudo_collate([DATASETS.build(cfg.test_dataloader.dataset)[0]])
    with torch.no_grad():
        expected = model.test_step(batch)[0].pred_instances
        got = bf16.test_step(batch)[0].pred_instances
    assert len(expected) >= 20
    # the best-scored boxes of fp32 are found by bf16 too (bf16 rounds to 3 digits)
    for box in expected.bboxes[:10]:
        assert (got.bboxes - box).abs().max(1).values.min() < 2.0


def test_a_peer_backbone_that_makes_fp32_tensors_runs_in_bf16():
    """mmdet's Swin adds an fp32 attention mask to its scores inside forward:
    autocast keeps the windows' matmuls in bf16 (the peer rows of
    tools/benchmark.py --formats pytorch-bf16)."""
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')

    class Detector(torch.nn.Module):  # (what to_reduced_precision reads of a detector)
        def __init__(self):
            super().__init__()
            self.backbone = MODELS.build(dict(
                type='SwinTransformer', embed_dims=16, depths=(2, 2), num_heads=(1, 2),
                window_size=4, strides=(4, 2), out_indices=(0, 1)))
    torch.manual_seed(0)
    model = Detector().eval()  # (Swin's own train() returns None)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = model.backbone(x)
        got = to_reduced_precision(model, torch.bfloat16).backbone(x)
    assert [g.dtype for g in got] == [torch.bfloat16] * 2
    assert max_rel_err([g.float() for g in got], list(expected)) <= BF16_TOLERANCE

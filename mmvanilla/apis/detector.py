"""Build a detector from a config file for offline tools (CPU, eval mode)."""
import copy
from typing import List, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import Tensor, nn

from mmvanilla.apis.config import load_config
from mmvanilla.apis.config_checks import (check_backbone_and_neck, check_levels,
                                          check_model_arguments, check_model_runs,
                                          check_numbers)
from mmvanilla.models import switch_to_deploy
from mmvanilla.utils.checkpoint_fit import check_checkpoint_fits, checkpoint_state_dict
from mmvanilla.utils.safe_checkpoint import safe_load


def build_detector(config: str, checkpoint: Optional[str] = None,
                   cfg_options: Optional[dict] = None) -> Tuple[nn.Module, Config, dict]:
    """The detector in eval mode on CPU, its config, and the checkpoint's ``meta``.

    The backbone's ImageNet ``init_cfg`` is dropped: the weights come from
    ``checkpoint`` (loaded safely) or from the initializers.
    """
    cfg = load_config(config, cfg_options)
    check_numbers(cfg)
    check_backbone_and_neck(cfg.model)
    check_levels(cfg.model)
    check_model_runs(cfg)
    check_model_arguments(cfg.model)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    from mmdet.registry import MODELS
    cfg.model.backbone.pop('init_cfg', None)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    meta = {}
    if checkpoint:
        ckpt = safe_load(checkpoint)
        check_checkpoint_fits(model, ckpt, f'checkpoint {checkpoint!r}')
        model.load_state_dict(checkpoint_state_dict(ckpt, checkpoint), strict=False)
        meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    return model.eval(), cfg, meta


def array_test_pipeline(cfg: Config):
    """The config's test pipeline for images already decoded (``dict(img=array,
    img_id=...)``): its loading step takes the array; no annotations are loaded."""
    from mmengine.dataset import Compose
    steps = [t for t in cfg.test_dataloader.dataset.pipeline if t['type'] != 'LoadAnnotations']
    steps[0] = dict(type='mmdet.LoadImageFromNDArray')
    return Compose(steps)


def fused_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` reparameterized to its fused form (``model``
    itself is left as it is)."""
    fused = copy.deepcopy(model)
    switch_to_deploy(fused)
    return fused


def raw_outputs(model: nn.Module, x: Tensor) -> List[Tensor]:
    """The detector's tensors before post-processing, flattened to a list."""
    from mmdet.structures import DetDataSample
    h, w = x.shape[-2:]
    samples = [DetDataSample(metainfo=dict(
        img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
        batch_input_shape=(h, w), scale_factor=(1.0, 1.0))) for _ in range(len(x))]
    with torch.no_grad():
        out = model._forward(x, samples)
    flat, stack = [], [out]
    while stack:
        item = stack.pop(0)
        if isinstance(item, Tensor):
            flat.append(item)
        elif isinstance(item, (list, tuple)):
            stack[:0] = list(item)
        elif hasattr(item, 'bboxes'):  # proposals of two-stage detectors
            flat.append(item.bboxes)
    return flat


def pre_nms_outputs(model: nn.Module, x: Tensor) -> List[Tensor]:
    """FPN maps and the dense head's scores and box deltas: everything before
    the first NMS, where outputs depend continuously on the weights (a
    two-stage detector's RoI heads see NMS-selected proposals, which near-tied
    scores can swap)."""
    head = model.bbox_head if hasattr(model, 'bbox_head') else model.rpn_head
    with torch.no_grad():
        feats = model.extract_feat(x)
        return list(feats) + [t for level in head(feats) for t in level]

"""Build a detector from a config file for offline tools (CPU, eval mode)."""
from typing import List, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import Tensor, nn

from mmvanilla.utils.cli import load_config
from mmvanilla.utils.config_checks import check_backbone_and_neck
from mmvanilla.utils.errors import ConfigError
from mmvanilla.utils.safe_checkpoint import safe_load


def build_detector(config: str, checkpoint: Optional[str] = None,
                   cfg_options: Optional[dict] = None) -> Tuple[nn.Module, Config, dict]:
    """The detector in eval mode on CPU, its config, and the checkpoint's ``meta``.

    The backbone's ImageNet ``init_cfg`` is dropped: the weights come from
    ``checkpoint`` (loaded safely) or from the initializers.
    """
    cfg = load_config(config, cfg_options)
    check_backbone_and_neck(cfg.model)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    from mmdet.registry import MODELS
    cfg.model.backbone.pop('init_cfg', None)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    meta = {}
    if checkpoint:
        ckpt = safe_load(checkpoint)
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            hint = (' (a fused checkpoint needs the deploy config written by '
                    'tools/reparameterize.py)' if any('conv1' in k or 'stem1' in k
                                                        for k in missing) else '')
            raise ConfigError(
                f'checkpoint {checkpoint!r} does not fit config {config!r}: missing '
                f'{missing[:3]}, unexpected {unexpected[:3]}{hint}')
        meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    return model.eval(), cfg, meta


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


def max_rel_err(got: List[Tensor], expected: List[Tensor]) -> float:
    """Largest ``max|g - e| / max|e|`` over matching tensors."""
    return max(((g - e).abs().max() / e.abs().max().clamp_min(1e-12)).item()
               for g, e in zip(got, expected))

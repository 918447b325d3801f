"""The shipped configs build the paper's models."""
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config

import mmvanilla.plugin  # noqa: F401  (registers modules, safe checkpoint loading)
from mmvanilla.models import switch_to_deploy
from tests.conftest import REPO


@pytest.mark.parametrize('name, paper_m', [
    ('retinanet_vanillanet13', 75.4), ('mask_rcnn_vanillanet13', 77.1)])
def test_vn13_fused_parameter_count_matches_the_paper(name, paper_m):
    cfg = Config.fromfile(REPO / 'configs' / f'{name}.py')
    with torch.device('meta'):  # the full-size model, shapes only: built in no time
        model = MODELS.build(cfg.model).eval()
        assert switch_to_deploy(model) == 1
    params = sum(p.numel() for p in model.parameters()) / 1e6
    assert abs(params - paper_m) / paper_m < 0.005, params


@pytest.mark.parametrize('name, out_indices, channels', [
    ('retinanet_vanillanet11', (1, 6, 8), [1024, 2048, 4096]),
    ('mask_rcnn_vanillanet11', (0, 1, 6, 8), [512, 1024, 2048, 4096]),
    ('retinanet_vanillanet13', (1, 8, 10), [1024, 2048, 4096]),
    ('mask_rcnn_vanillanet13', (0, 1, 8, 10), [512, 1024, 2048, 4096])])
def test_configs_follow_the_paper_recipe(name, out_indices, channels):
    cfg = Config.fromfile(REPO / 'configs' / f'{name}.py')
    assert tuple(cfg.model.backbone.out_indices) == out_indices
    assert cfg.model.neck.in_channels == channels
    assert cfg.model.backbone.act_num == (4 if '13' in name else 3)
    assert cfg.optim_wrapper.optimizer == dict(
        type='AdamW', lr=1.4e-4, betas=(0.9, 0.999), weight_decay=0.05)
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.8
    assert cfg.auto_scale_lr.base_batch_size == 32 and cfg.train_dataloader.batch_size == 4
    assert cfg.optim_wrapper.paramwise_cfg.norm_decay_mult == 0.0
    assert cfg.optim_wrapper.paramwise_cfg.bias_decay_mult == 0.0
    assert cfg.train_cfg.max_epochs == 12
    warmup, steps = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.end == 500 and not warmup.by_epoch
    assert steps.type == 'MultiStepLR' and steps.milestones == [8, 11]
    resize = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'Resize']
    assert resize[0].scale == (1280, 800) and resize[0].keep_ratio
    metrics = cfg.val_evaluator.metric
    assert metrics == (['bbox', 'segm'] if 'mask' in name else 'bbox')

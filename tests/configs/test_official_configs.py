"""configs/official/ carry every hyper-parameter of the official mmdet 2.x recipe
(REFERENCE §7) that produced the paper's COCO table."""
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import mmvanilla.plugin  # noqa: F401  (registers modules, safe checkpoint loading)
from tests.conftest import REPO

OFFICIAL = REPO / 'configs' / 'official'
SCALES = [(1333, s) for s in (480, 512, 544, 576, 608, 640, 672, 704, 736, 768, 800,
                              832, 864, 896, 928, 960, 992, 1024)]
RECIPES = {  # name: (lr, LR step epochs, out_indices, FPN in_channels)
    'retinanet_vanillanet13_mstrain_480-1024_adamw': (8e-5, [10, 11], (1, 8, 10),
                                                      [1024, 2048, 4096]),
    'mask_rcnn_vanillanet13_mstrain_480-1024_adamw': (1.3e-4, [10, 12], (0, 1, 8, 10),
                                                      [512, 1024, 2048, 4096]),
}


@pytest.mark.parametrize('name', list(RECIPES))
def test_official_config_holds_the_official_recipe(name):
    lr, milestones, out_indices, in_channels = RECIPES[name]
    cfg = Config.fromfile(OFFICIAL / f'{name}.py')
    backbone = cfg.model.backbone
    assert (backbone.arch, backbone.act_num, tuple(backbone.out_indices)) == \
        ('vanillanet_13', 4, out_indices)
    assert backbone.init_cfg.checkpoint == 'checkpoints/vanillanet_13_act_num_4_kd_pretrain.pth'
    assert backbone.init_cfg.key == 'model_ema'
    assert backbone.norm_cfg == dict(type='SyncBN', eps=1e-6, requires_grad=True)
    assert backbone.norm_eval is False  # statistics trained
    assert cfg.model.neck.in_channels == in_channels
    if 'retinanet' in name:
        assert (cfg.model.neck.start_level, cfg.model.neck.num_outs) == (0, 5)

    train = cfg.train_dataloader.dataset.pipeline
    resize = [t for t in train if 'Resize' in t.type]
    assert len(resize) == 1 and resize[0].type == 'RandomChoiceResize'
    assert [tuple(s) for s in resize[0].scales] == SCALES and resize[0].keep_ratio
    assert [t.prob for t in train if t.type == 'RandomFlip'] == [0.5]
    test = [t for t in cfg.test_dataloader.dataset.pipeline if t.type == 'Resize']
    assert tuple(test[0].scale) == (1333, 800) and test[0].keep_ratio
    pre = cfg.model.data_preprocessor
    assert pre.mean == [123.675, 116.28, 103.53] and pre.std == [58.395, 57.12, 57.375]
    assert pre.bgr_to_rgb and pre.pad_size_divisor == 32
    assert cfg.train_dataloader.batch_size == 4 and cfg.auto_scale_lr.base_batch_size == 32

    assert cfg.optim_wrapper.optimizer == dict(type='AdamW', lr=lr, betas=(0.9, 0.999),
                                               weight_decay=0.05)
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.6
    assert cfg.train_cfg.max_epochs == 12
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.end, warmup.by_epoch) == \
        ('LinearLR', 0.001, 500, False)
    assert (steps.type, steps.milestones, steps.gamma, steps.by_epoch) == \
        ('MultiStepLR', milestones, 0.1, True)


@pytest.mark.parametrize('name', list(RECIPES))
def test_official_layer_decay_gives_the_official_learning_rates(name):
    """Official map: stem 0, block i -> i // 2 + 1, rest 7 (VN-13: 6 layers);
    scale 0.6 ** (7 - layer); no weight decay on 1-D parameters and biases."""
    lr = RECIPES[name][0]
    cfg = Config.fromfile(OFFICIAL / f'{name}.py')
    init_default_scope(cfg.default_scope)
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    groups = build_optim_wrapper(model, cfg.optim_wrapper).optimizer.param_groups
    by_param = {id(p): g for g in groups for p in g['params']}
    params = dict(model.named_parameters())

    def group(param_name):
        return by_param[id(params[param_name])]

    head = 'bbox_head.retina_cls.weight' if 'retinanet' in name else \
        'roi_head.bbox_head.fc_cls.weight'
    expected = {'backbone.stem1.0.weight': lr * 0.6 ** 7,  # stem: layer 0
                'backbone.stages.5.conv1.0.weight': lr * 0.6 ** 4,  # block 5: layer 3
                'backbone.stages.10.conv2.0.weight': lr * 0.6 ** 1,  # last block: 6
                'neck.lateral_convs.0.conv.weight': lr, head: lr}
    for param_name, want in expected.items():
        assert group(param_name)['lr'] == pytest.approx(want), param_name
        assert group(param_name)['weight_decay'] == 0.05
    for param_name in ('backbone.stages.5.conv1.1.weight', 'backbone.stages.5.conv1.0.bias',
                       'neck.lateral_convs.0.conv.bias'):
        assert group(param_name)['weight_decay'] == 0.0
    assert isinstance(model.backbone.stem1[1], torch.nn.SyncBatchNorm)

import pytest
import torch
from mmdet.registry import MODELS as MMDET_MODELS
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from mmvanilla.models import ARCH_SETTINGS, VanillaNet
from mmvanilla.utils.errors import ConfigError
from mmvanilla.utils.numerics import max_rel_err
from tests.conftest import TINY_ARCH, randomize_norms


def fused_vs_unfused(model, x):
    model = randomize_norms(model).eval()
    with torch.no_grad():
        expected = model(x)
        model.switch_to_deploy()
        got = model(x)
    return max_rel_err(got, expected)


@pytest.mark.parametrize('arch', list(ARCH_SETTINGS))
def test_every_arch_fuses_exactly(arch):
    """Each arch's depth, strides and pools at 1/64 of its width (fusion is
    per layer: the width only scales the same arithmetic)."""
    torch.manual_seed(0)
    settings = ARCH_SETTINGS[arch]
    narrow = dict(settings, dims=[d // 64 for d in settings['dims']])
    n = len(settings['strides'])
    model = VanillaNet(narrow, out_indices=list(range(n)))
    assert fused_vs_unfused(model, torch.randn(1, 3, 64, 64)) <= 1e-5


@pytest.mark.parametrize('act_num', [0, 3, 4])
def test_tiny_fuses_exactly_with_any_act_num(act_num):
    torch.manual_seed(0)
    model = VanillaNet(TINY_ARCH, act_num=act_num, out_indices=[0, 1, 2, 3, 4])
    assert fused_vs_unfused(model, torch.randn(2, 3, 96, 64)) <= 1e-5


def test_fused_state_dict_equals_deploy_built_and_switch_is_idempotent():
    model = VanillaNet(TINY_ARCH, act_num=4).eval()
    model.switch_to_deploy()
    first = {k: v.clone() for k, v in model.state_dict().items()}
    model.switch_to_deploy()
    deploy = VanillaNet(TINY_ARCH, act_num=4, deploy=True)
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert shapes == {k: v.shape for k, v in deploy.state_dict().items()}
    assert all(torch.equal(first[k], v) for k, v in model.state_dict().items())
    assert not any(isinstance(m, _BatchNorm) for m in model.modules())


def test_fuse_refused_while_deep_training_is_nonlinear():
    model = VanillaNet(TINY_ARCH, act_learn=0.5)
    with pytest.raises(ConfigError, match='act_learn'):
        model.switch_to_deploy()
    assert not model.deploy and hasattr(model, 'stem1')
    model.act_learn = 1.0
    model.switch_to_deploy()
    assert model.deploy


def test_act_learn_is_a_leaky_relu_between_the_convs():
    torch.manual_seed(0)
    model = VanillaNet(TINY_ARCH).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        linear = model(x)[-1]
        model.act_learn = 0.0
        relu = model(x)[-1]
    assert all(block.act_learn == 0.0 for block in model.stages)
    assert not torch.allclose(linear, relu)


def test_outputs_follow_official_block_indices():
    model = VanillaNet('vanillanet_11', out_indices=[1, 6, 8])
    assert model.out_channels == [1024, 2048, 4096]
    assert model.out_strides == [8, 16, 32]
    assert VanillaNet('vanillanet_13', out_indices=[0, 1, 8, 10]).out_channels == \
        [512, 1024, 2048, 4096]
    tiny = VanillaNet(TINY_ARCH, out_indices=[0, 2, 4])
    outs = tiny(torch.randn(1, 3, 64, 96))
    assert [o.shape[1] for o in outs] == tiny.out_channels == [8, 32, 64]
    assert [tuple(o.shape[2:]) for o in outs] == [(16, 24), (4, 6), (2, 3)]


def test_default_out_indices_take_the_last_block_of_each_stride():
    assert VanillaNet('vanillanet_11').out_indices == (0, 1, 6, 8)
    assert VanillaNet('vanillanet_5').out_indices == (0, 1, 2)


@pytest.mark.parametrize('kwargs, match', [
    (dict(arch='vanillanet_99'), 'unknown VanillaNet arch'),
    (dict(arch=dict(dims=[8, 16], strides=[2, 2])), 'len\\(dims\\)'),
    (dict(arch=TINY_ARCH, out_indices=[1, 5]), 'out of range'),
    (dict(arch=TINY_ARCH, out_indices=[2, 1]), 'strictly increasing'),
    (dict(arch=TINY_ARCH, frozen_stages=6), 'frozen_stages'),
    (dict(arch=TINY_ARCH, act_learn=2.0), 'act_learn'),
    (dict(arch=TINY_ARCH, norm_cfg=dict(type='GN', num_groups=4)), 'BatchNorm norm_cfg'),
])
def test_bad_arguments_raise_one_clear_message(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        VanillaNet(**kwargs)


def test_frozen_stages_and_norm_eval():
    model = VanillaNet(TINY_ARCH, frozen_stages=2, norm_eval=True)
    model.train()
    frozen = [model.stem1, model.stem2, model.stages[0], model.stages[1]]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(p.requires_grad for p in model.stages[2].parameters())
    assert all(not m.training for m in model.modules() if isinstance(m, _BatchNorm))
    assert model.stages[2].training


def test_syncbn_norm_cfg():
    model = VanillaNet(TINY_ARCH, norm_cfg=dict(type='SyncBN', eps=1e-6))
    assert isinstance(model.stages[0].conv1[1], torch.nn.SyncBatchNorm)
    assert model.stages[0].conv1[1].eps == 1e-6


def test_registered_in_mmdet_and_mmpretrain():
    for registry in (MMDET_MODELS, MMPRETRAIN_MODELS):
        assert registry.get('VanillaNet') is VanillaNet
    model = MMDET_MODELS.build(dict(type='VanillaNet', arch=TINY_ARCH))
    assert isinstance(model, VanillaNet)


def test_layer_depth_follows_the_official_map():
    model = VanillaNet('vanillanet_11')  # 9 blocks -> num_layers 5
    depth = model.get_layer_depth
    assert depth('backbone.stem1.0.weight', 'backbone.') == (0, 7)
    assert depth('backbone.stem.0.weight', 'backbone.') == (0, 7)
    assert depth('backbone.stages.0.conv1.0.weight', 'backbone.') == (1, 7)
    assert depth('backbone.stages.3.act.weight', 'backbone.') == (2, 7)
    assert depth('backbone.stages.8.conv.bias', 'backbone.') == (5, 7)
    assert depth('neck.lateral_convs.0.conv.weight', 'backbone.') == (6, 7)


def test_input_smaller_than_the_total_stride():
    model = VanillaNet(TINY_ARCH).eval()  # strides 4 * 2 * 2 * 2 = 32
    with pytest.raises(ConfigError, match='smaller than the backbone.s total stride 32'):
        model(torch.randn(1, 3, 31, 64))
    assert len(model(torch.randn(1, 3, 32, 32))) == len(model.out_indices)


def test_fusing_in_training_mode_uses_the_running_statistics():
    torch.manual_seed(0)
    model = randomize_norms(VanillaNet(TINY_ARCH, out_indices=[4]))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = model.eval()(x)[0]
        model.train()
        model.switch_to_deploy()  # harmless: same result as fusing in eval mode
        got = model.eval()(x)[0]
    assert max_rel_err([got], [expected]) <= 1e-5


def test_lambda_is_saved_with_the_weights():
    model = VanillaNet(TINY_ARCH, act_learn=0.375)
    state = model.state_dict()
    assert state['deep_training_lambda'].item() == 0.375
    restored = VanillaNet(TINY_ARCH)
    restored.load_state_dict(state)
    assert restored.act_learn == 0.375 and restored.stages[2].act_learn == 0.375
    with pytest.raises(ConfigError, match='act_learn'):
        restored.switch_to_deploy()


@pytest.mark.parametrize('kwargs', [
    dict(), dict(act_learn=0.3), dict(frozen_stages=2), dict(norm_eval=True)])
def test_with_cp_gives_the_same_gradients(kwargs):
    """Gradient checkpointing recomputes each block in the backward pass:
    the same loss and gradients, with deep training (lambda < 1), frozen
    stages and norm_eval alike."""
    def grads(with_cp):
        torch.manual_seed(0)
        model = randomize_norms(VanillaNet(TINY_ARCH, out_indices=[1, 3, 4], with_cp=with_cp,
                                           **kwargs))
        model.train()
        calls, block = [], model.stages[-1]
        forward = block.forward
        block.forward = lambda x: calls.append(1) or forward(x)  # (hooks skip recomputes)
        x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
        loss = sum((out ** 2).mean() for out in model(x))
        loss.backward()
        assert len(calls) == (2 if with_cp else 1)  # recomputed in the backward pass
        return loss.detach(), {n: p.grad for n, p in model.named_parameters()
                               if p.grad is not None}
    loss, expected = grads(False)
    loss_cp, got = grads(True)
    assert torch.allclose(loss_cp, loss, rtol=1e-6)
    assert got.keys() == expected.keys() and expected
    for name, grad in expected.items():
        assert torch.allclose(got[name], grad, rtol=1e-5, atol=1e-7), name
    if kwargs.get('frozen_stages'):
        assert not any(n.startswith(('stem', 'stages.0.', 'stages.1.')) for n in got)

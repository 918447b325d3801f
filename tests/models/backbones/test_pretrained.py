"""Official-layout checkpoints (synthetic, REFERENCE §2 key layout) load exactly."""
import pytest
import torch

from mmvanilla.models import VanillaNet
from mmvanilla.utils.errors import CheckpointError
from tests.conftest import TINY_ARCH


def official_state_dict(deploy: bool, act_num: int = 3, arch=TINY_ARCH) -> dict:
    """Random weights under the official key names, plus a classifier head."""
    torch.manual_seed(1)
    dims, n = arch['dims'], len(arch['strides'])
    k = 2 * act_num + 1
    sd = {}

    def conv(name, o, i, ks):
        sd[f'{name}.weight'] = torch.randn(o, i, ks, ks)
        sd[f'{name}.bias'] = torch.randn(o)

    def bn(name, c):
        sd.update({f'{name}.weight': torch.rand(c), f'{name}.bias': torch.randn(c),
                   f'{name}.running_mean': torch.randn(c),
                   f'{name}.running_var': torch.rand(c) + 0.5,
                   f'{name}.num_batches_tracked': torch.tensor(7)})

    if deploy:
        conv('stem.0', dims[0], 3, 4)
        sd['stem.1.weight'] = torch.randn(dims[0], 1, k, k)
        sd['stem.1.bias'] = torch.randn(dims[0])
        for i in range(n):
            conv(f'stages.{i}.conv', dims[i + 1], dims[i], 1)
            sd[f'stages.{i}.act.weight'] = torch.randn(dims[i + 1], 1, k, k)
            sd[f'stages.{i}.act.bias'] = torch.randn(dims[i + 1])
        conv('cls.2', 10, dims[-1], 1)
    else:
        conv('stem1.0', dims[0], 3, 4)
        bn('stem1.1', dims[0])
        conv('stem2.0', dims[0], dims[0], 1)
        bn('stem2.1', dims[0])
        sd['stem2.2.weight'] = torch.randn(dims[0], 1, k, k)
        bn('stem2.2.bn', dims[0])
        for i in range(n):
            conv(f'stages.{i}.conv1.0', dims[i], dims[i], 1)
            bn(f'stages.{i}.conv1.1', dims[i])
            conv(f'stages.{i}.conv2.0', dims[i + 1], dims[i], 1)
            bn(f'stages.{i}.conv2.1', dims[i + 1])
            sd[f'stages.{i}.act.weight'] = torch.randn(dims[i + 1], 1, k, k)
            bn(f'stages.{i}.act.bn', dims[i + 1])
        conv('cls1.0', 10, dims[-1], 1)
        bn('cls1.1', 10)
        conv('cls2.0', 10, 10, 1)
    return sd


def pretrained(path, **kwargs):
    return dict(type='Pretrained', checkpoint=str(path), **kwargs)


@pytest.mark.parametrize('deploy', [False, True])
@pytest.mark.parametrize('entry', ['model', 'model_ema', 'state_dict'])
def test_official_checkpoint_loads_every_backbone_weight(tmp_path, deploy, entry):
    sd = official_state_dict(deploy, act_num=4)
    torch.save({entry: sd, 'epoch': 300}, tmp_path / 'vn.pth')
    model = VanillaNet(TINY_ARCH, act_num=4, deploy=deploy,
                       init_cfg=pretrained(tmp_path / 'vn.pth'))
    model.init_weights()
    state = model.state_dict()
    assert state.pop('deep_training_lambda').item() == 1.0
    assert set(state) == {k for k in sd if not k.startswith('cls')}
    assert all(torch.equal(v, sd[k]) for k, v in state.items())


def test_explicit_key_picks_ema_weights(tmp_path):
    plain, ema = official_state_dict(False), official_state_dict(False)
    ema = {k: v + 1 if v.is_floating_point() else v for k, v in ema.items()}
    torch.save({'model': plain, 'model_ema': ema}, tmp_path / 'vn.pth')
    model = VanillaNet(TINY_ARCH, init_cfg=pretrained(tmp_path / 'vn.pth', key='model_ema'))
    model.init_weights()
    assert torch.equal(model.stem1[0].weight, ema['stem1.0.weight'])


def test_detector_checkpoint_backbone_prefix(tmp_path):
    sd = {f'backbone.{k}': v for k, v in official_state_dict(False).items()
          if not k.startswith('cls')}
    sd['neck.conv.weight'] = torch.randn(3, 3)
    torch.save({'state_dict': sd, 'meta': {}}, tmp_path / 'det.pth')
    for init in (pretrained(tmp_path / 'det.pth', prefix='backbone.'),
                 pretrained(tmp_path / 'det.pth')):
        model = VanillaNet(TINY_ARCH, init_cfg=init)
        model.init_weights()
        assert torch.equal(model.stages[4].act.weight, sd['backbone.stages.4.act.weight'])


@pytest.mark.parametrize('ckpt_deploy, kwargs, match', [
    (False, dict(deploy=True), 'train form but the backbone has deploy=True'),
    (True, dict(), 'set backbone deploy=True'),
    (False, dict(act_num=4), 'set backbone act_num=3'),
    (False, dict(arch='vanillanet_5'), 'dims'),
])
def test_mismatched_checkpoint_names_the_fix(tmp_path, ckpt_deploy, kwargs, match):
    torch.save({'model': official_state_dict(ckpt_deploy)}, tmp_path / 'vn.pth')
    kwargs.setdefault('arch', TINY_ARCH)
    model = VanillaNet(**kwargs, init_cfg=pretrained(tmp_path / 'vn.pth'))
    with pytest.raises(CheckpointError, match=match):
        model.init_weights()


def test_wrong_arch_suggests_the_official_name(tmp_path):
    arch = dict(dims=[512, 1024, 2048, 4096], strides=[2, 2, 2])  # VN-5 dims
    sd = {k: v for k, v in official_state_dict(True, arch=arch).items()}
    torch.save({'model': sd}, tmp_path / 'vn5.pth')
    model = VanillaNet(dict(dims=[512, 1024, 2048], strides=[2, 2]), deploy=True,
                       init_cfg=pretrained(tmp_path / 'vn5.pth'))
    with pytest.raises(CheckpointError, match="set arch='vanillanet_5'"):
        model.init_weights()


def test_not_a_vanillanet_checkpoint(tmp_path):
    torch.save({'state_dict': {'conv.weight': torch.randn(2)}}, tmp_path / 'x.pth')
    with pytest.raises(CheckpointError, match='no VanillaNet weights'):
        VanillaNet(TINY_ARCH, init_cfg=pretrained(tmp_path / 'x.pth')).init_weights()


def official_training_checkpoint(sd: dict, args) -> dict:
    """What the official ``utils.save_model`` writes: weights, EMA weights,
    optimizer and AMP scaler state, epoch and the command line's Namespace."""
    params = [torch.nn.Parameter(v.clone()) for v in sd.values() if v.is_floating_point()]
    optimizer = torch.optim.AdamW(params, lr=4e-3)
    params[0].grad = torch.ones_like(params[0])
    optimizer.step()  # real per-parameter state (exp_avg, step)
    return dict(model=sd, model_ema={k: v.clone() for k, v in sd.items()},
                optimizer=optimizer.state_dict(), epoch=299,
                scaler=dict(scale=65536.0, growth_factor=2.0, backoff_factor=0.5,
                            growth_interval=2000, _growth_tracker=0),
                args=args)


def test_official_training_script_checkpoint_with_args_loads(tmp_path):
    import argparse
    sd = official_state_dict(False, act_num=4)
    args = argparse.Namespace(model='vanillanet_13', batch_size=128, lr=4.8e-3,
                              decay_epochs=100, input_size=224, drop_path=0.0,
                              model_ema=True, output_dir='/cache/output', resume='',
                              auto_resume=True, switch_to_deploy=None,
                              mixup=0.1, cutmix=1.0, cutmix_minmax=None,
                              lr_schedule=[0.1, 0.2], layer_decay=dict(rate=0.8))
    torch.save(official_training_checkpoint(sd, args), tmp_path / 'vanillanet_13.pth')
    model = VanillaNet(TINY_ARCH, act_num=4, init_cfg=pretrained(tmp_path / 'vanillanet_13.pth'))
    model.init_weights()
    state = model.state_dict()
    state.pop('deep_training_lambda')
    assert set(state) == {k for k in sd if not k.startswith('cls')}
    assert all(torch.equal(v, sd[k]) for k, v in state.items())


class RunsCode:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os
        return (os.system, (f'touch {self.marker}',))


def test_official_checkpoint_with_code_in_args_is_refused(tmp_path):
    import argparse
    marker = tmp_path / 'pwned'
    args = argparse.Namespace(model='vanillanet_13', hook=RunsCode(marker))
    torch.save(official_training_checkpoint(official_state_dict(False), args),
               tmp_path / 'evil.pth')
    model = VanillaNet(TINY_ARCH, init_cfg=pretrained(tmp_path / 'evil.pth'))
    with pytest.raises(CheckpointError, match=r'refused: posix\.system\)'):
        model.init_weights()
    assert not marker.exists()

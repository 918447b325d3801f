"""configs/peers: mmpretrain's reparameterizable backbones in mmdet's RetinaNet
(and in the demo's) build, run and fuse as the one command uses them (--compare)."""
import pytest
import torch

from mmvanilla.apis.detector import build_detector, pre_nms_outputs
from mmvanilla.models import switch_to_deploy
from mmvanilla.utils.numerics import max_rel_err
from tests.conftest import REPO


@pytest.mark.parametrize('name', ['retinanet_repvgg_a0', 'retinanet_mobileone_s1',
                                  'retinanet_mobileone_s0_shapes'])
def test_a_peer_config_builds_runs_and_fuses(name):
    model, _, _ = build_detector(str(REPO / 'configs' / 'peers' / f'{name}.py'))
    x = torch.randn(1, 3, 128, 160)
    before = pre_nms_outputs(model, x)
    params = sum(p.numel() for p in model.parameters())
    assert switch_to_deploy(model) > 0
    after = pre_nms_outputs(model, x)
    assert sum(p.numel() for p in model.parameters()) < params
    assert max_rel_err(after, before) < 1e-4  # the same detector, reparameterized


def test_the_demo_peer_trains_on_the_demos_schedule_without_vanillanets_parts():
    """The demo's peer: the demo's data, schedule and AdamW, but no deep-training
    hook and no layer decay (both need a VanillaNet): its optimizer builds."""
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper

    from mmvanilla.apis.config import load_config
    peer = load_config(str(REPO / 'configs' / 'peers' / 'retinanet_mobileone_s0_shapes.py'))
    demo = load_config(str(REPO / 'configs' / 'demo' / 'retinanet_vanillanet_tiny_shapes.py'))
    for key in ('train_cfg', 'param_scheduler', 'train_dataloader', 'val_evaluator'):
        assert Config(dict(v=peer[key])).to_dict() == Config(dict(v=demo[key])).to_dict(), key
    assert peer.custom_hooks == [] and peer.optim_wrapper.optimizer == demo.optim_wrapper.optimizer
    model, _, _ = build_detector(str(REPO / 'configs' / 'peers' / 'retinanet_mobileone_s0_shapes.py'))
    wrapper = build_optim_wrapper(model, peer.optim_wrapper)
    norms = [g for g in wrapper.optimizer.param_groups if g['weight_decay'] == 0]
    assert norms and len({g['lr'] for g in wrapper.optimizer.param_groups}) == 1  # no decay

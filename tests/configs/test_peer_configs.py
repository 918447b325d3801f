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


def test_the_demo_peer_differs_from_the_demo_only_in_its_backbone_and_optimizer():
    """The demo's peer: the demo's data, pipelines, schedule, head and AdamW; only the
    backbone (and the neck's input widths), the imports, and VanillaNet's own parts
    (deep-training hook, layer decay) differ. Its optimizer builds without layer decay."""
    from mmengine.optim import build_optim_wrapper

    from mmvanilla.apis.config import load_config
    path = str(REPO / 'configs' / 'peers' / 'retinanet_mobileone_s0_shapes.py')
    peer_cfg = load_config(path)
    peer = peer_cfg.to_dict()
    demo = load_config(str(REPO / 'configs' / 'demo' / 'retinanet_vanillanet_tiny_shapes.py'))
    demo = demo.to_dict()
    assert {k for k in peer.keys() | demo.keys() if peer.get(k) != demo.get(k)} == {
        'model', 'custom_hooks', 'custom_imports', 'optim_wrapper'}
    assert {k for k in peer['model'] if peer['model'][k] != demo['model'][k]} == {'backbone',
                                                                                'neck'}
    assert dict(peer['model']['neck'], in_channels=None) == dict(demo['model']['neck'],
                                                                 in_channels=None)
    assert peer['custom_hooks'] == [] and demo['custom_hooks'][0]['type'] == 'DeepTrainingHook'
    assert peer['optim_wrapper']['optimizer'] == demo['optim_wrapper']['optimizer']
    model, _, _ = build_detector(path)
    wrapper = build_optim_wrapper(model, peer_cfg.optim_wrapper)
    groups = wrapper.optimizer.param_groups
    assert any(g['weight_decay'] == 0 for g in groups)  # norms and biases
    assert len({g['lr'] for g in groups}) == 1  # no layer decay

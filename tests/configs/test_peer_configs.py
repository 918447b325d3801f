"""configs/peers: mmpretrain's reparameterizable backbones in mmdet's RetinaNet
build, run and fuse as the one command uses them (--compare)."""
import pytest
import torch

from mmvanilla.apis.detector import build_detector, pre_nms_outputs
from mmvanilla.models import switch_to_deploy
from mmvanilla.utils.numerics import max_rel_err
from tests.conftest import REPO


@pytest.mark.parametrize('name', ['retinanet_repvgg_a0', 'retinanet_mobileone_s1'])
def test_a_peer_config_builds_runs_and_fuses(name):
    model, _, _ = build_detector(str(REPO / 'configs' / 'peers' / f'{name}.py'))
    x = torch.randn(1, 3, 128, 160)
    before = pre_nms_outputs(model, x)
    params = sum(p.numel() for p in model.parameters())
    assert switch_to_deploy(model) > 0
    after = pre_nms_outputs(model, x)
    assert sum(p.numel() for p in model.parameters()) < params
    assert max_rel_err(after, before) < 1e-4  # the same detector, reparameterized

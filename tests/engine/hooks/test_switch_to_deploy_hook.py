"""Fusing a whole detector leaves its pre-NMS outputs equal to float rounding."""
import math

import pytest
import torch
from torch import nn

from mmvanilla.apis.detector import build_detector, pre_nms_outputs
from mmvanilla.models import switch_to_deploy
from mmvanilla.utils.numerics import max_rel_err
from tests.conftest import REPO, cli_options, randomize_norms
from tests.detection_options import tiny_detector_options


def rounding_tolerance(model: nn.Module) -> float:
    """fp32 rounding bound: each conv adds ~eps * sqrt(fan-in) relative error
    (random-walk accumulation), summed along the network's depth."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    fan_in = max(m.weight[0].numel() for m in convs)
    return torch.finfo(torch.float32).eps * math.sqrt(fan_in) * len(convs)


@pytest.mark.parametrize('kind', ['retinanet', 'mask_rcnn'])
def test_fused_detector_matches_before_post_processing(shapes_root, kind):
    options = cli_options(tiny_detector_options(shapes_root, kind))
    model, _, _ = build_detector(str(REPO / 'configs' / f'{kind}_vanillanet11.py'),
                                 cfg_options=options)
    randomize_norms(model.backbone)
    x = torch.randn(1, 3, 128, 160)
    expected = pre_nms_outputs(model, x)
    tolerance = rounding_tolerance(model)
    assert switch_to_deploy(model) == 1 and model.backbone.deploy
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.backbone.modules())
    got = pre_nms_outputs(model, x)
    assert len(got) == len(expected) > 0
    assert max_rel_err(got, expected) <= tolerance
    assert switch_to_deploy(model) == 1  # idempotent: nothing changes
    torch.testing.assert_close(pre_nms_outputs(model, x), got, rtol=0, atol=0)

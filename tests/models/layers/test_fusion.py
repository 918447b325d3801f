import torch
from torch import nn

from mmvanilla.models.layers import SeriesActivation, fuse_conv_bn, merge_conv_1x1
from tests.conftest import randomize_norms


def test_fuse_conv_bn_matches_conv_then_bn():
    conv, bn = nn.Conv2d(3, 5, 3, padding=1), nn.BatchNorm2d(5, eps=1e-6)
    seq = randomize_norms(nn.Sequential(conv, bn)).eval()
    w, b = fuse_conv_bn(conv.weight, conv.bias, bn)
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(nn.functional.conv2d(x, w, b, padding=1), seq(x),
                               rtol=1e-5, atol=1e-5)


def test_merge_conv_1x1_after_strided_conv():
    first, second = nn.Conv2d(3, 6, 4, stride=4), nn.Conv2d(6, 7, 1)
    w, b = merge_conv_1x1((first.weight, first.bias), (second.weight, second.bias))
    x = torch.randn(1, 3, 16, 16)
    torch.testing.assert_close(nn.functional.conv2d(x, w, b, stride=4),
                               second(first(x)), rtol=1e-5, atol=1e-5)


def test_series_activation_deploy_equals_train_form():
    act = randomize_norms(SeriesActivation(6, act_num=2)).eval()
    x = torch.randn(2, 6, 9, 9)
    with torch.no_grad():
        expected = act(x.clone())
        act.switch_to_deploy()
        act.switch_to_deploy()  # idempotent
        got = act(x.clone())
    assert act.deploy and not hasattr(act, 'bn') and act.bias.shape == (6,)
    assert act.weight.shape == (6, 1, 5, 5)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)

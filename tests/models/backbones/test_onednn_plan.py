import copy
import pickle

import pytest
import torch

from mmvanilla.models import VanillaNet
from mmvanilla.utils import cpu
from mmvanilla.utils.numerics import max_rel_err
from tests.conftest import TINY_ARCH, randomize_norms


def fused(arch=TINY_ARCH, **kwargs):
    torch.manual_seed(0)
    model = randomize_norms(VanillaNet(arch, out_indices=[0, 2, 4], **kwargs)).eval()
    model.switch_to_deploy()
    return model


def plain_forward(model, x):
    with torch.enable_grad():  # autograd on: the plain nn.Conv2d path
        return [o.detach() for o in model(x)]


@pytest.mark.parametrize('shape', [(1, 3, 64, 96), (2, 3, 70, 50)])
def test_plan_matches_the_plain_fused_forward(shape):
    model = fused()
    x = torch.randn(*shape)
    with torch.no_grad():
        got = model(x)
    assert '_plan' in model.__dict__
    for g, e in zip(got, plain_forward(model, x)):
        assert g.shape == e.shape and g.is_contiguous()
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-6)


def test_ceil_mode_pools_of_the_ada_pool_variant():
    arch = dict(TINY_ARCH, ada_pool=True)
    model = fused(arch)
    x = torch.randn(1, 3, 67, 61)
    with torch.no_grad():
        got = model(x)
    for g, e in zip(got, plain_forward(model, x)):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-6)


def test_plan_follows_weight_changes_and_copies(monkeypatch):
    model = fused()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before = model(x)[-1]
        state = {k: v if k == 'deep_training_lambda' else v * 1.5
                 for k, v in model.state_dict().items()}
        model.load_state_dict(state)
        after = model(x)[-1]
        torch.testing.assert_close(after, plain_forward(model, x)[-1], rtol=1e-5, atol=1e-6)
        assert not torch.allclose(before, after)
        copied = copy.deepcopy(model)
        restored = pickle.loads(pickle.dumps(model))
        for other in (copied, restored):
            torch.testing.assert_close(other(x)[-1], after)
        # EMAHook-style swap: writes through .data bump no version counter.
        for p in model.parameters():
            p.data.copy_(p.data * 0.5)
        swapped = model(x)[-1]
        torch.testing.assert_close(swapped, plain_forward(model, x)[-1], rtol=1e-5, atol=1e-6)
        assert not torch.allclose(swapped, after)
    monkeypatch.setenv('MMVANILLA_ONEDNN', '0')
    plain = VanillaNet(TINY_ARCH, out_indices=[0, 2, 4], deploy=True).eval()
    with torch.no_grad():
        plain(x)
    assert '_plan' not in plain.__dict__


@pytest.mark.parametrize('simulate_no_onednn_bf16', [False, True])
def test_bf16_runs_through_the_plan_where_onednn_has_bf16(monkeypatch,
                                                          simulate_no_onednn_bf16):
    # --precision bf16 keeps the plan: measured 3.5 % faster than channels-last
    # nn.Conv2d on the VN-11 trunk (docs/benchmarks.md, "bf16 and INT8"). Where
    # oneDNN has no bf16 (AVX2-only CPUs; simulated here on any CPU), the
    # plain nn.Conv2d path runs it instead of torch raising.
    if simulate_no_onednn_bf16:
        monkeypatch.setattr(cpu, 'onednn_runs_bf16', lambda: False)
    model = fused().to(torch.bfloat16)
    x = torch.randn(1, 3, 64, 96).to(torch.bfloat16)
    with torch.no_grad():
        got = model(x)
    assert ('_plan' in model.__dict__) == cpu.onednn_runs_bf16()
    for g, e in zip(got, plain_forward(model, x)):
        assert g.dtype == torch.bfloat16 and g.shape == e.shape
        # two bf16 computations rounding in different orders: a few 2^-9 apart
        assert max_rel_err([g.float()], [e.float()]) <= 20 * 2.0 ** -9

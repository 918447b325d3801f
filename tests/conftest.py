import pytest
import torch

import mmvanilla  # noqa: F401  (registers modules)

TINY_ARCH = dict(dims=[8, 8, 16, 32, 32, 64], strides=[1, 2, 2, 2, 1])


def randomize_norms(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every BN non-trivial affine parameters and running statistics."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.weight.data = torch.rand(n, generator=gen) + 0.5
            m.bias.data = torch.rand(n, generator=gen) - 0.5
            m.running_mean = torch.rand(n, generator=gen) - 0.5
            m.running_var = torch.rand(n, generator=gen) + 0.5
    return model


@pytest.fixture
def tiny_arch():
    return dict(TINY_ARCH)

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


REPO = __import__('pathlib').Path(__file__).resolve().parents[1]


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory):
    """A small generated COCO-format dataset (8 train, 4 val images)."""
    from mmvanilla.datasets import make_shapes_dataset
    root = tmp_path_factory.mktemp('shapes')
    make_shapes_dataset(str(root), num_train=8, num_val=4, seed=0)
    return str(root)


def run_tool(*args, cwd=None, timeout=300, env=None):
    """Run ``python tools/<args>`` (or a .sh) as a user would; returns the process."""
    import os
    import subprocess
    import sys
    full_env = dict(os.environ, PYTHONWARNINGS='ignore', **(env or {}))
    tool = str(args[0] if '/' in str(args[0]) else REPO / 'tools' / args[0])
    cmd = ['bash', tool] if tool.endswith('.sh') else [sys.executable, tool]
    return subprocess.run(cmd + [str(a) for a in args[1:]], cwd=cwd or REPO,
                          env=full_env, capture_output=True, text=True,
                          timeout=timeout)


def coco_metrics(log: str) -> dict:
    """The last ``coco/<name>: value`` figures printed by an mmengine run."""
    import re
    found = {}
    for name, value in re.findall(r'coco/(\w+): (-?[\d.]+)', log):
        found[name] = float(value)
    return found


@pytest.fixture(scope='session')
def trained_retinanet(shapes_root, tmp_path_factory):
    """(work_dir, checkpoint, cfg-options): configs/retinanet_vanillanet11.py
    with the tiny options, trained 2 epochs on the shapes data by tools/train.py."""
    from tests.detection_options import tiny_detector_options
    work_dir = tmp_path_factory.mktemp('retinanet')
    options = tiny_detector_options(shapes_root, 'retinanet', epochs=2)
    proc = run_tool('train.py', REPO / 'configs' / 'retinanet_vanillanet11.py',
                    '--work-dir', work_dir, '--cfg-options', *options)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work_dir, work_dir / 'epoch_2.pth', options


@pytest.fixture(scope='session')
def spread_scores_checkpoint(trained_retinanet):
    """The trained checkpoint with its classification layer re-drawn at random.

    Four iterations leave every score at the focal-loss prior 0.01, tied to
    ~1e-6, so which boxes fill the 100 slots is arbitrary. Random class weights
    spread the scores, so fused and unfused predictions compare box by box.
    """
    from mmvanilla.utils import safe_load
    work_dir, checkpoint, _ = trained_retinanet
    ckpt = safe_load(str(checkpoint))
    gen = torch.Generator().manual_seed(0)
    for name in ('bbox_head.retina_cls.weight', 'bbox_head.retina_cls.bias'):
        ckpt['state_dict'][name] = torch.randn(ckpt['state_dict'][name].shape, generator=gen)
    path = work_dir / 'spread_scores.pth'
    torch.save(ckpt, path)
    return path

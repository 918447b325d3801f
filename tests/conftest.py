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


def log_text(work_dir) -> str:
    """Everything mmengine logged in ``work_dir`` (the tools' console shows a
    summary; the log files keep the full log)."""
    import pathlib
    return '\n'.join(p.read_text() for p in sorted(pathlib.Path(work_dir).rglob('*.log')))


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

    Two epochs leave every score near the focal-loss prior 0.01. Random class
    weights spread the scores; each class channel's bias is then set so that
    about 1 candidate in 1000 on the val images scores above 0.5, which gives
    a few hundred real detections per image for tests/predictions.py to compare
    (and keeps the flat background's many equal scores below the threshold).
    """
    from mmvanilla.utils import safe_load
    from mmvanilla.utils.detector import build_detector
    work_dir, checkpoint, options = trained_retinanet
    ckpt = safe_load(str(checkpoint))
    state = ckpt['state_dict']
    gen = torch.Generator().manual_seed(0)
    weight = state['bbox_head.retina_cls.weight']
    state['bbox_head.retina_cls.weight'] = torch.randn(weight.shape, generator=gen)
    state['bbox_head.retina_cls.bias'] = torch.zeros(weight.shape[0])
    model, cfg, _ = build_detector(str(REPO / 'configs' / 'retinanet_vanillanet11.py'),
                                   cfg_options=cli_options(options))
    model.load_state_dict(state)
    logits = [[] for _ in range(weight.shape[0])]
    for inputs in val_batches(cfg):
        with torch.no_grad():
            scores, _ = model.bbox_head(model.extract_feat(inputs))
        for level in scores:
            for c, channel in enumerate(level[0]):
                logits[c].append(channel.flatten())
    state['bbox_head.retina_cls.bias'] = -torch.stack(
        [torch.quantile(torch.cat(c), 0.999) for c in logits])
    path = work_dir / 'spread_scores.pth'
    torch.save(ckpt, path)
    return path


def cli_options(options):
    """``--cfg-options`` strings as the dict mmengine's DictAction makes."""
    import argparse
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--options', nargs='+', action=DictAction)
    return parser.parse_args(['--options', *options]).options


def val_batches(cfg):
    """The test set's images through mmdet's test pipeline and the model's
    data preprocessor, as network inputs."""
    from mmdet.registry import DATASETS, MODELS
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    preprocessor = MODELS.build(cfg.model.data_preprocessor)
    for i in range(len(dataset)):
        item = dataset[i]
        yield preprocessor(dict(inputs=[item['inputs']], data_samples=[item['data_samples']]),
                           False)['inputs']

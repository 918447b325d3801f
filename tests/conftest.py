import contextlib
import gc
import importlib
import io
import os
import pathlib
import shutil
import sys
from typing import NamedTuple

import pytest

# The suite runs on the CPU on every machine, GPU nodes included (before torch
# sees a device; subprocesses inherit it): what it asserts must not depend on the
# device, and tolerances hold for fp32 without TF32. GPU figures come from the
# benchmarks. A test that needs a GPU's absence says so with its own variable.
#: What the suite was started with: the set-up's own check runs with it.
ORIGINAL_CUDA_VISIBLE_DEVICES = os.environ.get('CUDA_VISIBLE_DEVICES')
os.environ['CUDA_VISIBLE_DEVICES'] = ''
import torch  # noqa: E402

import mmvanilla.plugin  # noqa: E402, F401  (registers modules, safe checkpoint loading)
import mmdet.models  # noqa: E402, F401  (what the tests build from)

# The imports' half a million objects, out of the garbage collector's sight: mmengine
# collects at every dataset build, 0.3 s each with them on a 2-core AMD EPYC Zen 3
gc.collect()
gc.freeze()


def pytest_configure(config):
    """The workers share the cores: one share of threads each (oversubscribed
    OpenMP threads make tiny models many times slower)."""
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


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


REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory):
    """A small generated COCO-format dataset (8 train, 4 val images)."""
    from mmvanilla.datasets import make_shapes_dataset
    return str(built_once(tmp_path_factory, 'shapes', lambda root: make_shapes_dataset(
        str(root), num_train=8, num_val=4, seed=0)))


class ToolResult(NamedTuple):
    """What a user of a tool sees: exit status, console output."""
    returncode: int
    stdout: str
    stderr: str


def _fresh_mmengine_state() -> None:
    """What a new process has: no mmengine loggers, message hubs, visualizers
    or scopes left by an earlier tool run (a run reuses one of the same name,
    with its log file and history, if it starts within the same second)."""
    from mmengine.logging import MMLogger
    from mmengine.utils import ManagerMixin
    for handler in (h for lg in MMLogger._instance_dict.values() for h in lg.handlers):
        handler.close()
    classes = [ManagerMixin]
    while classes:
        cls = classes.pop()
        classes += cls.__subclasses__()
        if '_instance_dict' in vars(cls):
            cls._instance_dict.clear()


@contextlib.contextmanager
def _environment(env, cwd):
    saved, old_cwd = dict(os.environ), os.getcwd()
    os.environ.update(env or {})
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        os.environ.clear()
        os.environ.update(saved)


def call_tool(name, *args, cwd=None, env=None) -> ToolResult:
    """Run ``mmvanilla.tools.<name>`` in this process as ``python
    tools/<name>.py ARGS`` would (:func:`mmvanilla.cli.call`): its exit
    status, stdout and stderr."""
    from mmvanilla.cli import call
    module = importlib.import_module(f'mmvanilla.tools.{str(name).removesuffix(".py")}')
    _fresh_mmengine_state()
    out, err = io.StringIO(), io.StringIO()
    with _environment(env, cwd), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        try:
            code = call(module.main, [str(a) for a in args])
        except SystemExit as e:  # --help
            code = e.code
    return ToolResult(code, out.getvalue(), err.getvalue())


def run_program(*args, cwd=None, timeout=300, env=None):
    """Run ``python tools/<args>`` (or a .sh, or a script path) as a separate
    process, as a user would; for the few true end-to-end tests."""
    import subprocess
    # as many threads as this process: the same arithmetic as an in-process run
    full_env = dict(os.environ, PYTHONWARNINGS='ignore',
                    OMP_NUM_THREADS=str(torch.get_num_threads()), **(env or {}))
    tool = str(args[0] if '/' in str(args[0]) else REPO / 'tools' / args[0])
    cmd = ['bash', tool] if tool.endswith('.sh') else [sys.executable, tool]
    return subprocess.run(cmd + [str(a) for a in args[1:]], cwd=cwd or REPO,
                          env=full_env, capture_output=True, text=True,
                          timeout=timeout)


def built_once(tmp_path_factory, name: str, build) -> pathlib.Path:
    """The folder ``name``, made by ``build(folder)`` once per test run and
    shared by every pytest-xdist worker (the first one builds, under a lock)."""
    from filelock import FileLock
    root = tmp_path_factory.getbasetemp()
    if os.environ.get('PYTEST_XDIST_WORKER'):
        root = root.parent  # the run's folder, above each worker's own
    folder = root / name
    with FileLock(str(folder) + '.lock'):
        if not (folder / '.built').exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / '.built').touch()
    return folder


def log_text(work_dir) -> str:
    """Everything mmengine logged in ``work_dir`` (the tools' console shows a
    summary; the log files keep the full log)."""
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
    options = tiny_detector_options(shapes_root, 'retinanet', epochs=2)

    def train(work_dir):  # the README's command, as a program
        proc = run_program('train.py', REPO / 'configs' / 'retinanet_vanillanet11.py',
                           '--work-dir', work_dir, '--cfg-options', *options)
        assert proc.returncode == 0, proc.stderr[-3000:]
    work_dir = built_once(tmp_path_factory, 'retinanet', train)
    return work_dir, work_dir / 'epoch_2.pth', options


@pytest.fixture(scope='session')
def spread_scores_checkpoint(trained_retinanet, tmp_path_factory):
    """The trained checkpoint with its classification layer re-drawn at random.

    Two epochs leave every score near the focal-loss prior 0.01. Random class
    weights spread the scores; each class channel's bias is then set so that
    about 1 candidate in 1000 on the val images scores above 0.5, which gives
    a few hundred real detections per image for tests/predictions.py to compare
    (and keeps the flat background's many equal scores below the threshold).
    """
    return built_once(tmp_path_factory, 'spread_scores',
                      lambda folder: _spread_scores(trained_retinanet, folder)) / 'spread_scores.pth'


def _spread_scores(trained_retinanet, folder):
    from mmvanilla.apis.detector import build_detector
    from mmvanilla.utils.safe_checkpoint import safe_load
    _, checkpoint, options = trained_retinanet
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
    torch.save(ckpt, folder / 'spread_scores.pth')


@pytest.fixture(scope='session')
def int8_artefact(trained_retinanet, spread_scores_checkpoint, tmp_path_factory):
    """(OUT_DIR, console) of tools/quantize.py on the spread-scores RetinaNet,
    calibrated on 4 training images: built once, for every INT8 test."""
    _, _, options = trained_retinanet

    def quantize(folder):
        proc = call_tool('quantize.py', REPO / 'configs' / 'retinanet_vanillanet11.py',
                         spread_scores_checkpoint, folder / 'out', '--calib-images', 4,
                         '--cfg-options', *options)
        assert proc.returncode == 0, proc.stderr[-3000:]
        (folder / 'stdout.txt').write_text(proc.stdout)
        (folder / 'stderr.txt').write_text(proc.stderr)
    folder = built_once(tmp_path_factory, 'int8', quantize)
    return folder / 'out', ToolResult(0, (folder / 'stdout.txt').read_text(),
                                      (folder / 'stderr.txt').read_text())


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

"""Checkpoints are untrusted: weights_only loading with an explicit allow-list."""
import os
import zipfile

import numpy as np
import pytest
import torch

from mmvanilla.utils.errors import CheckpointError
from mmvanilla.utils.safe_checkpoint import safe_load
from tests.conftest import REPO, call_tool, log_text, run_program


class Payload:
    """Unpickling this runs ``touch <marker>``: the code a checkpoint must not run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


class GetattrEscalation:
    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return (getattr, (HistoryBuffer, '__init__'))


def malicious(path, marker):
    torch.save({'state_dict': {'w': torch.ones(1)}, 'meta': Payload(marker)}, path)
    return path


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / 'pwned'
    with pytest.raises(CheckpointError, match='posix.system.*Nothing from it was executed'):
        safe_load(malicious(tmp_path / 'evil.pth', marker))
    assert not marker.exists()
    # The same file does run code under a plain pickle load: the test is real.
    torch.load(tmp_path / 'evil.pth', weights_only=False)
    assert marker.exists()


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path):
    torch.save({'x': GetattrEscalation()}, tmp_path / 'g.pth')
    with pytest.raises(CheckpointError, match=r"getattr\(HistoryBuffer, '__init__'\)"):
        safe_load(tmp_path / 'g.pth')


def test_truncated_missing_and_non_checkpoint_files(tmp_path):
    torch.save({'w': torch.ones(100)}, tmp_path / 'ok.pth')
    data = (tmp_path / 'ok.pth').read_bytes()
    for n in (0, 100, len(data) // 2):
        (tmp_path / 'bad.pth').write_bytes(data[:n])
        with pytest.raises(CheckpointError, match='truncated or corrupt'):
            safe_load(tmp_path / 'bad.pth')
    (tmp_path / 'text.pth').write_text('hello')
    with pytest.raises(CheckpointError, match='truncated or corrupt'):
        safe_load(tmp_path / 'text.pth')
    with pytest.raises(CheckpointError, match='not found'):
        safe_load(tmp_path / 'none.pth')
    assert torch.equal(safe_load(tmp_path / 'ok.pth')['w'], torch.ones(100))


def test_mmengine_training_checkpoints_load(trained_retinanet):
    _, checkpoint, _ = trained_retinanet
    ckpt = safe_load(checkpoint)
    assert {'meta', 'state_dict', 'optimizer', 'message_hub', 'param_schedulers'} <= set(ckpt)
    assert ckpt['message_hub']['log_scalars']['train/loss'].mean() > 0


def test_every_tool_refuses_a_malicious_checkpoint(trained_retinanet, tmp_path):
    _, checkpoint, options = trained_retinanet
    marker = tmp_path / 'pwned'
    evil = malicious(tmp_path / 'evil.pth', marker)
    config = REPO / 'configs' / 'retinanet_vanillanet11.py'
    no_init = [o for o in options if 'init_cfg' not in o]
    calls = [
        ('train.py', config, '--work-dir', tmp_path / 'a', '--cfg-options', *no_init,
         f'model.backbone.init_cfg.checkpoint={evil}'),
        ('train.py', config, '--work-dir', tmp_path / 'b', '--cfg-options', *options,
         f'load_from={evil}'),
        ('train.py', config, '--work-dir', tmp_path / 'c', '--resume', evil,
         '--cfg-options', *options),
        ('test.py', config, evil, '--work-dir', tmp_path / 'd', '--cfg-options', *options),
        ('reparameterize.py', config, evil, tmp_path / 'e', '--cfg-options', *options),
        ('benchmark.py', config, '--checkpoint', evil, '--iters', 1, '--cfg-options',
         *options),
        ('infer.py', config, evil, f'{options[0].split("=")[1]}val', '--out-dir',
         tmp_path / 'f', '--cfg-options', *options),
    ]
    for args in calls:
        proc = call_tool(*args)
        assert proc.returncode == 2 and 'Traceback' not in proc.stderr, \
            (args[0], proc.stderr[-2000:])
        assert 'refused to load' in proc.stderr and 'posix.system' in proc.stderr
        assert not marker.exists(), args[0]


@pytest.mark.parametrize('tool', ['test.py'])
def test_each_tool_family_refuses_it_as_a_program(trained_retinanet, tmp_path, tool):
    """The same as a program, through the Runner (the in-process test above
    covers every tool; a program adds the re-executed start-up)."""
    _, _, options = trained_retinanet
    marker = tmp_path / 'pwned'
    evil = malicious(tmp_path / 'evil.pth', marker)
    config = REPO / 'configs' / 'retinanet_vanillanet11.py'
    extra = {'test.py': ['--work-dir', tmp_path / 'w'], 'reparameterize.py': [tmp_path / 'e'],
             'infer.py': [f'{options[0].split("=")[1]}val', '--out-dir', tmp_path / 'f']}[tool]
    proc = run_program(tool, config, evil, *extra, '--cfg-options', *options)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr, proc.stderr[-2000:]
    assert 'refused to load' in proc.stderr and 'posix.system' in proc.stderr
    assert not marker.exists()


def test_mmdet_tools_and_det_inferencer_surface_the_same_message(trained_retinanet, tmp_path):
    """mmdet's own tools/test.py and DetInferencer meet our configs' safe loader
    (custom_imports): their exception starts with the same one-line message."""
    import mmdet
    from mmdet.apis import DetInferencer
    _, _, options = trained_retinanet
    marker = tmp_path / 'pwned'
    evil = malicious(tmp_path / 'evil.pth', marker)
    config = REPO / 'configs' / 'retinanet_vanillanet11.py'
    mmdet_test = os.path.join(os.path.dirname(mmdet.__file__), '.mim', 'tools', 'test.py')
    proc = run_program(mmdet_test, config, evil, '--work-dir', tmp_path / 'w',
                    '--cfg-options', *options)
    assert proc.returncode != 0 and not marker.exists()
    assert f"CheckpointError: refused to load '{evil}'" in proc.stderr
    with pytest.raises(CheckpointError) as error:
        DetInferencer(model=str(config), weights=str(evil), device='cpu', show_progress=False)
    assert str(error.value).startswith(f"refused to load '{evil}'")
    assert '\n' not in str(error.value) and not marker.exists()


def test_downloads_go_through_the_safe_loader(tmp_path, monkeypatch):
    """http(s):// and torchvision:// etc. end in mmengine's load_url: now safe."""
    from mmengine.runner.checkpoint import CheckpointLoader
    marker = tmp_path / 'pwned'
    served = malicious(tmp_path / 'served.pth', marker)

    def fake_download(url, dst, progress=False):  # no network in tests
        dst_path = __import__('pathlib').Path(dst)
        dst_path.write_bytes(served.read_bytes())

    monkeypatch.setattr(torch.hub, 'download_url_to_file', fake_download)
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    for url in ('https://example.com/evil.pth', 'torchvision://resnet18'):
        with pytest.raises(CheckpointError, match='refused to load'):
            CheckpointLoader.load_checkpoint(url, map_location='cpu')
    assert not marker.exists()


def test_numpy1_mmengine_checkpoint_resumes(trained_retinanet, tmp_path):
    """Checkpoints written under numpy 1.x pickle numpy values as
    numpy.core.multiarray: the same functions the allow-list has, other name."""
    from tests.numpy1 import numpy1_pickles
    _, checkpoint, options = trained_retinanet
    ckpt = safe_load(checkpoint)
    ckpt['meta']['seed'] = np.int64(0)
    with numpy1_pickles():
        torch.save(ckpt, tmp_path / 'numpy1.pth')
    with zipfile.ZipFile(tmp_path / 'numpy1.pth') as z:
        data = next(z.read(n) for n in z.namelist() if n.endswith('data.pkl'))
    assert b'numpy.core.multiarray\n_reconstruct' in data and b'numpy._core' not in data
    options = [o for o in options if not o.startswith('train_cfg.max_epochs')]
    proc = call_tool('train.py', REPO / 'configs' / 'retinanet_vanillanet11.py',
                    '--work-dir', tmp_path / 'w', '--resume', tmp_path / 'numpy1.pth',
                    '--cfg-options', *options, 'train_cfg.max_epochs=3')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'resumed epoch: 2' in log_text(tmp_path / 'w')
    assert (tmp_path / 'w' / 'epoch_3.pth').is_file()

import argparse

import pytest
from mmdet.registry import MODELS
from mmengine.config import Config, DictAction
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from torch.nn.modules.batchnorm import _BatchNorm

from mmvanilla.utils.errors import ConfigError
from tests.conftest import REPO
from tests.detection_options import tiny_detector_options


def tiny_cfg(shapes_root, kind='retinanet'):
    """A shipped config with the tiny options applied, as tools/train.py does."""
    cfg = Config.fromfile(REPO / 'configs' / f'{kind}_vanillanet11.py')
    init_default_scope(cfg.default_scope)
    parser = argparse.ArgumentParser()
    parser.add_argument('--o', nargs='+', action=DictAction)
    cfg.merge_from_dict(parser.parse_args(['--o', *tiny_detector_options(shapes_root, kind)]).o)
    return cfg


@pytest.mark.parametrize('kind', ['retinanet', 'mask_rcnn'])
def test_every_param_group_follows_the_layer_decay_formula(shapes_root, kind):
    cfg = tiny_cfg(shapes_root, kind)
    model = MODELS.build(cfg.model)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    groups = optim_wrapper.optimizer.param_groups
    assert type(optim_wrapper.optimizer).__name__ == 'AdamW'
    assert sum(len(g['params']) for g in groups) == len(list(model.parameters()))

    base_lr, base_wd, rate = 1.4e-4, 0.05, 0.8
    num_layers = (3 - 1) // 2 + 1  # 3 blocks
    no_decay = {id(p) for m in model.modules() if isinstance(m, _BatchNorm)
                for p in m.parameters()}
    no_decay |= {id(p) for n, p in model.named_parameters() if n.endswith('.bias')}
    names = {id(p): n for n, p in model.named_parameters()}
    lrs = {}
    for group in groups:
        (param,) = group['params']
        name = names[id(param)]
        if name.startswith('backbone.stem'):
            layer_id = 0
        elif name.startswith('backbone.stages.'):
            layer_id = int(name.split('.')[2]) // 2 + 1
        else:
            layer_id = num_layers + 1
        assert group['lr'] == pytest.approx(base_lr * rate ** (num_layers + 1 - layer_id)), name
        assert group['weight_decay'] == (0.0 if id(param) in no_decay else base_wd), name
        lrs[name] = group['lr']
    head = [lr for n, lr in lrs.items() if not n.startswith('backbone.')]
    assert head and all(lr == pytest.approx(base_lr) for lr in head)
    assert min(lrs.values()) == lrs['backbone.stem1.0.weight'] == \
        pytest.approx(base_lr * rate ** (num_layers + 1))


def test_refuses_a_backbone_without_layer_depth(shapes_root):
    cfg = tiny_cfg(shapes_root)
    cfg.model.backbone = dict(type='ResNet', depth=18, out_indices=(1, 2, 3))
    cfg.model.neck.in_channels = [128, 256, 512]
    model = MODELS.build(cfg.model)
    with pytest.raises(ConfigError, match='get_layer_depth'):
        build_optim_wrapper(model, cfg.optim_wrapper)


def test_the_plugin_and_a_training_step_run_beside_current_transformers(shapes_root, tmp_path):
    """mmpretrain 1.2's multimodal models fail to import beside transformers >=
    4.56 (a research environment's usual neighbour, in the dev extras): the
    plugin's import (through this constructor) and every model build (mmdet
    imports mmpretrain.models) failed. Fresh interpreter: nothing preloaded."""
    import subprocess
    import sys
    script = f'''
import sys
import transformers, timm
major, minor = map(int, transformers.__version__.split('.')[:2])
assert (major, minor) >= (4, 56), transformers.__version__
import mmvanilla.plugin
from mmvanilla.cli import call
from mmvanilla.tools import train
from tests.detection_options import tiny_detector_options
status = call(train.main, ["configs/retinanet_vanillanet11.py", "--work-dir", {str(tmp_path)!r},
                           "--cfg-options", *tiny_detector_options({shapes_root!r}, "retinanet")])
assert status == 0, status
'''
    proc = subprocess.run([sys.executable, '-c', script], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / 'epoch_1.pth').is_file()

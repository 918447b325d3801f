import pytest
import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmvanilla.engine import DeepTrainingHook
from mmvanilla.utils.errors import ConfigError
from tests.engine.optimizers.test_layer_decay_optim_wrapper_constructor import tiny_cfg


class RecordLambda(Hook):
    priority = 'LOW'  # after DeepTrainingHook (NORMAL)

    def __init__(self):
        self.values = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.values.append(runner.model.backbone.act_learn)


@pytest.mark.parametrize('hook_cfg, expected', [
    (dict(iters=4), [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]),
    (dict(epochs=2), [0.0, 0.0, 0.5, 0.5, 1.0, 1.0]),
])
def test_lambda_anneals_from_0_to_1_in_a_real_run(shapes_root, tmp_path, hook_cfg, expected):
    cfg = tiny_cfg(shapes_root)
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg.max_epochs = 3  # 8 images / batch 4: 2 iterations an epoch
    cfg.train_cfg.val_interval = 10
    cfg.custom_hooks = [dict(type='DeepTrainingHook', **hook_cfg)]
    runner = Runner.from_cfg(cfg)
    recorder = RecordLambda()
    runner.register_hook(recorder)
    runner.train()
    assert recorder.values == expected
    runner.model.backbone.switch_to_deploy()  # lambda reached 1: fusable
    assert runner.model.backbone.deploy
    saved = torch.load(tmp_path / 'epoch_1.pth', weights_only=False)
    # epoch 1 ran iterations 0 and 1: the checkpoint holds the second one's lambda
    assert saved['state_dict']['backbone.deep_training_lambda'].item() == expected[1]


def test_hook_is_registered_and_validates_its_arguments():
    assert HOOKS.get('DeepTrainingHook') is DeepTrainingHook
    for kwargs in (dict(), dict(epochs=2, iters=3), dict(epochs=0)):
        with pytest.raises(ConfigError, match='exactly one of'):
            DeepTrainingHook(**kwargs)


def test_warns_when_training_ends_before_lambda_reaches_1(shapes_root, tmp_path, caplog):
    cfg = tiny_cfg(shapes_root)
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 10
    cfg.custom_hooks = [dict(type='DeepTrainingHook', epochs=4)]
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.model.backbone.act_learn == 0.0
    log = (tmp_path / runner.timestamp / f'{runner.timestamp}.log').read_text()
    assert 'training ended at lambda = 0 < 1' in log

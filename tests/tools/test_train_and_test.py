"""The main job from the command line: the real configs, tiny arch, shapes data."""
import socket

import pytest

from tests.conftest import REPO, call_tool, coco_metrics, log_text, run_program
from tests.detection_options import tiny_detector_options
from tests.predictions import assert_same_detections, predict

CONFIGS = REPO / 'configs'


def train(kind, shapes_root, work_dir, *extra, epochs=1):
    proc = call_tool('train.py', CONFIGS / f'{kind}_vanillanet11.py', '--work-dir',
                    work_dir, *extra, '--cfg-options',
                    *tiny_detector_options(shapes_root, kind, epochs))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_mask_rcnn_trains_and_evaluates_bbox_and_segm(shapes_root, tmp_path):
    proc = train('mask_rcnn', shapes_root, tmp_path)
    metrics = coco_metrics(log_text(tmp_path))
    assert {'bbox_mAP', 'bbox_mAP_50', 'segm_mAP', 'segm_mAP_50'} <= set(metrics)
    # The console: a summary, not mmengine's log (that is in the log file).
    assert 'epoch   1/1  loss' in proc.stdout and 'val after epoch 1: bbox AP' in proc.stdout
    assert 'segm AP' in proc.stdout and 'Epoch(train)' not in proc.stdout
    assert len(proc.stdout.splitlines()) <= 10, proc.stdout
    assert (tmp_path / 'epoch_1.pth').is_file()


def test_retinanet_test_with_deploy_gives_the_same_detections(
        trained_retinanet, spread_scores_checkpoint, tmp_path):
    _, _, options = trained_retinanet
    checkpoint = spread_scores_checkpoint
    config = CONFIGS / 'retinanet_vanillanet11.py'
    plain, log = predict(config, checkpoint, options, tmp_path)
    assert 'reparameterized the model' not in log.stdout + log.stderr
    # the README's test --deploy, as a program
    fused, log = predict(config, checkpoint, options, tmp_path, '--deploy', as_program=True)
    assert 'reparameterized the model' in log.stdout + log.stderr
    assert_same_detections(plain, fused)


def test_resume_continues_from_the_last_checkpoint(shapes_root, tmp_path):
    train('retinanet', shapes_root, tmp_path, epochs=2)
    (tmp_path / 'epoch_2.pth').unlink()
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    train('retinanet', shapes_root, tmp_path, '--resume', epochs=2)
    log = log_text(tmp_path).split('resumed epoch')[-1]
    assert log.startswith(': 1, iter: 2')
    assert 'Epoch(train) [2][2/2]' in log and 'Epoch(train) [1]' not in log
    assert (tmp_path / 'epoch_2.pth').is_file()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_dist_train_runs_two_cpu_processes(shapes_root, tmp_path):
    proc = run_program('dist_train.sh', CONFIGS / 'retinanet_vanillanet11.py', 2,
                    '--work-dir', tmp_path, '--cfg-options',
                    *tiny_detector_options(shapes_root, 'retinanet', batch_size=2),
                    env={'PORT': str(_free_port()), 'PYTHON': __import__('sys').executable,
                         'CUDA_VISIBLE_DEVICES': ''})  # the CPU, asked for
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert 'distributed on CPU with gloo, rank 0 of 2' in log
    log = log_text(tmp_path)
    # 8 images, 2 processes x 2 images: 2 iterations per epoch.
    assert 'Epoch(train) [1][2/2]' in log
    assert (tmp_path / 'epoch_1.pth').is_file()


def test_missing_coco_names_the_layout_and_the_demo(tmp_path):
    proc = call_tool('train.py', CONFIGS / 'retinanet_vanillanet11.py', cwd=tmp_path)
    assert proc.returncode == 2
    assert 'Traceback' not in proc.stderr
    assert "annotation file 'data/coco/annotations/instances_train2017.json' not found" \
        in proc.stderr
    assert 'bash tools/demo.sh' in proc.stderr and 'train2017/' in proc.stderr


def test_missing_imagenet_checkpoint_says_how_to_get_it(shapes_root, tmp_path):
    opts = [o for o in tiny_detector_options(shapes_root) if 'init_cfg' not in o]
    proc = call_tool('train.py', CONFIGS / 'retinanet_vanillanet11.py', '--work-dir',
                    tmp_path, '--cfg-options', *opts, cwd=tmp_path)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert "backbone checkpoint 'checkpoints/vanillanet_11.pth' not found" in proc.stderr
    assert 'init_cfg.checkpoint=None' in proc.stderr


def test_with_cp_trains_through_the_tools(shapes_root, tmp_path):
    """Gradient checkpointing (as a config would set it), with deep training on."""
    config = tmp_path / 'with_cp.py'
    config.write_text(f"_base_ = '{CONFIGS / 'retinanet_vanillanet11.py'}'\n"
                      "model = dict(backbone=dict(with_cp=True))\n"
                      "custom_hooks = [dict(type='DeepTrainingHook', epochs=2)]\n")
    proc = call_tool('train.py', config, '--work-dir', tmp_path / 'w', '--cfg-options',
                     *tiny_detector_options(shapes_root, 'retinanet'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / 'w' / 'epoch_1.pth').is_file()


def test_a_gpu_job_that_cannot_see_its_gpus_stops_with_one_line(monkeypatch):
    """Not a slow CPU training with one INFO line: the launch script stops
    before torchrun, a torchrun job at set-up (a CUDA_VISIBLE_DEVICES naming
    no GPU here, as a wrong one on a node does); the CPU is asked for with ''."""
    from mmengine.config import Config

    from mmvanilla.utils.cpu_distributed import prepare_cpu_distributed
    from mmvanilla.utils.errors import ConfigError
    proc = run_program('dist_train.sh', CONFIGS / 'retinanet_vanillanet11.py', 64,
                       env={'PYTHON': __import__('sys').executable,
                            'CUDA_VISIBLE_DEVICES': 'GPU-none'})
    assert proc.returncode == 2 and proc.stderr.count('\n') == 1, proc.stderr
    assert 'torch sees no GPU on this node' in proc.stderr
    assert 'CUDA_VISIBLE_DEVICES= (empty)' in proc.stderr
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', 'GPU-none')
    with pytest.raises(ConfigError, match='--launcher pytorch: torch .* sees no GPU'):
        prepare_cpu_distributed(Config(dict(launcher='pytorch')))

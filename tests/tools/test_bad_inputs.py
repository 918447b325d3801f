"""Bad inputs given to the tools end in one clear line (docs/bad_inputs.md)."""
import json
import os
import shutil

import cv2
import numpy as np
import pytest
import torch

from mmvanilla.apis.detector import build_detector
from mmvanilla.utils.safe_checkpoint import safe_load
from tests.conftest import REPO, call_tool, cli_options
from tests.detection_options import tiny_detector_options

RETINA = REPO / 'configs' / 'retinanet_vanillanet11.py'


def one_line_error(proc, *fragments):
    """Exit status 2, no traceback, and one 'error:' line with the fragments."""
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert 'Traceback' not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith('error: ')]
    assert len(errors) == 1, proc.stderr[-2000:]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def dataset_copy(shapes_root, tmp_path):
    root = tmp_path / 'data'
    shutil.copytree(shapes_root, root)
    return root


def train(root, work_dir, *options, kind='retinanet'):
    return call_tool('train.py', REPO / 'configs' / f'{kind}_vanillanet11.py', '--work-dir',
                    work_dir, '--cfg-options', *tiny_detector_options(str(root), kind),
                    *options)


def test_fpn_in_channels_that_do_not_match_the_backbone(shapes_root, tmp_path):
    proc = train(shapes_root, tmp_path, 'model.neck.in_channels=[32,64,256]')
    one_line_error(proc, 'model.neck.in_channels [32, 64, 256] do not match',
                   'set model.neck.in_channels=[32, 64, 128]')


def test_unknown_arch_from_the_command_line(shapes_root, tmp_path):
    proc = call_tool('train.py', RETINA, '--work-dir', tmp_path, '--cfg-options',
                    'model.backbone.arch=vanillanet_99')
    one_line_error(proc, "unknown VanillaNet arch 'vanillanet_99'", 'vanillanet_11')


def test_dict_over_a_named_arch_without_delete(shapes_root, tmp_path):
    proc = call_tool('train.py', RETINA, '--work-dir', tmp_path, '--cfg-options',
                    'model.backbone.arch.dims=[8,16]')
    one_line_error(proc, '--cfg-options do not fit', '_delete_=True')


def test_empty_annotation_file(dataset_copy, tmp_path):
    (dataset_copy / 'annotations' / 'instances_train.json').write_text('')
    one_line_error(train(dataset_copy, tmp_path / 'w'), 'instances_train.json', 'is empty')


def test_annotation_file_without_images(dataset_copy, tmp_path):
    path = dataset_copy / 'annotations' / 'instances_val.json'
    path.write_text(json.dumps(dict(images=[], annotations=[], categories=[])))
    one_line_error(train(dataset_copy, tmp_path / 'w'), 'lists no images')


def test_image_listed_but_missing(dataset_copy, tmp_path):
    os.remove(dataset_copy / 'train' / 'train_00003.png')
    one_line_error(train(dataset_copy, tmp_path / 'w'), "'train_00003.png'",
                   'not in', 'remove them from the annotation file')


def test_image_that_cannot_be_read_keeps_earlier_checkpoints(dataset_copy, tmp_path):
    work_dir = tmp_path / 'w'
    assert train(dataset_copy, work_dir).returncode == 0
    (dataset_copy / 'train' / 'train_00005.png').write_bytes(b'not a png')
    proc = train(dataset_copy, work_dir, 'train_cfg.max_epochs=2', '--resume')
    one_line_error(proc, 'train_00005.png cannot be read', 'replace it or remove it')
    assert safe_load(str(work_dir / 'epoch_1.pth'))['meta']['epoch'] == 1


def test_grayscale_and_rgba_images_are_read_as_rgb(dataset_copy, tmp_path):
    gray = cv2.imread(str(dataset_copy / 'train' / 'train_00000.png'), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(dataset_copy / 'train' / 'train_00000.png'), gray)
    bgr = cv2.imread(str(dataset_copy / 'train' / 'train_00001.png'))
    rgba = np.dstack([bgr, np.full(bgr.shape[:2], 255, np.uint8)])
    cv2.imwrite(str(dataset_copy / 'train' / 'train_00001.png'), rgba)
    proc = train(dataset_copy, tmp_path / 'w')
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_test_tool_inputs(trained_retinanet, tmp_path):
    _, checkpoint, options = trained_retinanet
    proc = call_tool('test.py', RETINA, tmp_path / 'nope.pth')
    one_line_error(proc, 'nope.pth', 'not found')
    proc = call_tool('test.py', RETINA, checkpoint, '--out', tmp_path / 'x.json',
                    '--work-dir', tmp_path, '--cfg-options', *options)
    one_line_error(proc, '--out must end in .pkl')
    proc = call_tool('test.py', tmp_path / 'missing.py', checkpoint)
    one_line_error(proc, 'config file', 'not found')


def test_resume_from_a_missing_path(shapes_root, tmp_path):
    proc = train(shapes_root, tmp_path, '--resume', str(tmp_path / 'gone.pth'))
    one_line_error(proc, '--resume checkpoint', 'gone.pth', 'not found')


def test_corrupt_checkpoint_to_test_and_reparameterize(trained_retinanet, tmp_path):
    _, checkpoint, options = trained_retinanet
    broken = tmp_path / 'broken.pth'
    broken.write_bytes(checkpoint.read_bytes()[:5000])
    for tool, args in (('test.py', [RETINA, broken, '--work-dir', tmp_path]),
                       ('reparameterize.py', [RETINA, broken, tmp_path / 'out'])):
        proc = call_tool(tool, *args, '--cfg-options', *options)
        one_line_error(proc, 'truncated or corrupt')
    assert not (tmp_path / 'out').exists()


def test_fused_checkpoint_with_the_unfused_config(trained_retinanet, tmp_path):
    _, checkpoint, options = trained_retinanet
    assert call_tool('reparameterize.py', RETINA, checkpoint, tmp_path,
                    '--cfg-options', *options).returncode == 0
    fused = tmp_path / 'epoch_2_deploy.pth'
    for proc in (call_tool('benchmark.py', RETINA, '--checkpoint', fused, '--iters', 1,
                          '--cfg-options', *options),
                 call_tool('test.py', RETINA, fused, '--work-dir', tmp_path / 'test',
                          '--cfg-options', *options)):
        one_line_error(proc, 'does not fit the model',
                       'deploy config that tools/reparameterize.py wrote')


@pytest.mark.parametrize('content, fragments', [
    ('mask_rcnn', ['does not fit the model', 'model keys missing', 'unexpected keys',
                   'trained for another detector']),
    ('foo', ['does not fit the model', 'model keys missing', "unexpected keys (e.g. foo)"]),
    ('tensor', ['holds a Tensor, not a checkpoint']),
    ('classes', ['of another shape (e.g. bbox_head.retina_cls.weight (18, 32, 3, 3)',
                 'num_classes']),
])
def test_evaluating_a_checkpoint_that_does_not_fit_fails(
        trained_retinanet, shapes_root, tmp_path, content, fragments):
    """mmengine would load it non-strictly, evaluate mAP 0.000 and exit 0."""
    _, checkpoint, options = trained_retinanet
    path = tmp_path / f'{content}.pth'
    if content == 'mask_rcnn':
        model, _, _ = build_detector(str(REPO / 'configs' / 'mask_rcnn_vanillanet11.py'),
                                     cfg_options=cli_options(
                                         tiny_detector_options(shapes_root, 'mask_rcnn')))
        torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    elif content == 'foo':
        torch.save({'foo': 1}, path)
    elif content == 'tensor':
        torch.save(torch.ones(3), path)
    else:  # trained for 2 classes, evaluated with 3
        ckpt = safe_load(checkpoint)
        ckpt['state_dict'] = {k: v[:18] if 'retina_cls' in k else v
                              for k, v in ckpt['state_dict'].items()}
        torch.save(ckpt, path)
    proc = call_tool('test.py', RETINA, path, '--work-dir', tmp_path / 'w',
                    '--cfg-options', *options)
    one_line_error(proc, *fragments)
    assert 'bbox_mAP' not in proc.stdout + proc.stderr


# --- round 2 (issue 11): one line, exit 2, before any work -------------------

def coco(dataset_copy, split='train'):
    path = dataset_copy / 'annotations' / f'instances_{split}.json'
    return path, json.loads(path.read_text())


@pytest.mark.parametrize('damage, fragment', [
    (lambda d: d['annotations'][0].update(category_id=99),
     'has category_id 99, which is not in "categories"'),
    (lambda d: d.pop('annotations'), '"annotations" is missing or not a list'),
    (lambda d: d.pop('categories'), '"categories" is missing or not a list'),
    (lambda d: d['annotations'][0].pop('bbox'), 'has no "bbox" of 4 numbers'),
    (lambda d: d.update(images={'a': 1}), '"images" is missing or not a list'),
    (lambda d: d['images'][0].update(id='img0'), 'needs an int "id"'),
    (lambda d: d['annotations'][0].update(image_id=12345), 'image_id 12345, which is not in'),
])
def test_annotation_file_of_the_wrong_schema(dataset_copy, tmp_path, damage, fragment):
    path, data = coco(dataset_copy)
    damage(data)
    path.write_text(json.dumps(data))
    one_line_error(train(dataset_copy, tmp_path), fragment)


def test_training_set_whose_every_box_is_empty(dataset_copy, tmp_path):
    path, data = coco(dataset_copy)
    for ann in data['annotations']:
        ann['bbox'][2] = 0
    path.write_text(json.dumps(data))
    one_line_error(train(dataset_copy, tmp_path), 'every one of its', 'zero or negative width')


@pytest.mark.parametrize('option, fragment', [
    ('model.backbone.act_learn=abc', "act_learn must be a number in [0, 1], got 'abc'"),
    ('optim_wrapper.optimizer.lr=abc', "optim_wrapper.optimizer.lr must be a number > 0, got 'abc'"),
    ('train_dataloader.batch_size=0', 'train_dataloader.batch_size must be an int >= 1, got 0'),
    ('model.bbox_head.num_classes=0', 'model.bbox_head.num_classes must be an int >= 1, got 0'),
    ('train_cfg.max_epochs=-1', 'train_cfg.max_epochs must be an int >= 1, got -1'),
    ('model.backbone.out_indices=[0,1', 'cannot be parsed'),
    ('model.backbone.act_num=100000', 'act_num=100000 makes 200001x200001 activation kernels'),
])
def test_cfg_options_of_the_wrong_type_or_value(shapes_root, tmp_path, option, fragment):
    one_line_error(train(shapes_root, tmp_path, option), fragment)


def test_fine_tuning_from_another_head_needs_strict_load_false(trained_retinanet, shapes_root,
                                                              tmp_path):
    """load_from with another num_classes is refused (a mistake, usually); on
    purpose, strict_load=False gives mmengine's partial loading back."""
    _, checkpoint, options = trained_retinanet
    two = [o for o in tiny_detector_options(shapes_root, 'retinanet')
           if 'num_classes' not in o and 'metainfo.classes' not in o] + [
        'model.bbox_head.num_classes=2', f'load_from={checkpoint}'] + [
        f'{split}_dataloader.dataset.metainfo.classes=(circle,square)'
        for split in ('train', 'val', 'test')]
    proc = call_tool('train.py', RETINA, '--work-dir', tmp_path / 'a', '--cfg-options', *two)
    one_line_error(proc, 'of another shape', 'strict_load=False')
    proc = call_tool('train.py', RETINA, '--work-dir', tmp_path / 'b', '--cfg-options', *two,
                    'strict_load=False')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / 'b' / 'epoch_1.pth').is_file()


def test_config_that_raises_or_is_not_a_config(tmp_path):
    (tmp_path / 'bad.py').write_text("_base_ = []\nmodel = dict(type=undefined_name)\n")
    one_line_error(call_tool('train.py', tmp_path / 'bad.py'), 'cannot read config',
                   'NameError', 'undefined_name')
    (tmp_path / 'config.txt').write_text('model = dict()\n')
    one_line_error(call_tool('train.py', tmp_path / 'config.txt'), 'is not a config: give a .py')


def test_amp_without_cuda_and_launcher_without_torchrun(shapes_root, tmp_path):
    if not torch.cuda.is_available():
        one_line_error(train(shapes_root, tmp_path, '--amp'), '--amp needs a CUDA GPU')
    proc = call_tool('train.py', RETINA, '--launcher', 'pytorch', '--work-dir', tmp_path,
                    env={'RANK': '', 'WORLD_SIZE': ''})  # as outside torchrun
    one_line_error(proc, '--launcher pytorch needs the environment torchrun sets',
                   'tools/dist_train.sh')


def test_output_paths_that_cannot_be_written_fail_before_the_work(trained_retinanet, tmp_path):
    _, checkpoint, options = trained_retinanet
    blocker = tmp_path / 'file.txt'
    blocker.write_text('x')  # a file where a folder is needed: unwritable even for root
    long_name = tmp_path / ('w' * 300)
    calls = [
        (('train.py', RETINA, '--work-dir', blocker / 'w', '--cfg-options', *options),
         "work dir '{}/w' cannot be written".format(blocker)),
        (('train.py', RETINA, '--work-dir', long_name, '--cfg-options', *options),
         'File name too long'),
        (('test.py', RETINA, checkpoint, '--work-dir', tmp_path / 't', '--out',
          blocker / 'p.pkl', '--cfg-options', *options), 'the folder of --out'),
        (('benchmark.py', RETINA, '--checkpoint', checkpoint, '--out', blocker / 'b.json',
          '--cfg-options', *options), 'the folder of --out'),
        (('benchmark.py', RETINA, '--out', tmp_path / 'b.json', '--plot', tmp_path,
          '--cfg-options', *options), 'is a folder: give a file name'),
        (('deploy.py', RETINA, checkpoint, blocker / 'm', '--graph', 'backbone',
          '--cfg-options', *options), 'output folder'),
        (('reparameterize.py', RETINA, checkpoint, blocker / 'out', '--cfg-options', *options),
         'output folder'),
    ]
    for args, fragment in calls:
        one_line_error(call_tool(*args), fragment)
    assert not (tmp_path / 't').exists()  # test.py stopped before the runner


def test_network_graph_into_a_new_folder_is_created(trained_retinanet, tmp_path):
    _, checkpoint, options = trained_retinanet
    out = tmp_path / 'new' / 'sub'
    proc = call_tool('deploy.py', RETINA, checkpoint, out, '--graph', 'backbone',
                     '--shape', 64, 64, '--cfg-options', *options)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / 'backbone.onnx').stat().st_size > 0


def test_resume_in_a_work_dir_of_only_corrupt_checkpoints(shapes_root, tmp_path):
    (tmp_path / 'epoch_1.pth').write_bytes(b'PK\x03\x04 truncated')
    (tmp_path / 'epoch_2.pth').write_bytes(b'')
    proc = train(shapes_root, tmp_path, '--resume')
    one_line_error(proc, 'every checkpoint in', 'epoch_2.pth, epoch_1.pth',
                   'truncated or corrupt')
    assert (tmp_path / 'epoch_1.pth').read_bytes() == b'PK\x03\x04 truncated'  # kept


def test_stale_partial_checkpoints_are_removed_when_training_starts(shapes_root, tmp_path):
    import subprocess

    from mmvanilla_runtime.outputs import temporary_prefix
    dead = subprocess.Popen(['true'])
    dead.wait()  # a save of a process that no longer runs
    stale = tmp_path / f'{temporary_prefix(dead.pid)}abc123-epoch_2.pth'
    stale.write_bytes(b'\0' * 1000)
    live = tmp_path / f'{temporary_prefix(os.getppid())}abc123-epoch_2.pth'
    live.write_bytes(b'\0' * 1000)  # a running process's save is left alone
    proc = train(shapes_root, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not stale.exists() and live.exists() and (tmp_path / 'epoch_1.pth').is_file()
    assert 'removed' in proc.stdout + proc.stderr and 'interrupted save' in proc.stdout + proc.stderr


@pytest.mark.parametrize('amp,dtype', [([], 'float16'), (['fp16'], 'float16'),
                                       (['bf16'], 'bfloat16')])
def test_amp_chooses_fp16_or_bf16(monkeypatch, tmp_path, amp, dtype):
    """--amp is CUDA fp16 with loss scaling, --amp bf16 CUDA bf16 (the
    config as the Runner receives it; no GPU needed to build it)."""
    from mmengine.config import Config

    from mmvanilla.tools import train as train_tool
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    args = train_tool.parse_args([str(RETINA), '--amp', *amp, '--work-dir', str(tmp_path)])
    cfg = Config.fromfile(str(RETINA))
    cfg.work_dir = str(tmp_path)
    cfg = train_tool.build_cfg(args, cfg)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.optim_wrapper.dtype == dtype

"""Bad inputs and faults beyond the first two rounds (docs/bad_inputs.md, round 3),
tried as a new user would. Each is caught by a general mechanism: the entry
point's translation of third-party failures, the pre-flight that builds the
model, the annotation checks, finiteness checks, atomic and collision-checked
outputs, rotation after save, the work-dir lock."""
import json
import math
import os
import resource
import shutil
import subprocess
import sys

import pytest
import torch

from mmvanilla.utils.safe_checkpoint import safe_load
from tests.conftest import REPO, call_tool, log_text
from tests.detection_options import TINY_DIMS, tiny_detector_options
from tests.tools.test_bad_inputs import coco, dataset_copy, one_line_error, train  # noqa: F401

RETINA = REPO / 'configs' / 'retinanet_vanillanet11.py'


# --- config values of every kind: pre-flight, or the entry point's translation

@pytest.mark.parametrize('option, fragments', [
    ('optim_wrapper.optimizer.lr=inf',
     ['optim_wrapper.optimizer.lr is inf: every number in a config must be finite']),
    ('model.bbox_head.loss_cls.gamma=nan', ['model.bbox_head.loss_cls.gamma is nan']),
    ('model.neck.out_channels=-5', ['model of this config cannot be built',
                                    'negative dimension -5']),
    ('model.bbox_head.in_channels=16',
     ['cannot be run on a 256x320 image (in model.bbox_head.cls_convs.0.conv)']),
    ('model.neck.num_outs=2', ['model.neck.num_outs=2 but model.bbox_head.anchor_generator.strides '
                               'has 5 levels']),
    ('model.bbox_head.stacked_convs=two', ['cannot be built (in model.bbox_head): TypeError']),
    ('model.type=NoSuchDetector', ['cannot be built: KeyError',
                                   'NoSuchDetector is not in the mmdet::model registry']),
    ("model.backbone.norm_eval='no'", ["model.backbone.norm_eval must be True or False, got 'no'"]),
    ('model.bbox_head.num_classes=80', ["model.bbox_head.num_classes=80 but train_dataloader's "
                                        'dataset has 3 classes', 'set model.bbox_head.num_classes=3']),
    ('optim_wrapper.optimizer.type=NoSuchOptimizer',
     ["optim_wrapper.optimizer.type 'NoSuchOptimizer' is not a registered optimizer"]),
    ('param_scheduler.1.type=Nope', ["param_scheduler.1.type 'Nope' is not a registered "
                                     'parameter scheduler']),
    ('train_dataloader.dataset.pipeline.2.type=NoSuchTransform',
     ["'NoSuchTransform' is not a registered transform"]),
    ('train_dataloader.dataset.pipeline.2.scale=(0,0)',
     ['train_dataloader.dataset.pipeline.2 (Resize): scale (0, 0) must be (width, height)']),
    ('train_dataloader.dataset.pipeline.3.prob=2',
     ['train_dataloader.dataset.pipeline.3.prob must be a number in [0, 1] (or a list of them), '
      'got 2']),
    ('optim_wrapper.optimizer.weight_decay=-1',
     ['optim_wrapper.optimizer.weight_decay must be a number >= 0, got -1']),
    ('train_dataloader.num_workers=-1', ['train_dataloader.num_workers must be an int >= 0, '
                                         'got -1']),
    ('val_dataloader.persistent_workers=True', ['val_dataloader.persistent_workers=True needs '
                                                'worker processes, and num_workers is 0']),
    ('model.bbox_head.feat_channels=0', ['raised RuntimeError', 'expected weight to be at '
                                         'least 1']),
    ('train_cfg.max_epochs=1.5', ['train_cfg.max_epochs must be an int >= 1, got 1.5']),
    ('model.backbone.out_indices=[2,1]', ['out_indices must be strictly increasing, got [2, 1]']),
    ('model.backbone.frozen_stages=99', ['frozen_stages=99 is out of range']),
    ('train_dataloader.dataset.filter_cfg.min_size=1000',
     ['nothing to learn', 'images under 1000 px are dropped too']),
])
def test_config_values_nobody_listed(shapes_root, tmp_path, option, fragments):
    one_line_error(train(shapes_root, tmp_path, option), *fragments)


def test_a_dict_written_in_cfg_options(shapes_root, tmp_path):
    """mmengine's DictAction keeps dict(...) as text, or, with a comma in it,
    recurses without end."""
    one_line_error(train(shapes_root, tmp_path, "custom_hooks=[dict(type='DeepTrainingHook')]"),
                   "custom_hooks.0 is the text \"dict(type='DeepTrainingHook')\", not a dict")
    one_line_error(train(shapes_root, tmp_path,
                         "custom_hooks=[dict(type='DeepTrainingHook',epochs=2)]"),
                   'cannot be parsed (no dict(...) values: set their keys one by one')


def test_a_third_party_failure_keeps_its_traceback_in_the_log(shapes_root, tmp_path):
    # (a value no pre-flight table knows: torch's AdamW refuses it)
    line = one_line_error(train(shapes_root, tmp_path, 'optim_wrapper.optimizer.betas=[2,0.9]'),
                          'raised ValueError: Invalid beta parameter at index 0')
    log = line.split('traceback in ')[1]
    assert log.startswith(str(tmp_path)) and 'Traceback' in open(log).read()
    verbose = train(shapes_root, tmp_path / 'v', 'optim_wrapper.optimizer.betas=[2,0.9]',
                    '--verbose')
    assert 'Traceback' in verbose.stderr and verbose.returncode == 2


def test_a_class_named_twice(shapes_root, tmp_path):
    options = [f'{s}_dataloader.dataset.metainfo.classes=(circle,circle,triangle)'
               for s in ('train', 'val', 'test')]
    one_line_error(train(shapes_root, tmp_path, *options),
                   "the dataset's classes name circle more than once")


def test_an_evaluator_file_in_another_order(dataset_copy, tmp_path):  # noqa: F811
    """The metric numbers classes as the dataset does: its own file counts."""
    path, data = coco(dataset_copy, 'val')
    data['categories'].reverse()
    other = path.with_name('reordered.json')
    other.write_text(json.dumps(data))
    one_line_error(train(dataset_copy, tmp_path, f'val_evaluator.ann_file={other}'),
                   f"of the categories of '{other}'", "(class 0 is 'circle'")


def test_classes_that_are_not_in_the_annotation_file(shapes_root, tmp_path):
    options = [f'{s}_dataloader.dataset.metainfo.classes=(cat,dog)' for s in ('train', 'val')]
    one_line_error(train(shapes_root, tmp_path, 'model.bbox_head.num_classes=2', *options),
                   "has no category named 'cat', 'dog' (2 of the dataset's 2 classes)",
                   "in its order ('circle', 'square', 'triangle')")


@pytest.mark.parametrize('option, fragment', [
    ('model.bbox_head.anchor_generator.octave_base_scale=-4', 'the loss became nan'),
    ('optim_wrapper.optimizer.lr=1e30', 'the loss became nan'),
])
def test_a_loss_that_diverges_stops_training(shapes_root, tmp_path, option, fragment):
    one_line_error(train(shapes_root, tmp_path, option), fragment,
                   'Lower optim_wrapper.optimizer.lr')
    assert not list(tmp_path.glob('epoch_*.pth'))  # no diverged checkpoint


def test_divergence_after_a_good_epoch_keeps_its_checkpoint(shapes_root, tmp_path):
    # the learning rate multiplied by 1e30 from the second epoch on
    proc = train(shapes_root, tmp_path, 'train_cfg.max_epochs=2', 'param_scheduler.1.gamma=1e30',
                 'param_scheduler.1.milestones=[1]')
    one_line_error(proc, 'the loss became nan at epoch 2', f'{tmp_path}/epoch_1.pth, is from before')
    assert sorted(p.name for p in tmp_path.glob('epoch_*.pth')) == ['epoch_1.pth']
    state = safe_load(str(tmp_path / 'epoch_1.pth'))['state_dict']
    assert all(v.isfinite().all() for v in state.values() if v.is_floating_point())


def test_test_scale_of_zero(trained_retinanet, tmp_path):
    _, checkpoint, options = trained_retinanet
    proc = call_tool('test.py', RETINA, checkpoint, '--work-dir', tmp_path, '--cfg-options',
                     *options, 'test_dataloader.dataset.pipeline.1.scale=(0,0)')
    one_line_error(proc, 'test_dataloader.dataset.pipeline.1 (Resize): scale (0, 0)')


# --- annotation fields -----------------------------------------------------

def _every(key, value):
    return lambda d: [a.update({key: value}) for a in d['annotations']]


@pytest.mark.parametrize('damage, fragments', [
    (lambda d: d['annotations'][0]['bbox'].__setitem__(0, math.nan),
     ['annotation 1 has no "bbox" of 4 numbers (finite ones; got [nan']),
    (lambda d: d['annotations'][0]['bbox'].__setitem__(2, math.inf),
     ['has no "bbox" of 4 numbers (finite ones', 'inf']),
    (lambda d: d['annotations'][0]['bbox'].__setitem__(0, True),
     ['has no "bbox" of 4 numbers (finite ones; got [True']),
    (lambda d: d['annotations'][0].update(iscrowd='0'),
     ["\"iscrowd\" '0': write 0 or 1"]),
    (_every('iscrowd', 1), ['nothing to learn', 'marked iscrowd']),
    (lambda d: [a['bbox'].__setitem__(0, 5000) for a in d['annotations']],
     ['nothing to learn', 'outside their image']),
    (lambda d: d['images'][0].update(width=0), ['has "width" 0, not a positive number']),
    (lambda d: d['annotations'][0].update(segmentation=[[1, 2, 3, 4]]),
     ['has a "segmentation" that is neither polygons']),
    (lambda d: [c.update(name=c['name'] + 's') for c in d['categories']],
     ["has no category named 'circle', 'square', 'triangle' (3 of the dataset's 3 classes)"]),
    # one misspelt category: mmdet would train the other two and never this one
    (lambda d: d['categories'][1].update(name='sqare'),
     ["has no category named 'square' (1 of the dataset's 3 classes), so mmdet would never "
      "label it", "in its order ('circle', 'sqare', 'triangle')"]),
    # mmdet numbers labels in the file's order, not the classes' order
    (lambda d: d['categories'].reverse(),
     ["are not in the order of the categories", "(class 0 is 'circle', the file's is "
      "'triangle')", "set dataset.metainfo.classes=('triangle', 'square', 'circle')"]),
    (lambda d: d['categories'][1].update(name='circle'),
     ["has more than one category named circle: give each category its own name"]),
])
def test_annotation_fields_nobody_listed(dataset_copy, tmp_path, damage, fragments):  # noqa: F811
    path, data = coco(dataset_copy)
    damage(data)
    path.write_text(json.dumps(data))
    one_line_error(train(dataset_copy, tmp_path), *fragments)


# --- weight files ------------------------------------------------------------

@pytest.fixture
def nan_checkpoint(trained_retinanet, tmp_path):
    _, checkpoint, _ = trained_retinanet
    ckpt = safe_load(str(checkpoint))
    ckpt['state_dict']['neck.fpn_convs.0.conv.weight'][0, 0, 0, 0] = math.nan
    torch.save(ckpt, tmp_path / 'nan.pth')
    return tmp_path / 'nan.pth'


def test_nan_weights_are_refused_by_every_tool(trained_retinanet, nan_checkpoint, tmp_path):
    _, _, options = trained_retinanet
    for args in (('test.py', RETINA, nan_checkpoint, '--work-dir', tmp_path / 't'),
                 ('reparameterize.py', RETINA, nan_checkpoint, tmp_path / 'r'),
                 ('train.py', RETINA, '--work-dir', tmp_path / 'w', '--resume', nan_checkpoint)):
        one_line_error(call_tool(*args, '--cfg-options', *options), 'holds NaN or inf in 1 tensor',
                       'neck.fpn_convs.0.conv.weight', 'use an earlier checkpoint')
    assert not (tmp_path / 'r').exists()


def test_nan_in_imagenet_weights(shapes_root, tmp_path):
    from mmvanilla.models import VanillaNet
    backbone = VanillaNet(dict(dims=TINY_DIMS, strides=[2, 2, 2]), act_num=3)
    state = backbone.state_dict()
    state['stem1.0.weight'][0] = math.nan
    torch.save({'model': state}, tmp_path / 'imagenet.pth')
    one_line_error(train(shapes_root, tmp_path / 'w',
                         f'model.backbone.init_cfg.checkpoint={tmp_path / "imagenet.pth"}'),
                   'holds NaN or inf', 'stem1.0.weight')


def test_a_folder_or_a_zip_given_as_checkpoint(trained_retinanet, tmp_path):
    _, _, options = trained_retinanet
    one_line_error(call_tool('test.py', RETINA, tmp_path, '--cfg-options', *options), 'not found')
    shutil.make_archive(str(tmp_path / 'images'), 'zip', REPO / 'docs')
    one_line_error(call_tool('test.py', RETINA, tmp_path / 'images.zip', '--work-dir',
                             tmp_path / 'w', '--cfg-options', *options), 'truncated or corrupt')


# --- outputs: atomic, never over an input or each other ----------------------

def test_outputs_over_inputs_or_each_other(trained_retinanet, tmp_path):
    _, checkpoint, options = trained_retinanet
    config = tmp_path / 'config.py'
    shutil.copy(RETINA, config)
    (tmp_path / 'g').mkdir()
    named_as_output = tmp_path / 'g' / 'network.onnx'  # a checkpoint, oddly named
    shutil.copy(checkpoint, named_as_output)
    before = config.read_bytes(), checkpoint.read_bytes()
    cases = [
        (('deploy.py', config, named_as_output, tmp_path / 'g', '--graph', 'network'),
         "network.onnx '{}' is one of the inputs".format(named_as_output)),
        (('benchmark.py', config, '--out', tmp_path / 'a.png', '--plot', tmp_path / 'a.png'),
         'are the same file'),
        (('benchmark.py', config, '--checkpoint', checkpoint, '--out', checkpoint),
         'is one of the inputs'),
        (('get_flops.py', config, '--out', config), 'is one of the inputs'),
    ]
    for args, fragment in cases:
        one_line_error(call_tool(*args, '--cfg-options', *options), fragment)
    assert (config.read_bytes(), checkpoint.read_bytes()) == before


def test_quantize_into_the_folder_of_its_inputs(int8_artefact, tmp_path):
    out, _ = int8_artefact
    copy = tmp_path / 'int8'
    shutil.copytree(out, copy)
    before = (copy / 'config.py').read_bytes()
    one_line_error(call_tool('quantize.py', copy / 'config.py', copy / 'fused.pth', copy),
                   f"'{copy}/fused.pth' is one of the inputs")
    assert (copy / 'config.py').read_bytes() == before


def test_infer_inputs_that_would_overwrite_each_other(trained_retinanet, shapes_root, tmp_path):
    _, checkpoint, options = trained_retinanet
    for sub in ('a', 'b'):
        (tmp_path / sub).mkdir()
        shutil.copy(f'{shapes_root}/val/val_00000.png', tmp_path / sub / 'x.png')
    proc = call_tool('infer.py', RETINA, checkpoint, tmp_path / 'a' / 'x.png',
                     tmp_path / 'b' / 'x.png', '--out-dir', tmp_path / 'out',
                     '--cfg-options', *options)
    one_line_error(proc, f'the picture of {tmp_path}/a/x.png', 'are the same file')
    (tmp_path / 'out' / 'vis').mkdir(parents=True)
    shutil.copy(f'{shapes_root}/val/val_00000.png', tmp_path / 'out' / 'vis' / 'y.png')
    proc = call_tool('infer.py', RETINA, checkpoint, tmp_path / 'out' / 'vis' / 'y.png',
                     '--out-dir', tmp_path / 'out', '--cfg-options', *options)
    one_line_error(proc, 'is one of the inputs')


class FileSizeLimit:
    """``ulimit -f`` for this process (Python ignores SIGXFSZ: writes fail with EFBIG)."""

    def __init__(self, limit_bytes):
        self.limit = limit_bytes

    def __enter__(self):
        self.saved = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.limit, self.saved[1]))

    def __exit__(self, *exc):
        resource.setrlimit(resource.RLIMIT_FSIZE, self.saved)


def test_full_disk_during_an_export_keeps_the_old_model(trained_retinanet, tmp_path):
    _, checkpoint, options = trained_retinanet
    out = tmp_path / 'graph'
    args = ('deploy.py', RETINA, checkpoint, out, '--graph', 'network', '--shape', 64, 64,
            '--cfg-options', *options)
    assert call_tool(*args).returncode == 0
    good = {p.name: p.read_bytes() for p in out.iterdir()}
    with FileSizeLimit(len(good['network.onnx']) // 4):
        proc = call_tool(*args)
    one_line_error(proc, f"cannot write '{out}", 'file-size limit (ulimit -f)')
    assert {p.name: p.read_bytes() for p in out.iterdir()} == good
    assert sorted(os.listdir(tmp_path)) == ['graph']


def test_full_disk_at_a_checkpoint_save_keeps_the_one_before(shapes_root, tmp_path):
    keep_one = 'default_hooks.checkpoint.max_keep_ckpts=1'
    assert train(shapes_root, tmp_path, keep_one).returncode == 0
    good = (tmp_path / 'epoch_1.pth').read_bytes()
    with FileSizeLimit(len(good) // 2):  # logs fit, a checkpoint does not
        proc = train(shapes_root, tmp_path, keep_one, 'train_cfg.max_epochs=2', '--resume')
    one_line_error(proc, 'cannot write', 'file-size limit')
    # mmengine alone removes epoch_1.pth before it writes epoch_2.pth
    assert (tmp_path / 'epoch_1.pth').read_bytes() == good
    assert not (tmp_path / 'epoch_2.pth').exists() and not list(tmp_path.glob('.tmp-*'))


def test_rotation_removes_the_oldest_after_a_successful_save(shapes_root, tmp_path):
    keep_one = 'default_hooks.checkpoint.max_keep_ckpts=1'
    proc = train(shapes_root, tmp_path, keep_one, 'train_cfg.max_epochs=2')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.glob('epoch_*.pth')) == ['epoch_2.pth']
    # and across a resume: the checkpoint it resumed from is rotated out in turn
    proc = train(shapes_root, tmp_path, keep_one, 'train_cfg.max_epochs=3', '--resume')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.glob('epoch_*.pth')) == ['epoch_3.pth']


# --- work dirs: one training at a time, resume from inside -------------------

def test_a_second_training_into_a_busy_work_dir_is_refused(shapes_root, tmp_path):
    holder = subprocess.Popen(
        [sys.executable, '-c', 'import sys, time\n'
         'from mmvanilla.utils.work_dir import hold_work_dir\n'
         f'with hold_work_dir({str(tmp_path)!r}):\n'
         '    print("held", flush=True); time.sleep(60)'], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'held'
        one_line_error(train(shapes_root, tmp_path), f"work dir '{tmp_path}' is in use by "
                       f'another training (pid {holder.pid})', 'its own --work-dir')
        assert not list(tmp_path.glob('epoch_*.pth'))
    finally:
        holder.kill()
        holder.wait()
    assert train(shapes_root, tmp_path).returncode == 0  # free again


def test_a_copied_work_dir_resumes_from_its_own_checkpoints(shapes_root, tmp_path):
    original, copy = tmp_path / 'original', tmp_path / 'copy'
    assert train(shapes_root, original).returncode == 0
    shutil.copytree(original, copy)  # its last_checkpoint names original/epoch_1.pth
    proc = train(shapes_root, copy, 'train_cfg.max_epochs=2', '--resume')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'outside' in proc.stdout + proc.stderr
    assert f'Load checkpoint from {copy}/epoch_1.pth' in log_text(copy)
    assert not (original / 'epoch_2.pth').exists() and (copy / 'epoch_2.pth').is_file()


# --- the console ------------------------------------------------------------

def test_a_failing_evaluation_is_one_line(dataset_copy, tmp_path):  # noqa: F811
    (dataset_copy / 'val' / 'val_00001.png').write_bytes(b'not a png')
    proc = train(dataset_copy, tmp_path)
    line = one_line_error(proc, 'val_00001.png cannot be read')
    # the summary hook's capture of the console ended with the run: no second
    # traceback, nothing of the evaluation swallowed
    assert 'epoch   1/1' in proc.stdout and line == proc.stderr.strip().splitlines()[-1]


def test_the_console_hooks_raise_no_autograd_warning():
    """The hooks fed a loss with its graph as training hands it over (torch
    warns once per process unless told to warn always)."""
    import warnings

    from mmvanilla.engine.hooks import ConsoleSummaryHook, FiniteLossHook
    loss = (torch.ones(2, requires_grad=True) * 2).sum()
    always = torch.is_warn_always_enabled()
    torch.set_warn_always(True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            ConsoleSummaryHook().after_train_iter(None, 0, outputs=dict(loss=loss))
            FiniteLossHook().after_train_iter(None, 0, outputs=dict(loss=loss))
            float(loss)  # what the hooks used to do: the warning is seen here
    finally:
        torch.set_warn_always(always)
    # only the deliberate float(loss) warns
    assert [str(w.message)[:40] for w in caught] == ['Converting a tensor with requires_grad=T']


def test_mask_rcnn_options_are_checked_the_same_way(shapes_root, tmp_path):
    proc = call_tool('train.py', REPO / 'configs' / 'mask_rcnn_vanillanet11.py', '--work-dir',
                     tmp_path, '--cfg-options', *tiny_detector_options(shapes_root, 'mask_rcnn'),
                     'model.roi_head.mask_head.num_classes=5')
    one_line_error(proc, 'model.roi_head.mask_head.num_classes=5 but', 'has 3 classes')

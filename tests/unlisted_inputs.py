"""Inputs and faults a new user meets on every surface, and what each must
give: one ``error:`` line (exit status 2, no traceback) and every protected
file byte for byte as it was, or (``expect='ok'``) a run that succeeds with
what ``check`` asserts. docs/bad_inputs.md rows 139 on.

``tests/test_unlisted_inputs.py`` runs each case in-process on this
checkout. Run as a program, this module tries every case as separate
programs on any checkout (to count what held before a change):

    python -m tests.unlisted_inputs --repo PATH_TO_CHECKOUT [--only NAME ...]
"""
import dataclasses
import hashlib
import json
import os
import pathlib
import shutil
import struct
import sys
import zlib
from typing import Callable, Dict, List, Optional

REPO = pathlib.Path(__file__).resolve().parents[1]
RETINA = 'configs/retinanet_vanillanet11.py'
MASK = 'configs/mask_rcnn_vanillanet11.py'


@dataclasses.dataclass
class Run:
    """One program run: ``argv[0]`` is ``runtime``, a tool (``train.py``) or a
    launch script (``tools/dist_train.sh``)."""
    argv: List[str]
    protected: List[pathlib.Path] = dataclasses.field(default_factory=list)
    expect: str = 'refused'  # or 'ok'
    check: Optional[Callable[[], None]] = None
    env: Dict[str, str] = dataclasses.field(default_factory=dict)
    fragments: List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Context:
    """What the cases start from: a fresh folder per case, the shapes data,
    a trained tiny RetinaNet and its fp32 artefact (read-only; copy them)."""
    tmp: pathlib.Path
    shapes: pathlib.Path
    checkpoint: pathlib.Path
    options: List[str]
    artefact: pathlib.Path

    def data(self) -> pathlib.Path:
        root = self.tmp / 'data'
        if not root.exists():
            shutil.copytree(self.shapes, root)
        return root

    def artefact_copy(self) -> pathlib.Path:
        copy = self.tmp / 'artefact'
        if not copy.exists():
            shutil.copytree(self.artefact, copy)
        return copy

    def edited_artefact(self, edit: Callable[[dict], None]) -> pathlib.Path:
        art = self.artefact_copy()
        desc = json.loads((art / 'pipeline.json').read_text())
        edit(desc)
        (art / 'pipeline.json').write_text(json.dumps(desc))
        return art

    def runtime(self, *args, out: Optional[pathlib.Path] = None, images=None) -> List[str]:
        return ['runtime', str(args[0] if args else self.artefact),
                *(images or [str(self.shapes / 'val')]),
                '--out', str(out or self.tmp / 'results.json'), *map(str, args[1:])]

    def retina(self, tool: str, *args, options=()) -> List[str]:
        return [tool, str(REPO / RETINA), *map(str, args), '--cfg-options', *self.options,
                *options]

    def train(self, *options, root=None, kind='retinanet', work_dir=None) -> List[str]:
        from tests.detection_options import tiny_detector_options
        return ['train.py', str(REPO / (RETINA if kind == 'retinanet' else MASK)),
                '--work-dir', str(work_dir or self.tmp / 'work'), '--cfg-options',
                *tiny_detector_options(str(root or self.shapes), kind), *options]


def sha(path: pathlib.Path) -> Optional[str]:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack('>I', len(data)) + kind + data + struct.pack(
            '>I', zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr)
            + chunk(b'IDAT', zlib.compress(b'\0' * 4096)) + chunk(b'IEND', b''))


def jpeg_header(width: int, height: int) -> bytes:
    sof = struct.pack('>BHHB', 8, height, width, 3) + b'\x01\x22\x00\x02\x11\x01\x03\x11\x01'
    return b'\xff\xd8' + b'\xff\xc0' + struct.pack('>H', len(sof) + 2) + sof + b'\xff\xd9'


def bmp_header(width: int, height: int) -> bytes:
    info = struct.pack('<IiiHHIIiiII', 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b'BM' + struct.pack('<IHHI', 54 + 64, 0, 0, 54) + info + b'\0' * 64


def image_file(path: pathlib.Path, width: int, height: int) -> pathlib.Path:
    import cv2
    import numpy as np
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((height, width, 3), 127, np.uint8))
    return path


# --- the cases: name -> Context -> Run ------------------------------------

CASES: Dict[str, Callable[[Context], Run]] = {}


def case(fn: Callable[[Context], Run]) -> Callable[[Context], Run]:
    CASES[fn.__name__] = fn
    return fn


# runtime: where --out may write
@case
def runtime_out_over_an_artefact_file(c):
    art = c.artefact_copy()
    return Run(c.runtime(art, out=art / 'model.onnx'), [art / 'model.onnx'])


@case
def runtime_out_into_an_artefact_folder(c):
    art = c.artefact_copy()
    return Run(c.runtime(art, out=art / 'results.json'), [art / 'pipeline.json'],
               check=None, fragments=['artefact folder'])


@case
def runtime_out_over_a_text_file_named_json(c):
    notes = c.tmp / 'notes.json'
    notes.write_text('my notes, not JSON')
    return Run(c.runtime(out=notes), [notes])


@case
def runtime_out_over_a_picture_that_is_not_an_input(c):
    photo = image_file(c.tmp / 'photo.png', 40, 30)
    return Run(c.runtime(out=photo), [photo])


@case
def runtime_two_files_of_one_name(c):
    image_file(c.tmp / 'a' / 'x.png', 64, 48)
    image_file(c.tmp / 'b' / 'x.png', 48, 64)
    return Run(c.runtime(images=[str(c.tmp / 'a'), str(c.tmp / 'b')]), fragments=['file_name'])


@case
def runtime_tall_thin_image(c):
    return Run(c.runtime(images=[str(image_file(c.tmp / 'tall.png', 1, 5000))]))


# (20000 x 20000: over mmvanilla's limit, 2**28 pixels, but under OpenCV's own, 2**30)
@case
def runtime_jpeg_bomb(c):
    (c.tmp / 'bomb.jpg').write_bytes(jpeg_header(20000, 20000))
    return Run(c.runtime(images=[str(c.tmp / 'bomb.jpg')]), fragments=['over the limit'])


@case
def runtime_jpeg_bomb_behind_large_metadata(c):
    header = jpeg_header(20000, 20000)
    app = b'\xff\xe1' + struct.pack('>H', 65535) + b'\0' * 65533  # 64 KiB of EXIF, twice
    (c.tmp / 'bomb.jpg').write_bytes(header[:2] + app + app + header[2:])
    return Run(c.runtime(images=[str(c.tmp / 'bomb.jpg')]), fragments=['over the limit'])


@case
def runtime_bmp_bomb(c):
    (c.tmp / 'bomb.bmp').write_bytes(bmp_header(20000, 20000))
    return Run(c.runtime(images=[str(c.tmp / 'bomb.bmp')]), fragments=['over the limit'])


@case
def runtime_tiff_bomb(c):
    ifd = struct.pack('<H', 2) + struct.pack('<HHII', 256, 4, 1, 20000) \
        + struct.pack('<HHII', 257, 4, 1, 20000) + struct.pack('<I', 0)
    (c.tmp / 'bomb.tif').write_bytes(b'II*\0' + struct.pack('<I', 8) + ifd)
    return Run(c.runtime(images=[str(c.tmp / 'bomb.tif')]), fragments=['over the limit'])


@case
def runtime_name_that_is_not_utf8(c):
    folder = c.tmp / 'imgs'
    image_file(folder / 'a.png', 64, 48)
    os.rename(folder / 'a.png', os.fsencode(folder) + b'/\xff.png')
    out = c.tmp / 'r.json'

    def check():
        text = out.read_bytes().decode('utf-8')  # strict: no lone surrogates
        assert '\\udc' not in text and json.loads(text) is not None
    return Run(c.runtime(out=out, images=[str(folder)]), expect='ok', check=check)


# runtime: pipeline.json values
def _description_case(edit, *fragments):
    def make(c):
        return Run(c.runtime(c.edited_artefact(edit)), fragments=list(fragments))
    return make


for _name, _edit, _key in [
    ('negative_std', lambda d: d['preprocess'].update(std=[-58.4, 57.1, 57.4]),
     'preprocess.std'),
    ('float_scale', lambda d: d['preprocess']['resize'].update(scale=[1333.7, 800]),
     'preprocess.resize.scale'),
    ('keep_ratio_as_text', lambda d: d['preprocess']['resize'].update(keep_ratio='yes'), ''),
    ('to_rgb_as_a_number', lambda d: d['preprocess'].update(to_rgb=1), ''),
    ('nan_pad_value', lambda d: d['preprocess'].update(pad_value=float('nan')), ''),
    ('four_means', lambda d: d['preprocess'].update(mean=[1, 2, 3, 4]), ''),
    ('unknown_precision', lambda d: d.update(precision='fp16'), 'precision'),
    ('empty_class_name', lambda d: d.update(classes=['', 'square', 'triangle']), 'classes'),
    ('class_names_not_text', lambda d: d.update(classes=[1, 2, 3]), ''),
    ('extra_output', lambda d: d.update(outputs=d['outputs'] + ['extra']), ''),
    ('model_outside_the_folder', lambda d: d.update(model='../model.onnx'), ''),
]:
    CASES[f'runtime_description_{_name}'] = _description_case(_edit, _key)


@case
def runtime_description_is_a_list(c):
    art = c.artefact_copy()
    (art / 'pipeline.json').write_text('[]')
    return Run(c.runtime(art))


@case
def runtime_description_of_5_mb(c):
    art = c.edited_artefact(lambda d: d.update(padding='x' * (5 * 2**20)))
    return Run(c.runtime(art))


@case
def runtime_description_nested_deeply(c):
    art = c.artefact_copy()
    (art / 'pipeline.json').write_text('[' * 200000 + ']' * 200000)
    return Run(c.runtime(art))


@case
def runtime_description_nested_under_the_parsers_limit(c):
    def edit(desc):  # 900 levels: JSON parses it, a recursive depth count would not
        desc['producer']['note'] = json.loads('[' * 900 + ']' * 900)
    return Run(c.runtime(c.edited_artefact(edit)), fragments=['levels deep'])


@case
def runtime_model_damaged_in_place(c):
    art = c.artefact_copy()
    data = bytearray((art / 'model.onnx').read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)  # weights zeroed, same size, still ONNX
    (art / 'model.onnx').write_bytes(bytes(data))
    return Run(c.runtime(art))


@case
def runtime_model_is_a_link_out_of_the_folder(c):
    art = c.artefact_copy()
    elsewhere = c.tmp / 'elsewhere.onnx'
    shutil.move(art / 'model.onnx', elsewhere)
    os.symlink(elsewhere, art / 'model.onnx')
    return Run(c.runtime(art))


@case
def runtime_model_is_a_folder(c):
    art = c.artefact_copy()
    (art / 'model.onnx').unlink()
    (art / 'model.onnx').mkdir()
    return Run(c.runtime(art))


@case
def runtime_description_is_a_folder(c):
    art = c.artefact_copy()
    (art / 'pipeline.json').unlink()
    (art / 'pipeline.json').mkdir()
    return Run(c.runtime(art))


@case
def runtime_image_argument_is_the_description(c):
    return Run(c.runtime(images=[str(c.artefact / 'pipeline.json')]))


@case
def runtime_batch_size_as_text(c):
    return Run(c.runtime(c.artefact, '--batch-size', 'two'))


# deploy and quantize
@case
def deploy_into_a_folder_inside_another_artefact(c):
    art = c.artefact_copy()
    return Run(c.retina('deploy.py', c.checkpoint, art / 'sub'),
               [art / 'pipeline.json', art / 'model.onnx'], fragments=['artefact folder'])


@case
def deploy_zero_std_in_the_config(c):
    return Run(c.retina('deploy.py', c.checkpoint, c.tmp / 'out', options=[
        'model.data_preprocessor.std=[0,57.12,57.375]']), fragments=['std'])


@case
def deploy_score_threshold_above_one(c):
    return Run(c.retina('deploy.py', c.checkpoint, c.tmp / 'out', options=[
        'model.test_cfg.score_thr=1.5']), fragments=['score_thr'])


@case
def deploy_nms_iou_above_one(c):
    return Run(c.retina('deploy.py', c.checkpoint, c.tmp / 'out', options=[
        'model.test_cfg.nms.iou_threshold=1.5']), fragments=['iou_threshold'])


@case
def deploy_pad_size_divisor_zero(c):
    return Run(c.retina('deploy.py', c.checkpoint, c.tmp / 'out', options=[
        'model.data_preprocessor.pad_size_divisor=0']))


@case
def deploy_into_a_folder_with_a_text_file_of_its_names(c):
    out = c.tmp / 'out'
    out.mkdir()
    (out / 'deploy.json').write_text('my deployment notes')
    return Run(c.retina('deploy.py', c.checkpoint, out), [out / 'deploy.json'])


@case
def quantize_into_a_folder_with_the_users_config(c):
    out = c.tmp / 'out'
    out.mkdir()
    (out / 'config.py').write_text("_base_ = 'my own config'\n")
    return Run(c.retina('quantize.py', c.checkpoint, out, '--calib-images', '1'),
               [out / 'config.py'])


def _int8_config(c, artefact: pathlib.Path) -> pathlib.Path:
    config = c.tmp / 'int8_config.py'
    config.write_text(f"_base_ = '{REPO / RETINA}'\nint8_artefact = '{artefact}'\n")
    return config


@case
def test_int8_with_an_fp32_artefact(c):
    config = _int8_config(c, c.artefact)
    return Run(['test.py', str(config), str(c.checkpoint), '--precision', 'int8', '--work-dir',
                str(c.tmp / 'w'), '--cfg-options', *c.options], fragments=['fp32'])


@case
def benchmark_int8_with_an_fp32_artefact(c):
    config = _int8_config(c, c.artefact)
    return Run(['benchmark.py', str(config), '--checkpoint', str(c.checkpoint), '--precision',
                'int8', '--iters', '1', '--warmup', '0', '--out', str(c.tmp / 'b.json'),
                '--cfg-options', *c.options], fragments=['fp32'])


# the outputs of the tools
@case
def test_out_over_a_file_that_is_not_a_pickle(c):
    notes = c.tmp / 'notes.pkl'
    notes.write_text('not a pickle')
    return Run(c.retina('test.py', c.checkpoint, '--out', notes, '--work-dir', c.tmp / 'w'),
               [notes])


@case
def test_show_dir_relative_lands_in_one_folder(c):
    work = c.tmp / 'w'

    def check():
        pictures = sorted(p.relative_to(work) for p in work.rglob('*.png'))
        assert len(pictures) == 4 and len({p.parent for p in pictures}) == 1, pictures
        assert pictures[0].parts[1] == 'show', pictures
    return Run(c.retina('test.py', c.checkpoint, '--show-dir', 'show', '--work-dir', work),
               expect='ok', check=check)


@case
def get_flops_out_over_a_picture(c):
    photo = image_file(c.tmp / 'photo.png', 40, 30)
    return Run(['get_flops.py', str(REPO / RETINA), '--shape', '64', '64', '--out', str(photo),
                '--cfg-options', *c.options], [photo])


@case
def get_flops_out_into_an_artefact_folder(c):
    art = c.artefact_copy()
    return Run(['get_flops.py', str(REPO / RETINA), '--shape', '64', '64', '--out',
                str(art / 'pipeline.json'), '--cfg-options', *c.options],
               [art / 'pipeline.json'])


@case
def benchmark_out_over_a_text_file_named_json(c):
    notes = c.tmp / 'notes.json'
    notes.write_text('results of my own')
    return Run(['benchmark.py', str(REPO / RETINA), '--iters', '1', '--warmup', '0', '--out',
                str(notes), '--cfg-options', *c.options], [notes])


@case
def benchmark_plot_over_a_file_that_is_not_a_picture(c):
    plot = c.tmp / 'plot.png'
    plot.write_text('not a picture')
    return Run(['benchmark.py', str(REPO / RETINA), '--iters', '1', '--warmup', '0', '--out',
                str(c.tmp / 'b.json'), '--plot', str(plot), '--cfg-options', *c.options],
               [plot])


@case
def reparameterize_into_an_artefact_folder(c):
    art = c.artefact_copy()
    return Run(c.retina('reparameterize.py', c.checkpoint, art), [art / 'pipeline.json'])


@case
def network_graph_over_a_file_that_is_not_onnx(c):
    notes = c.tmp / 'graph' / 'network.onnx'
    notes.parent.mkdir()
    notes.write_text('not a model')
    return Run(c.retina('deploy.py', c.checkpoint, notes.parent, '--graph', 'network',
                        '--shape', 64, 64), [notes], fragments=['not a .onnx file'])


@case
def infer_picture_path_is_a_folder(c):
    out = c.tmp / 'out'
    (out / 'vis' / 'val_00000.png').mkdir(parents=True)
    return Run(c.retina('infer.py', c.checkpoint, c.shapes / 'val' / 'val_00000.png',
                        '--out-dir', out))


@case
def make_shapes_dataset_with_no_training_images(c):
    return Run(['make_shapes_dataset.py', str(c.tmp / 's'), '--num-train', '0'])


@case
def make_shapes_dataset_of_tiny_images(c):
    return Run(['make_shapes_dataset.py', str(c.tmp / 's'), '--size', '8', '8'])


@case
def make_shapes_dataset_into_an_artefact_folder(c):
    art = c.artefact_copy()
    (art / 'annotations').mkdir()
    return Run(['make_shapes_dataset.py', str(art), '--num-train', '1', '--num-val', '1'],
               [art / 'pipeline.json'])


@case
def make_shapes_dataset_over_the_users_annotations(c):
    root = c.tmp / 's'
    (root / 'annotations').mkdir(parents=True)
    mine = root / 'annotations' / 'instances_train.json'
    mine.write_text('my labelling notes')
    return Run(['make_shapes_dataset.py', str(root), '--num-train', '1', '--num-val', '1'],
               [mine])


@case
def train_into_an_artefact_folder(c):
    art = c.artefact_copy()
    return Run(c.train(work_dir=art), [art / 'pipeline.json'])


# the pre-flight's value domains
for _name, _option in [
    ('score_threshold_above_one', 'model.test_cfg.score_thr=1.5'),
    ('negative_nms_iou', 'model.test_cfg.nms.iou_threshold=-0.1'),
    ('positive_iou_above_one', 'model.train_cfg.assigner.pos_iou_thr=2'),
    ('validation_interval_zero', 'train_cfg.val_interval=0'),
    ('with_cp_as_text', 'model.backbone.with_cp=no'),
    ('keep_ratio_as_text', 'train_dataloader.dataset.pipeline.2.keep_ratio=yes'),
    ('base_batch_size_zero', 'auto_scale_lr.base_batch_size=0'),
    ('negative_norm_decay', 'optim_wrapper.paramwise_cfg.norm_decay_mult=-1'),
    ('checkpoint_by_epoch_as_text', 'default_hooks.checkpoint.by_epoch=no'),
    ('negative_epsilon', 'optim_wrapper.optimizer.eps=-1'),
    ('anchor_levels_unlike_the_neck', 'model.bbox_head.anchor_generator.strides=[8,16,32,64]'),
]:
    CASES[f'train_{_name}'] = (lambda option: lambda c: Run(c.train(option)))(_option)


@case
def train_sampler_positive_fraction_above_one(c):
    return Run(c.train('model.train_cfg.rcnn.sampler.pos_fraction=1.5', kind='mask_rcnn'),
               fragments=['pos_fraction'])


@case
def get_flops_with_cp_as_text(c):
    return Run(['get_flops.py', str(REPO / RETINA), '--shape', '64', '64', '--cfg-options',
                *c.options, 'model.backbone.with_cp=no'])


def _coco(root: pathlib.Path, split: str):
    path = root / 'annotations' / f'instances_{split}.json'
    return path, json.loads(path.read_text())


@case
def annotations_with_duplicate_annotation_ids(c):
    root = c.data()
    path, data = _coco(root, 'train')
    data['annotations'][1]['id'] = data['annotations'][0]['id']
    path.write_text(json.dumps(data))
    return Run(c.train(root=root), fragments=['annotation'])


@case
def mask_polygon_far_outside_on_the_left(c):
    root = c.data()
    path, data = _coco(root, 'train')
    polygon = data['annotations'][0]['segmentation'][0]
    polygon[0] = -500.0
    path.write_text(json.dumps(data))
    return Run(c.train(root=root, kind='mask_rcnn'))


@case
def mask_rle_of_a_transposed_size(c):
    root = c.data()
    path, data = _coco(root, 'val')
    image = data['images'][0]
    data['annotations'][0]['segmentation'] = dict(size=[image['width'], image['height']],
                                                  counts='0')
    path.write_text(json.dumps(data))
    return Run(c.train(root=root, kind='mask_rcnn'))


@case
def mask_segmentation_empty(c):
    root = c.data()
    path, data = _coco(root, 'train')
    data['annotations'][0]['segmentation'] = []
    path.write_text(json.dumps(data))
    return Run(c.train(root=root, kind='mask_rcnn'))


# the launch scripts
def _launch(script, *args, **env):
    return lambda c: Run([f'tools/{script}', *map(str, args)], env=env)


for _name, _script, _args, _env in [
    ('nproc_as_text', 'dist_train.sh', (RETINA, 'two'), {}),
    ('nproc_missing', 'dist_train.sh', (RETINA,), {}),
    ('port_as_text', 'dist_train.sh', (RETINA, 1), dict(PORT='http')),
    ('nnodes_zero', 'dist_train.sh', (RETINA, 1), dict(NNODES='0')),
    ('node_rank_past_the_nodes', 'dist_train.sh', (RETINA, 1), dict(NODE_RANK='1')),
    ('config_missing', 'dist_train.sh', ('configs/nope.py', 1), {}),
    ('python_missing', 'dist_train.sh', (RETINA, 1), dict(PYTHON='/nonexistent/python')),
    ('test_checkpoint_missing', 'dist_test.sh', (RETINA, 'nope.pth', 1), {}),
    ('test_nproc_zero', 'dist_test.sh', (RETINA, 'nope.pth', 0), {}),
    ('slurm_arguments_missing', 'slurm_train.sh', ('partition',), {}),
    ('slurm_gpus_as_text', 'slurm_train.sh', ('p', 'job', RETINA, 'w'), dict(GPUS='all')),
]:
    CASES[f'launch_{_name}'] = _launch(_script, *_args, **_env)


# --- the issue's own cases (issue 26), the same mechanisms ------------------

@case
def listed_runtime_out_over_an_input_image(c):
    images = c.data() / 'val'
    target = images / 'val_00000.png'
    return Run(c.runtime(out=target, images=[str(images)]), [target])


@case
def listed_runtime_out_over_the_description(c):
    art = c.artefact_copy()
    return Run(c.runtime(art, out=art / 'pipeline.json'), [art / 'pipeline.json'])


@case
def listed_runtime_wide_thin_image(c):
    return Run(c.runtime(images=[str(image_file(c.tmp / 'wide.png', 5000, 1))]))


@case
def listed_runtime_png_bomb(c):
    (c.tmp / 'bomb.png').write_bytes(png_header(40000, 40000))
    return Run(c.runtime(images=[str(c.tmp / 'bomb.png')]), fragments=['pixels'])


@case
def listed_infer_png_bomb(c):
    (c.tmp / 'bomb.png').write_bytes(png_header(40000, 40000))
    return Run(c.retina('infer.py', c.checkpoint, c.tmp / 'bomb.png', '--out-dir', c.tmp / 'o'))


for _name, _edit, _key in [
    ('zero_std', lambda d: d['preprocess'].update(std=[0, 57.12, 57.375]), 'preprocess.std'),
    ('nan_mean', lambda d: d['preprocess'].update(mean=[float('nan'), 116.28, 103.53]),
     'preprocess.mean'),
    ('zero_scale', lambda d: d['preprocess']['resize'].update(scale=[0, 0]),
     'preprocess.resize.scale'),
    ('huge_pad_size_divisor', lambda d: d['preprocess'].update(pad_size_divisor=10**9),
     'preprocess.pad_size_divisor'),
]:
    CASES[f'listed_runtime_description_{_name}'] = _description_case(_edit, _key)


@case
def listed_runtime_model_damaged_in_place(c):
    return runtime_model_damaged_in_place(c)


@case
def listed_runtime_model_is_a_link_out_of_the_folder(c):
    return runtime_model_is_a_link_out_of_the_folder(c)


@case
def listed_runtime_two_folders_with_one_name(c):
    return runtime_two_files_of_one_name(c)


@case
def listed_test_show_dir_over_the_images(c):
    images = c.data() / 'val'
    options = [o.replace(str(c.shapes), str(c.data())) for o in c.options]
    return Run(['test.py', str(REPO / RETINA), str(c.checkpoint), '--show-dir', str(images),
                '--work-dir', str(c.tmp / 'w'), '--cfg-options', *options],
               sorted(images.glob('*.png')))


@case
def listed_train_again_without_resume(c):
    work = c.tmp / 'work'
    work.mkdir()
    shutil.copy(c.checkpoint, work / 'epoch_1.pth')
    return Run(c.train(work_dir=work), [work / 'epoch_1.pth'], fragments=['--resume'])


@case
def listed_deploy_killed_stage_is_removed(c):
    import subprocess
    dead = subprocess.Popen(['true'])
    dead.wait()
    try:
        from mmvanilla_runtime.outputs import temporary_prefix
        prefix = temporary_prefix(dead.pid)
    except ImportError:  # (a checkout from before the guard)
        prefix = '.tmp-stage-'
    stage = c.tmp / prefix.replace('.tmp-', '.tmp-stage-', 1)
    stage.mkdir()
    (stage / 'model.onnx').write_bytes(b'\0' * 100)

    def check():
        assert not stage.exists(), 'the killed run\'s stage is still there'
    return Run(c.retina('deploy.py', c.checkpoint, c.tmp / 'out'), expect='ok', check=check)


@case
def listed_deploy_max_per_img_zero(c):
    return Run(c.retina('deploy.py', c.checkpoint, c.tmp / 'out', options=[
        'model.test_cfg.max_per_img=0']), fragments=['max_per_img'])


@case
def listed_get_flops_deploy_as_text(c):
    return Run(['get_flops.py', str(REPO / RETINA), '--shape', '64', '64', '--cfg-options',
                *c.options, 'model.backbone.deploy=no'], fragments=['deploy'])


@case
def listed_get_flops_negative_shape(c):
    return Run(['get_flops.py', str(REPO / RETINA), '--shape', '-64', '64'])


for _name, _option in [
    ('negative_clip_norm', 'optim_wrapper.clip_grad.max_norm=-1'),
    ('negative_layer_decay', 'optim_wrapper.paramwise_cfg.layer_decay_rate=-0.8'),
    ('neck_levels_unlike_the_anchors', 'model.neck.num_outs=4'),
    ('max_per_img_zero', 'model.test_cfg.max_per_img=0'),
]:
    CASES[f'listed_train_{_name}'] = (lambda option: lambda c: Run(c.train(option)))(_option)


@case
def listed_annotations_with_duplicate_image_ids(c):
    root = c.data()
    path, data = _coco(root, 'train')
    data['images'][1]['id'] = data['images'][0]['id']
    path.write_text(json.dumps(data))
    return Run(c.train(root=root), fragments=['image id'])


@case
def listed_mask_polygon_outside_the_image(c):
    return mask_polygon_far_outside_on_the_left(c)


@case
def listed_mask_rle_of_another_size(c):
    return mask_rle_of_a_transposed_size(c)


@case
def listed_mask_segmentation_missing(c):
    root = c.data()
    path, data = _coco(root, 'train')
    del data['annotations'][0]['segmentation']
    path.write_text(json.dumps(data))
    return Run(c.train(root=root, kind='mask_rcnn'))


for _name, _args, _env in [
    ('nproc_zero', (RETINA, 0), {}), ('nnodes_as_text', (RETINA, 1), dict(NNODES='x')),
    ('port_out_of_range', (RETINA, 1), dict(PORT='99999')),
    ('config_not_a_file', ('configs', 1), {}),
]:
    CASES[f'listed_launch_{_name}'] = _launch('dist_train.sh', *_args, **_env)


# --- judging a run --------------------------------------------------------

def held(run: Run, returncode: int, stderr: str, before: Dict[pathlib.Path, Optional[str]]
         ) -> Optional[str]:
    """None where the run kept the promise, else what broke it."""
    lost = [str(p) for p, digest in before.items() if sha(p) != digest]
    if lost:
        return f'changed or removed {lost}'
    if 'Traceback' in stderr:
        return 'a traceback'
    if run.expect == 'ok':
        if returncode != 0:
            return f'exit {returncode}: {stderr.strip()[-300:]}'
        try:
            if run.check:
                run.check()
        except AssertionError as e:
            return f'wrong result: {e}'
        return None
    errors = [line for line in stderr.splitlines() if line.startswith('error: ')]
    if returncode == 0:
        return 'exit 0'
    if returncode != 2 or len(errors) != 1:
        return f'exit {returncode}, {len(errors)} error lines: {stderr.strip()[-300:]}'
    missing = [f for f in run.fragments if f not in errors[0]]
    if missing:
        return f'the message does not name {missing}: {errors[0]}'
    return None


def _subprocess(run: Run, repo: pathlib.Path):
    import subprocess
    env = dict(os.environ, PYTHONPATH=str(repo), PYTHONWARNINGS='ignore', **run.env)
    program, args = run.argv[0], run.argv[1:]
    if program == 'runtime':
        cmd = [sys.executable, '-m', 'mmvanilla_runtime', *args]
    elif program.endswith('.sh'):
        cmd = ['bash', str(repo / program), *args]
    else:
        cmd = [sys.executable, str(repo / 'tools' / program), *args]
    proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stderr


def probe(repo: pathlib.Path, names: List[str], work: pathlib.Path,
          messages: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Each named case as programs of the checkout at ``repo``: {name: what
    broke, or ''}; each run's ``error:`` line goes into ``messages``."""
    messages = {} if messages is None else messages
    from tests.detection_options import tiny_detector_options

    def program(*argv):
        code, err = _subprocess(Run(list(map(str, argv))), repo)
        assert code == 0, err[-3000:]
    shapes, work_dir = work / 'shapes', work / 'train'
    if not (work_dir / 'epoch_1.pth').exists():
        program('make_shapes_dataset.py', shapes, '--num-train', '8', '--num-val', '4')
        options = tiny_detector_options(str(shapes), 'retinanet')
        program('train.py', REPO / RETINA, '--work-dir', work_dir, '--cfg-options', *options)
        program('deploy.py', REPO / RETINA, work_dir / 'epoch_1.pth', work / 'fp32',
                '--cfg-options', *options)
    options = tiny_detector_options(str(shapes), 'retinanet')
    results = {}
    for name in names:
        tmp = work / 'cases' / name
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        run = CASES[name](Context(tmp, shapes, work_dir / 'epoch_1.pth', options, work / 'fp32'))
        before = {p: sha(p) for p in run.protected}
        code, err = _subprocess(run, repo)
        results[name] = held(run, code, err, before) or ''
        print(f'{"held " if not results[name] else "BROKE"} {name}: {results[name]}', flush=True)
        messages[name] = next((line for line in err.splitlines() if line.startswith('error: ')), '')
    return results


# (functions the listed cases reuse are counted there only)
for _name in ('mask_polygon_far_outside_on_the_left', 'mask_rle_of_a_transposed_size',
              'runtime_model_damaged_in_place', 'runtime_model_is_a_link_out_of_the_folder',
              'runtime_two_files_of_one_name', 'train_anchor_levels_unlike_the_neck'):
    del CASES[_name]


if __name__ == '__main__':
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--repo', type=pathlib.Path, default=REPO)
    parser.add_argument('--work', type=pathlib.Path, default=pathlib.Path('/tmp/unlisted'))
    parser.add_argument('--only', nargs='*')
    parser.add_argument('--out', type=pathlib.Path)
    args = parser.parse_args()
    messages: Dict[str, str] = {}
    found = probe(args.repo.resolve(), args.only or list(CASES), args.work, messages)
    for group in ('listed', 'unlisted'):
        names = [n for n in found if n.startswith('listed_') == (group == 'listed')]
        broke = sum(bool(found[n]) for n in names)
        print(f'{group}: {len(names) - broke} held, {broke} broke of {len(names)} tried')
    if args.out:
        args.out.write_text(json.dumps({n: dict(broke=found[n], message=messages[n])
                                        for n in found}, indent=1))

"""mmvanilla_runtime: tools/deploy.py's artefacts detect without torch or
OpenMMLab, as mmdet does, and bad input is one line."""
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

from mmvanilla_runtime.__main__ import run as runtime_main
from mmvanilla_runtime.artefact import file_hashes, sha256_of
from mmvanilla_runtime.engines import bf16_note, check_precision_runs
from mmvanilla_runtime.errors import RuntimeInputError
from mmvanilla_runtime.preprocess import prepare_batch
from tests.conftest import REPO, built_once, call_tool

CONFIG = REPO / 'configs' / 'retinanet_vanillanet11.py'
FORBIDDEN = ('torch', 'torchvision', 'mmengine', 'mmcv', 'mmdet', 'mmpretrain', 'mmvanilla')
# Runs `python -m mmvanilla_runtime ARGS` with every import of FORBIDDEN failing.
WITHOUT_TRAINING_STACK = f'''
import runpy, sys
class Forbid:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {FORBIDDEN!r}:
            raise ImportError('forbidden: ' + name)
sys.meta_path.insert(0, Forbid())
sys.argv[0] = 'mmvanilla_runtime'
runpy.run_module('mmvanilla_runtime', run_name='__main__', alter_sys=True)
'''


def run_runtime(*args, forbid=FORBIDDEN):
    code = WITHOUT_TRAINING_STACK.replace(repr(FORBIDDEN), repr(tuple(forbid)))
    return subprocess.run([sys.executable, '-c', code, *map(str, args)], cwd=REPO,
                          env={'PYTHONPATH': str(REPO), 'PATH': '/usr/bin:/bin'},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope='module')
def deployed(trained_retinanet, spread_scores_checkpoint, tmp_path_factory):
    """tools/deploy.py's fp32 artefact of the spread-scores RetinaNet."""
    _, _, options = trained_retinanet

    def deploy(folder):
        proc = call_tool('deploy.py', CONFIG, spread_scores_checkpoint, folder / 'fp32',
                         '--cfg-options', *options)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return built_once(tmp_path_factory, 'deployed_fp32', deploy) / 'fp32'


def test_runtime_detects_as_mmdet_without_the_training_stack(
        deployed, trained_retinanet, spread_scores_checkpoint, shapes_root, tmp_path):
    _, _, options = trained_retinanet
    proc = run_runtime(deployed, f'{shapes_root}/val', '--out', tmp_path / 'r.json')
    assert proc.returncode == 0, proc.stderr[-3000:]
    entries = json.loads((tmp_path / 'r.json').read_text())
    assert set(entries[0]) == {'file_name', 'bbox', 'score', 'category'}
    assert {e['category'] for e in entries} <= {'circle', 'square', 'triangle'}
    # mmdet's own predictions (tools/test.py) for the same images
    proc = call_tool('test.py', CONFIG, spread_scores_checkpoint, '--work-dir', tmp_path,
                     '--out', tmp_path / 'p.pkl', '--deploy', '--cfg-options', *options)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(tmp_path / 'p.pkl', 'rb') as f:
        predictions = pickle.load(f)
    for pred in predictions:
        name = pred['img_path'].rsplit('/', 1)[-1]
        mine = [e for e in entries if e['file_name'] == name]
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (e['bbox'] for e in mine)])
        scores = np.array([e['score'] for e in mine])
        theirs = pred['pred_instances']
        assert len(theirs['scores']) >= 20 and abs(len(mine) - len(theirs['scores'])) <= 10
        twins = 0
        for box, score in zip(theirs['bboxes'].numpy(), theirs['scores'].numpy()):
            close = (np.abs(scores - score) <= 1e-4) & (np.abs(boxes - box).max(1) <= 0.5)
            twins += bool(close.any())
        # (NMS may keep the other of two boxes tied to float rounding)
        assert twins >= 0.9 * len(theirs['scores'])


def test_runtime_preprocessing_is_mmdets(shapes_root):
    # an upscaling resize (320x256 images to the COCO config's 1280x800)
    from mmdet.registry import DATASETS, MODELS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate

    from mmvanilla.deploy.artefact import preprocess_spec
    from mmvanilla.deploy.end_to_end import end_to_end_inputs
    from mmvanilla_runtime.preprocess import read_image
    cfg = Config.fromfile(str(CONFIG))
    cfg.test_dataloader.dataset.update(data_root=f'{shapes_root}/', data_prefix=dict(img='val/'),
                                       ann_file='annotations/instances_val.json')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    batch = MODELS.build(cfg.model.data_preprocessor)(pseudo_collate([dataset[0], dataset[1]]))
    expected = end_to_end_inputs(batch)
    images = [read_image(dataset[i]['data_samples'].img_path) for i in (0, 1)]
    got = prepare_batch(images, preprocess_spec(cfg))
    for name in ('input', 'image_shape', 'scale_factor'):
        np.testing.assert_array_equal(got[name], expected[name])


def _artefact_copy(deployed, tmp_path):
    import shutil
    copy = tmp_path / 'artefact'
    shutil.copytree(deployed, copy)
    return copy


def one_line(capsys, argv, *fragments):
    assert runtime_main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith('error: '), err
    for fragment in fragments:
        assert fragment in err, err
    return err


def test_incomplete_or_foreign_artefacts_are_one_line(deployed, shapes_root, tmp_path, capsys):
    image = f'{shapes_root}/val'
    out = tmp_path / 'r.json'
    one_line(capsys, [tmp_path / 'absent', image, '--out', out], 'not found', 'tools/deploy.py')
    art = _artefact_copy(deployed, tmp_path)
    (art / 'model.onnx').unlink()
    one_line(capsys, [art, image, '--out', out], "lacks its model file 'model.onnx'")
    art = _artefact_copy(deployed, tmp_path / 'b')
    desc = json.loads((art / 'pipeline.json').read_text())
    (art / 'pipeline.json').write_text(json.dumps(dict(desc, format_version=99)))
    one_line(capsys, [art, image, '--out', out], 'format version 99', 'deploy it again')
    (art / 'pipeline.json').write_text(json.dumps(dict(desc, classes='abc')))
    one_line(capsys, [art, image, '--out', out], 'classes must be a list of names')
    (art / 'pipeline.json').write_text('{"format": "mmvanilla-end2end", "format_vers')
    one_line(capsys, [art, image, '--out', out], 'not readable JSON')
    (art / 'pipeline.json').unlink()
    one_line(capsys, [art, image, '--out', out], 'has no pipeline.json')
    assert not out.exists()


def test_model_reading_files_outside_its_folder_is_refused(deployed, shapes_root, tmp_path,
                                                           capsys):
    import onnx
    from onnx import TensorProto, helper
    art = _artefact_copy(deployed, tmp_path)
    (tmp_path / 'secret.bin').write_bytes(b'\0' * 16)
    weight = helper.make_tensor('w', TensorProto.FLOAT, [4], [0.0] * 4)
    weight.ClearField('float_data')
    weight.data_location = TensorProto.EXTERNAL
    weight.external_data.add(key='location', value='../secret.bin')
    graph = helper.make_graph([helper.make_node('Identity', ['w'], ['y'])], 'g', [],
                              [helper.make_tensor_value_info('y', TensorProto.FLOAT, [4])],
                              [weight])
    onnx.save(helper.make_model(graph), str(art / 'model.onnx'))

    def describe_model_as_it_is():  # (as someone who also edits pipeline.json would)
        desc = json.loads((art / 'pipeline.json').read_text())
        desc['files'] = {'model.onnx': sha256_of(str(art / 'model.onnx'))}
        (art / 'pipeline.json').write_text(json.dumps(desc))
    describe_model_as_it_is()
    one_line(capsys, [art, f'{shapes_root}/val', '--out', tmp_path / 'r.json'],
             "external data '../secret.bin' outside its folder")
    (art / 'model.onnx').write_bytes(b'\xff\xff\xff not protobuf')
    describe_model_as_it_is()
    one_line(capsys, [art, f'{shapes_root}/val', '--out', tmp_path / 'r.json'],
             'is not an ONNX model')


def test_bad_images_and_outputs_are_one_line(deployed, tmp_path, capsys):
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'not an image')
    out = tmp_path / 'r.json'
    one_line(capsys, [deployed, broken, '--out', out], 'cannot be decoded')
    one_line(capsys, [deployed, tmp_path / 'none.jpg', '--out', out], 'not found')
    (tmp_path / 'empty').mkdir()
    one_line(capsys, [deployed, tmp_path / 'empty', '--out', out], 'has no images')
    one_line(capsys, [deployed, broken, '--out', tmp_path], 'is a folder')
    one_line(capsys, [deployed, broken, '--out', tmp_path / 'no' / 'r.json'], 'does not exist')
    assert not out.exists()


def test_missing_engine_and_unrunnable_precision_are_one_line(deployed, shapes_root, tmp_path):
    proc = run_runtime(deployed, f'{shapes_root}/val', '--out', tmp_path / 'r.json',
                       forbid=FORBIDDEN + ('openvino',))
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert proc.stderr.strip() == ('error: openvino is not installed: pip install openvino '
                                   '(or choose the other engine with --engine)')
    with pytest.raises(RuntimeInputError, match='no native bf16'):
        check_precision_runs('bf16', 'openvino', flags={'avx2', 'fma'})
    with pytest.raises(RuntimeInputError, match='bf16 artefacts run with --engine openvino'):
        check_precision_runs('bf16', 'onnxruntime', flags={'avx512_bf16'})
    check_precision_runs('bf16', 'openvino', flags={'avx512_bf16'})  # runs


def test_bf16_note_is_for_intel_without_amx_only():
    assert 'no AMX' in bf16_note('bf16', {'avx512_bf16'}, 'GenuineIntel')
    assert bf16_note('bf16', {'avx512_bf16', 'amx_bf16'}, 'GenuineIntel') is None
    assert bf16_note('bf16', {'avx512_bf16'}, 'AuthenticAMD') is None  # Zen 4, Zen 5
    assert bf16_note('bf16', set(), '') is None  # no /proc/cpuinfo
    assert bf16_note('fp32', {'avx512_bf16'}, 'GenuineIntel') is None


@pytest.mark.parametrize('precision', ['bf16', 'fp32'])
def test_runtime_cli_prints_the_bf16_note_and_still_detects(tmp_path, capsys, monkeypatch,
                                                           precision):
    import cv2
    import mmvanilla_runtime.__main__ as cli
    from mmvanilla_runtime import engines

    class Artefact:  # what the CLI reads of a loaded artefact
        pass

    class StubDetector:  # the engine itself is not what this checks
        def __init__(self, folder, engine):
            self.artefact = Artefact()
            self.artefact.precision = precision

        def detect_files(self, paths, batch_size):
            return [(path, []) for path in paths]

    monkeypatch.setattr(cli, 'Detector', StubDetector)
    monkeypatch.setattr(engines, 'bf16_slower_than_fp32', lambda flags, vendor: True)
    cv2.imwrite(str(tmp_path / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    out = tmp_path / 'r.json'
    assert runtime_main([str(tmp_path), str(tmp_path / 'a.png'), '--out', str(out)]) == 0
    err = capsys.readouterr().err
    assert ('no AMX' in err) == (precision == 'bf16')
    assert json.loads(out.read_text()) == []


def test_runtime_requirements_hold_nothing_of_the_training_stack():
    lines = [line.split('>')[0].split('=')[0].strip().lower() for line in
             (REPO / 'mmvanilla_runtime' / 'requirements.txt').read_text().splitlines()
             if line.strip() and not line.startswith('#')]
    assert lines == ['numpy', 'opencv-python-headless', 'pycocotools', 'openvino']


def test_mixed_or_unloadable_models_are_one_line(deployed, shapes_root, tmp_path, capsys):
    import onnx
    from onnx import TensorProto, helper
    art = _artefact_copy(deployed, tmp_path)
    images = f'{shapes_root}/val'
    with open(art / 'model.onnx', 'ab') as f:  # another deployment's model, in effect
        f.write(b'\0' * 8)
    one_line(capsys, [art, images, '--out', tmp_path / 'r.json'], 'mixes two deployments')
    # a well-formed ONNX model with an operator no engine knows
    graph = helper.make_graph([helper.make_node('NoSuchOp', ['x'], ['y'])], 'g',
                              [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph), str(art / 'model.onnx'))
    desc = json.loads((art / 'pipeline.json').read_text())
    desc['files'] = file_hashes(str(art / 'model.onnx'))
    (art / 'pipeline.json').write_text(json.dumps(desc))
    for engine, other in (('openvino', 'onnxruntime'), ('onnxruntime', 'openvino')):
        one_line(capsys, [art, images, '--out', tmp_path / 'r.json', '--engine', engine],
                 f'{engine} cannot load', f'(the other engine may: --engine {other})')
    assert not (tmp_path / 'r.json').exists()

"""tools/infer.py: a detector on one's own images, drawn; bad inputs in one line."""
import json
import shutil

import pytest

from tests.conftest import REPO, call_tool
from tests.tools.test_bad_inputs import one_line_error

CONFIG = REPO / 'configs' / 'retinanet_vanillanet11.py'


def infer(trained, *args):
    _, checkpoint, options = trained
    # Two epochs of training score near the prior 0.01: keep every box.
    return call_tool('infer.py', CONFIG, checkpoint, *args, '--cfg-options', *options,
                    'model.test_cfg.score_thr=0.0')


def test_draws_detections_for_a_folder_and_a_glob(trained_retinanet, shapes_root, tmp_path):
    images = tmp_path / 'mine'
    shutil.copytree(f'{shapes_root}/val', images)
    out = tmp_path / 'out'
    proc = infer(trained_retinanet, images, str(images / 'val_0000[01].png'), '--deploy',
                 '--out-dir', out, '--score-thr', 0.0)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert 'reparameterized the model to its fused form' in lines
    per_image = [ln for ln in lines if 'detections with score >= 0.0' in ln]
    assert len(per_image) == 6  # 4 from the folder, 2 from the glob
    assert len(lines) <= 10, proc.stdout
    drawn = sorted(p.name for p in (out / 'vis').iterdir())
    assert drawn == sorted(p.name for p in images.iterdir())
    pred = json.loads((out / 'preds' / drawn[0].replace('.png', '.json')).read_text())
    assert len(pred['scores']) == len(pred['bboxes']) == len(pred['labels']) > 0
    assert (out / 'vis' / drawn[0]).stat().st_size > 1000


@pytest.mark.parametrize('case, fragments', [
    ('missing', ["input '{tmp}/nope.png' not found", 'glob patterns']),
    ('empty_folder', ["folder '{tmp}/empty' holds no image file"]),
    ('no_match', ["'{tmp}/*.jpg' matches no image file"]),
    ('not_an_image', ["'{tmp}/broken.png' cannot be decoded", 'remove it from the inputs']),
    ('out_dir_is_a_file', ["--out-dir '{tmp}/file.txt/out' cannot be written"]),
    ('score_thr', ['--score-thr must lie in [0, 1], got 2.0']),
    ('checkpoint_misfit', ['does not fit the model', 'unexpected keys (e.g. foo)']),
    ('checkpoint_missing', ["checkpoint '{tmp}/none.pth' not found"]),
])
def test_bad_inputs_end_in_one_line(trained_retinanet, shapes_root, tmp_path, case, fragments):
    import torch
    image = f'{shapes_root}/val/val_00000.png'
    args = [image, '--out-dir', tmp_path / 'out']
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'broken.png').write_text('not an image')
    (tmp_path / 'file.txt').write_text('x')
    if case == 'missing':
        args[0] = tmp_path / 'nope.png'
    elif case == 'empty_folder':
        args[0] = tmp_path / 'empty'
    elif case == 'no_match':
        args[0] = str(tmp_path / '*.jpg')
    elif case == 'not_an_image':
        args[0] = tmp_path / 'broken.png'
    elif case == 'out_dir_is_a_file':
        args[2] = tmp_path / 'file.txt' / 'out'
    elif case == 'score_thr':
        args += ['--score-thr', 2.0]
    trained = trained_retinanet
    if case == 'checkpoint_misfit':
        torch.save({'foo': 1}, tmp_path / 'foo.pth')
        trained = (None, tmp_path / 'foo.pth', trained[2])
    elif case == 'checkpoint_missing':
        trained = (None, tmp_path / 'none.pth', trained[2])
    proc = infer(trained, *args)
    one_line_error(proc, *(f.format(tmp=tmp_path) for f in fragments))

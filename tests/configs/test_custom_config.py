"""configs/retinanet_vanillanet11_custom.py: a user's COCO-format dataset
trains and evaluates from it with only its two marked lines changed."""
import json
import pathlib
import re
import shutil

import pytest
from mmengine.config import Config

from mmvanilla.utils.safe_checkpoint import safe_load
from tests.conftest import REPO, call_tool, coco_metrics, log_text
from tests.detection_options import tiny_detector_options
from tests.tools.test_bad_inputs import one_line_error

CONFIG = 'retinanet_vanillanet11_custom.py'
#: The user's categories: their own names and ids (not 1..N, not sorted).
USER_CATEGORIES = [dict(id=7, name='disc'), dict(id=3, name='block'), dict(id=12, name='wedge')]
USER_CLASSES = tuple(c['name'] for c in USER_CATEGORIES)
#: What the README tells a user to change, and nothing else may differ.
DATA_KEYS = re.compile(
    r'^((train|val|test)_dataloader\.dataset\.(data_root|ann_file|data_prefix\.img|'
    r'metainfo\.classes)|(val|test)_evaluator\.ann_file|model\.bbox_head\.num_classes|'
    r'data_root|classes|metainfo\.classes)$')


@pytest.fixture(scope='module')
def users_dataset(shapes_root, tmp_path_factory) -> pathlib.Path:
    """The shapes images under the user's own category names and ids."""
    root = tmp_path_factory.mktemp('users_data')
    shutil.copytree(shapes_root, root, dirs_exist_ok=True)
    for split in ('train', 'val'):
        path = root / 'annotations' / f'instances_{split}.json'
        data = json.loads(path.read_text())
        ids = {c['id']: new['id'] for c, new in zip(data['categories'], USER_CATEGORIES)}
        data['categories'] = USER_CATEGORIES
        for ann in data['annotations']:
            ann['category_id'] = ids[ann['category_id']]
        path.write_text(json.dumps(data))
    return root


def edited_config(tmp_path, data_root, classes) -> pathlib.Path:
    """The repository's configs, copied, with the custom config's two marked
    lines set to ``data_root`` and ``classes``, as a user edits them."""
    configs = tmp_path / 'configs'
    shutil.copytree(REPO / 'configs', configs)
    path = configs / CONFIG
    text = path.read_text()
    for name, value in (('data_root', f'{str(data_root)}/'), ('classes', tuple(classes))):
        text, count = re.subn(rf'^{name} = .*# <- yours',
                              lambda _, n=name, v=value: f'{n} = {v!r}  # <- yours', text, flags=re.M)
        assert count == 1, f'{CONFIG} has no line "{name} = ...  # <- yours"'
    path.write_text(text)
    return path


def flat(d: dict, prefix: str = '') -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat(v, f'{prefix}{k}.'))
        else:
            out[f'{prefix}{k}'] = v
    return out


def speed_options() -> list:
    """The tests' tiny network at the shapes images' own size: every tiny
    option except those about data and classes (the config's own job here)."""
    return [o for o in tiny_detector_options('unused', 'retinanet')
            if not re.search(r'data_root|ann_file|data_prefix|metainfo|num_classes|evaluator', o)]


def test_only_data_and_classes_differ_from_the_paper_config(tmp_path):
    custom = flat(Config.fromfile(edited_config(tmp_path, '/data/mine', USER_CLASSES)).to_dict())
    base = flat(Config.fromfile(REPO / 'configs' / 'retinanet_vanillanet11.py').to_dict())
    changed = sorted(k for k in base.keys() | custom.keys()
                     if base.get(k, ...) != custom.get(k, ...))
    assert changed and all(DATA_KEYS.match(k) for k in changed), changed
    assert custom['model.bbox_head.num_classes'] == 3
    for split in ('train', 'val', 'test'):
        assert custom[f'{split}_dataloader.dataset.data_root'] == '/data/mine/'
        assert custom[f'{split}_dataloader.dataset.metainfo.classes'] == USER_CLASSES
    assert custom['test_evaluator.ann_file'] == '/data/mine/annotations/instances_val.json'


def test_a_users_dataset_trains_and_evaluates(users_dataset, tmp_path):
    config = edited_config(tmp_path, users_dataset, USER_CLASSES)
    work_dir = tmp_path / 'work'
    trained = call_tool('train.py', config, '--work-dir', work_dir,
                        '--cfg-options', *speed_options())
    assert trained.returncode == 0, trained.stderr[-3000:]
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    dataset = DATASETS.build(Config.fromfile(config).train_dataloader.dataset)
    assert dataset.cat2label == {7: 0, 3: 1, 12: 2}  # the user's ids, in the file's order
    checkpoint = work_dir / 'epoch_1.pth'
    assert safe_load(str(checkpoint))['meta']['dataset_meta']['classes'] == USER_CLASSES
    tested = call_tool('test.py', config, checkpoint, '--work-dir', tmp_path / 'test',
                       '--cfg-options', *speed_options(),
                       # (an epoch's tiny detector scores under the default 0.05)
                       'model.test_cfg.score_thr=0', 'model.test_cfg.max_per_img=20',
                       f'test_evaluator.outfile_prefix={tmp_path / "results"}')
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert 'bbox_mAP' in coco_metrics(log_text(tmp_path / 'test'))
    # the detections are scored against the user's own category ids
    detections = json.loads((tmp_path / 'results.bbox.json').read_text())
    assert detections and {d['category_id'] for d in detections} <= {7, 3, 12}


def test_classes_out_of_the_files_order_are_refused(users_dataset, tmp_path):
    """mmdet numbers labels in the annotation file's order: another order
    would report every class under another's name."""
    config = edited_config(tmp_path, users_dataset, sorted(USER_CLASSES))
    proc = call_tool('train.py', config, '--work-dir', tmp_path / 'work',
                     '--cfg-options', *speed_options())
    one_line_error(proc, "(class 0 is 'block', the file's is 'disc')",
                   f'set dataset.metainfo.classes={USER_CLASSES}')
    assert not (tmp_path / 'work' / 'epoch_1.pth').exists()

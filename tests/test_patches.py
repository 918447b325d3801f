"""mmvanilla/patches.py, change 5: configs load as upstream loads them, with
mmdet's model index parsed once per process instead of at every ``mmdet::``
base, and the same text formatted once."""
import os

import mmengine.config.config as mmengine_config
import mmengine.config.utils as mmengine_config_utils
import pytest
from mmengine.fileio.handlers.yaml_handler import YamlHandler

from mmvanilla import patches
from mmvanilla.apis.config import load_config
from tests.conftest import REPO

CONFIGS = [REPO / 'configs' / 'retinanet_vanillanet11.py',
           REPO / 'configs' / 'mask_rcnn_vanillanet13.py',
           'mmdet::swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py']


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(p).split('/')[-1])
def test_a_config_loads_as_upstream_loads_it(path, monkeypatch):
    patched = load_config(str(path))
    monkeypatch.setattr(patches, 'apply_config_caches', lambda: None)
    monkeypatch.setattr(mmengine_config_utils, 'load', mmengine_config_utils.load.__wrapped__)
    monkeypatch.setattr(mmengine_config, 'is_installed', mmengine_config.is_installed.__wrapped__)
    printed = patched.pretty_text
    monkeypatch.setattr(mmengine_config, 'FormatCode', mmengine_config.FormatCode.__wrapped__)
    upstream = load_config(str(path))
    assert patched.to_dict() == upstream.to_dict() and patched.filename == upstream.filename
    assert printed == upstream.pretty_text


def test_the_model_index_is_parsed_once_per_process(monkeypatch):
    load_config(str(CONFIGS[0]))  # (whatever ran before: parsed by now)
    parses = []
    parse = YamlHandler.load_from_fileobj
    monkeypatch.setattr(YamlHandler, 'load_from_fileobj',
                        lambda self, f, **kw: parses.append(f) or parse(self, f, **kw))
    for path in CONFIGS:
        load_config(str(path))
    assert parses == []


def test_a_metafile_that_changes_is_read_again(tmp_path):
    meta = tmp_path / 'metafile.yml'
    meta.write_text('Models: []\n')
    assert mmengine_config_utils.load(str(meta)) == {'Models': []}
    meta.write_text('Models: [{Name: a}]\n')
    assert mmengine_config_utils.load(str(meta)) == {'Models': [{'Name': 'a'}]}
    meta.write_text('Models: [{Name: b}]\n')  # (the same size: its time tells)
    os.utime(meta, ns=(meta.stat().st_atime_ns, meta.stat().st_mtime_ns + 10**9))
    assert mmengine_config_utils.load(str(meta)) == {'Models': [{'Name': 'b'}]}


def test_a_text_is_formatted_once():
    calls = []

    def upper(text, **options):
        calls.append(text)
        return text.upper(), 1
    format_code = patches._formatted_once(upper, keep=2)
    assert format_code('a', style_config={'x': 1}) == ('A', 1)
    assert format_code('a', style_config={'x': 1}) == ('A', 1)
    assert format_code('a', style_config={'x': 2}) == ('A', 1) and calls == ['a', 'a']
    format_code('b'), format_code('c'), format_code('a', style_config={'x': 1})
    assert calls == ['a', 'a', 'b', 'c', 'a']  # (the oldest of two is forgotten)

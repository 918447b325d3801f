"""--precision in tools/test.py and tools/benchmark.py; tools/quantize.py."""
import json
import re
import shutil

from mmvanilla.utils.cpu import cpu_has_native_bf16
from tests.conftest import REPO, call_tool, coco_metrics, log_text
from tests.tools.test_bad_inputs import one_line_error

CONFIG = REPO / 'configs' / 'retinanet_vanillanet11.py'


def test_quantized_artefact_round_trips_through_test_and_benchmark(int8_artefact, tmp_path):
    # (spread scores: hundreds of detections per image, so COCO metrics exist)
    out, proc = int8_artefact  # tools/quantize.py CONFIG CKPT OUT --calib-images 4
    assert 'calibrating on 4 training images' in proc.stdout
    assert re.search(r'bbox AP fp32 [\d.]+  int8 [\d.]+  \(drop -?[\d.]+\)', proc.stdout)
    assert 'Traceback' not in proc.stderr and 'Statistics collection' not in proc.stdout
    report = json.loads((out / 'quantization.json').read_text())
    assert report['calibration']['images'] == 4
    int8_metrics = report['metrics']['int8']
    assert abs(report['bbox_ap_drop'] - (report['metrics']['fp32']['coco/bbox_mAP']
                                          - int8_metrics['coco/bbox_mAP'])) < 1e-9

    # test.py loads the artefact by its config and prints the same metrics
    work = tmp_path / 'test_int8'
    proc = call_tool('test.py', out / 'config.py', out / 'fused.pth', '--precision', 'int8',
                    '--work-dir', work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'precision int8' in proc.stdout
    assert coco_metrics(log_text(work)) == {
        k.split('/')[1]: v for k, v in int8_metrics.items()}

    # benchmark.py times it and says what ran in which precision
    result = tmp_path / 'bench.json'
    proc = call_tool('benchmark.py', out / 'config.py', '--checkpoint', out / 'fused.pth',
                    '--precision', 'int8', '--iters', 1, '--warmup', 0, '--out', result)
    assert proc.returncode == 0, proc.stderr[-3000:]
    fused = json.loads(result.read_text())['results']['fused']
    assert fused['precision']['precision'] == 'int8'
    assert 'NMS and RoIAlign in fp32' in fused['precision']['runs']
    assert fused['latency_ms_p50'] > 0 and 'backbone_ms_median' not in fused


def test_bf16_test_and_benchmark_state_the_precision_they_ran(
        trained_retinanet, spread_scores_checkpoint, tmp_path):
    _, _, options = trained_retinanet
    checkpoint = spread_scores_checkpoint
    work = tmp_path / 'test_bf16'
    proc = call_tool('test.py', CONFIG, checkpoint, '--precision', 'bf16', '--work-dir', work,
                    '--cfg-options', *options)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ran = 'bf16' if cpu_has_native_bf16() else 'fp32'
    if ran == 'bf16':
        assert 'precision bf16: backbone, neck and dense head in bf16' in proc.stdout
    else:
        assert 'running fp32 instead' in proc.stdout
    assert 'bbox_mAP' in coco_metrics(log_text(work))
    result = tmp_path / 'bench.json'
    proc = call_tool('benchmark.py', CONFIG, '--checkpoint', checkpoint, '--precision', 'bf16',
                    '--compare', '--iters', 1, '--warmup', 0, '--out', result,
                    '--cfg-options', *options)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(result.read_text())
    assert report['precision_requested'] == 'bf16'
    # fused and unfused in the same precision: the ratio compares fusion alone
    for form in ('fused', 'unfused'):
        assert report['results'][form]['precision']['precision'] == ran


def test_precision_misuse_is_one_line(trained_retinanet, shapes_root, tmp_path):
    _, checkpoint, options = trained_retinanet
    proc = call_tool('test.py', CONFIG, checkpoint, '--precision', 'int8',
                    '--work-dir', tmp_path / 'w', '--cfg-options', *options)
    one_line_error(proc, 'tools/quantize.py CONFIG CHECKPOINT OUT_DIR')
    proc = call_tool('test.py', CONFIG, checkpoint, '--precision', 'fp16',
                    '--work-dir', tmp_path / 'w', '--cfg-options', *options)
    one_line_error(proc, 'fp16 is for CUDA', '--precision bf16')
    proc = call_tool('quantize.py', CONFIG, checkpoint, tmp_path / 'q', '--calib-images', 0,
                    '--cfg-options', *options)
    one_line_error(proc, '--calib-images must be >= 1')
    proc = call_tool('benchmark.py', CONFIG, '--no-fuse', '--precision', 'int8',
                    '--out', tmp_path / 'b.json', '--cfg-options', *options)
    one_line_error(proc, 'no unfused form: drop --compare/--no-fuse')
    proc = call_tool('benchmark.py', CONFIG, '--compare', '--precision', 'int8',
                    '--out', tmp_path / 'b.json', '--cfg-options', *options)
    one_line_error(proc, 'no unfused form: drop --compare/--no-fuse')
    assert not (tmp_path / 'q').exists() and not (tmp_path / 'b.json').exists()


def test_quantize_without_training_images_is_one_line_and_writes_nothing(
        trained_retinanet, shapes_root, tmp_path):
    _, checkpoint, options = trained_retinanet
    data = tmp_path / 'data'
    shutil.copytree(shapes_root, data)
    shutil.rmtree(data / 'train')
    options = [o.replace(shapes_root, str(data)) for o in options]
    out = tmp_path / 'q'
    proc = call_tool('quantize.py', CONFIG, checkpoint, out, '--calib-images', 2,
                    '--cfg-options', *options)
    one_line_error(proc, f"image folder '{data}/train/' not found")
    assert not out.exists() and list(tmp_path.glob('.tmp-*')) == []


def test_int8_config_without_its_network_is_one_line(
        trained_retinanet, tmp_path):
    _, checkpoint, options = trained_retinanet
    config = tmp_path / 'config.py'
    config.write_text(f"_base_ = '{CONFIG}'\nint8_artefact = 'int8'\n")
    proc = call_tool('test.py', config, checkpoint, '--precision', 'int8',
                    '--work-dir', tmp_path / 'w', '--cfg-options', *options)
    one_line_error(proc, "int8_artefact='int8' (relative to the config's folder)")


def test_int8_runs_only_the_artefact_of_the_checkpoint_given(int8_artefact, trained_retinanet,
                                                            tmp_path):
    """The INT8 artefact was made from the spread-scores checkpoint: with the
    trained one (another model) its detections would be another model's."""
    out, _ = int8_artefact
    _, checkpoint, _ = trained_retinanet
    proc = call_tool('test.py', out / 'config.py', checkpoint, '--precision', 'int8',
                    '--work-dir', tmp_path / 'w')
    one_line_error(proc, 'was made from', 'not from the checkpoint given')
    # a damaged model file in the artefact: its hash no longer matches
    copy = tmp_path / 'copy'
    shutil.copytree(out, copy)
    data = bytearray((copy / 'model.onnx').read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / 'model.onnx').write_bytes(bytes(data))
    proc = call_tool('test.py', copy / 'config.py', copy / 'fused.pth', '--precision', 'int8',
                    '--work-dir', tmp_path / 'w2')
    one_line_error(proc, 'SHA-256 differs')

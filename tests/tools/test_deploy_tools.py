"""Reparameterize, benchmark, FLOPs and ONNX tools on a tiny trained RetinaNet."""
import json

from mmvanilla.runtime import TUNED_ENV
from mmvanilla.utils.safe_checkpoint import safe_load
from tests.conftest import REPO, call_tool, run_program
from tests.predictions import assert_same_detections, predict
from tests.tools.test_bad_inputs import one_line_error

CONFIG = REPO / 'configs' / 'retinanet_vanillanet11.py'


def test_reparameterized_checkpoint_gives_the_same_detections(
        trained_retinanet, spread_scores_checkpoint, tmp_path):
    _, _, options = trained_retinanet
    checkpoint = spread_scores_checkpoint
    # the README's fuse step, as a program
    proc = run_program('reparameterize.py', CONFIG, checkpoint, tmp_path / 'deploy',
                       '--cfg-options', *options)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'max relative error' in proc.stdout
    fused_ckpt = tmp_path / 'deploy' / 'spread_scores_deploy.pth'
    deploy_cfg = tmp_path / 'deploy' / 'retinanet_vanillanet11_deploy.py'
    saved = safe_load(str(fused_ckpt))
    original = safe_load(str(checkpoint))
    assert saved['meta']['reparameterized'] and saved['meta']['epoch'] == original['meta']['epoch']
    assert not any('stem1' in k or 'conv1' in k for k in saved['state_dict'])
    plain, _ = predict(CONFIG, checkpoint, options, tmp_path)
    fused, _ = predict(deploy_cfg, fused_ckpt, [], tmp_path)
    assert_same_detections(plain, fused)


def test_benchmark_compares_fused_and_unfused(trained_retinanet, tmp_path):
    _, checkpoint, options = trained_retinanet
    out = tmp_path / 'bench.json'
    plot = tmp_path / 'bench.png'
    # as after the program's re-execution with the tuned runtime (tests/test_cli.py)
    proc = call_tool('benchmark.py', CONFIG, '--checkpoint', checkpoint, '--compare',
                     '--iters', 2, '--warmup', 1, '--out', out, '--plot', plot,
                     '--cfg-options', *options, env=TUNED_ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len((proc.stdout + proc.stderr).splitlines()) <= 15, proc.stdout + proc.stderr
    import matplotlib.pyplot as plt
    assert plt.imread(plot)[..., :3].std() > 0.05  # bars drawn
    report = json.loads(out.read_text())
    assert report['trained_weights'] and report['images'].startswith('test set')
    assert report['input_shape'][1:] == [256, 320]  # the config's test scale
    for mode in ('fused', 'unfused'):
        r = report['results'][mode]
        assert r['fps_median'] > 0 and len(r['times_s']) == 2 and r['params_m'] > 0
        assert {'backbone_ms_median', 'head_forward_ms_median', 'postprocess_ms_median',
                'latency_ms_p90'} <= set(r)
    assert 'MALLOC_MMAP_MAX_=0' in report['runtime']['allocator']
    assert report['results']['fused']['params_m'] < report['results']['unfused']['params_m']
    assert 'fused / unfused FPS' in proc.stdout


def test_get_flops_counts_fused_below_unfused(trained_retinanet, tmp_path):
    _, _, options = trained_retinanet
    out = tmp_path / 'flops.json'
    proc = call_tool('get_flops.py', CONFIG, '--shape', 256, 320, '--out', out,
                    '--cfg-options', *options)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert 0 < r['fused']['backbone_gmac'] < r['unfused']['backbone_gmac']
    assert r['fused']['detector_params_m'] < r['unfused']['detector_params_m']
    assert r['fused']['activation_dw_gmac'] == r['unfused']['activation_dw_gmac'] > 0


def test_network_only_graphs_match_pytorch(trained_retinanet, tmp_path):
    """tools/deploy.py --graph network|backbone: one ONNX file, dynamic in batch
    and size, checked against PyTorch at two shapes, described beside it (<graph>.json)."""
    _, checkpoint, options = trained_retinanet
    for graph in ('network', 'backbone'):
        out = tmp_path / graph
        proc = call_tool('deploy.py', CONFIG, checkpoint, out, '--graph', graph,
                         '--shape', 256, 320, '--cfg-options', *options)
        assert proc.returncode == 0, proc.stderr[-3000:]
        report = json.loads((out / f'{graph}.json').read_text())
        assert report['graph'] == graph and report['shape'] == [256, 320]
        assert set(report['max_rel_err']) == {'1x3x256x320', '2x3x192x224'}
        assert max(report['max_rel_err'].values()) <= 1e-4
        assert sorted(p.name for p in out.iterdir()) == [f'{graph}.json', f'{graph}.onnx']
    proc = call_tool('deploy.py', CONFIG, checkpoint, tmp_path / 'x', '--graph', 'network',
                     '--precision', 'int8', '--cfg-options', *options)
    one_line_error(proc, '--graph network writes an fp32 graph')
    proc = call_tool('deploy.py', CONFIG, checkpoint, tmp_path / 'x', '--quantizer', 'nncf',
                     '--cfg-options', *options)
    one_line_error(proc, '--quantizer nncf is for --precision int8')
    proc = call_tool('deploy.py', CONFIG, checkpoint, tmp_path / 'x', '--graph', 'network',
                     '--calib-images', 8, '--cfg-options', *options)
    one_line_error(proc, '--calib-images is for --precision int8')
    assert not (tmp_path / 'x').exists()


def test_backbone_speed_benchmark_writes_every_field(tmp_path):
    out = tmp_path / 'speed.json'
    proc = run_program(REPO / 'benchmarks' / 'backbone_speed.py', '--arch', 'vanillanet_5',
                       '--size', 64, 64, '--repeats', 1, '--quick', '--out', out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    for key in ('reference_gflops', 'fused_s', 'unfused_s', 'fused_gflop', 'unfused_gflop',
                'max_rel_err', 'plain_s', 'runtime'):
        assert key in r
    # each round's peak is the best of every reference kernel in that round
    assert len(r['reference_gflops']) == 5 and r['peak_reference'] in r['reference_gflops']
    assert r['runs']['peak_gflops'] == [max(r['runs'][k][0] for k in r['reference_gflops'])]
    # an efficiency is a paired ratio, never above 1 (else none, with the reason)
    if r['fused_efficiency'] is None:
        assert 'not this machine\'s peak' in r['efficiency_note']
    else:
        assert 0 < r['fused_efficiency'] <= 1
        assert abs(r['fused_efficiency'] - r['fused_gflop'] / r['fused_s']
                   / r['runs']['peak_gflops'][0]) < 1e-9
    assert r['max_rel_err'] <= 1e-5 and r['fused_gflop'] < r['unfused_gflop']
    assert 'MALLOC_MMAP_MAX_=0' in r['runtime']['allocator']
    assert 'defaults' in r['plain_runtime']['allocator']

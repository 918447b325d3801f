"""benchmarks/gpu_evidence.sh: what needs no GPU, run here (the dry run on the
CPU with a tiny arch), and its refusals."""
import json
import sys

from tests.conftest import REPO, run_program

SCRIPT = REPO / 'benchmarks' / 'gpu_evidence.sh'


def test_dry_run_writes_every_phase_of_the_gpu_evidence(tmp_path):
    out = tmp_path / 'evidence.json'
    # (no budget on a loaded 2-core machine; the architecture the script is for)
    proc = run_program(SCRIPT, '--dry-run', '--out', out, '--budget', 100000, timeout=600,
                       env=dict(PYTHON=sys.executable, TORCH_CUDA_ARCH_LIST='9.0'))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(out.read_text())
    # the build it would start there: CUDA ops for the one architecture asked, the C++
    # standard read from torch's headers (setup_plan), cores left for the timing
    plan = report['build']['plan']
    assert plan['OPS'] == 'cuda' and plan['ARCHS'] == '9.0' and plan['CXX_STD'].startswith('c++')
    assert report['build']['ops_check']['ok'], report['build']['ops_check']
    rows = report['backbone']['rows']
    assert {(r['form'], r['math']) for r in rows} == {
        (f, m) for f in ('fused', 'unfused') for m in ('fp32', 'tf32', 'bf16')}
    fp32 = next(r for r in rows if r['math'] == 'fp32')
    assert fp32['fused_vs_unfused_max_rel_diff'] < 1e-4  # fusion is exact
    assert all(r['median_ms'] > 0 for r in rows)
    detectors = {(r['detector'], r['math']): r for r in report['detectors']}
    assert set(detectors) == {(d, m) for d in ('vn13_retinanet', 'vn13_mask_rcnn',
                                               'r50_retinanet') for m in ('fp32', 'bf16')}
    for (name, math), row in detectors.items():
        assert 'error' not in row, row
        forms = ('fused', 'unfused') if name.startswith('vn') else ('unfused',)
        assert set(row['forms']) == set(forms)
        assert all(f['fps_median'] > 0 for f in row['forms'].values())
        assert row['input_shape'][1:] == [64, 96]
    # benchmarks/train_step_cost.py's own report, with and without with_cp
    train = report['train']
    assert [t['with_cp'] for t in train] == [False, True], train
    for t in train:
        assert t['step_s_median'] > 0 and t['loss'] > 0 and t['batch'] == 1
        assert t['size'] == [64, 96] and t['peak_rss_mb'] > 0
    assert train[0]['params_m'] == train[1]['params_m']


def test_without_a_bundle_or_a_gpu_it_stops_in_one_line(tmp_path):
    proc = run_program(SCRIPT, '--out', tmp_path / 'e.json', env=dict(BUNDLE=str(tmp_path)))
    assert proc.returncode == 2 and proc.stderr.count('\n') == 1
    assert 'run bash benchmarks/gpu_bundle.sh' in proc.stderr
    proc = run_program(REPO / 'benchmarks' / 'gpu_evidence.py', '--out', tmp_path / 'e.json')
    assert proc.returncode == 2 and '--mmcv-src is needed without --dry-run' in proc.stderr
    proc = run_program(REPO / 'benchmarks' / 'gpu_evidence.py', '--out', tmp_path / 'e.json',
                       '--mmcv-src', tmp_path)
    assert proc.returncode == 2 and 'no GPU visible to torch' in proc.stderr
    assert proc.stderr.strip().count('\n') == 0 and not (tmp_path / 'e.json').exists()

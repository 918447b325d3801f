"""tools/demo_report.py: the demo's table, curves and detections picture."""
import matplotlib.pyplot as plt

from tests.conftest import REPO, call_tool
from tests.predictions import predict


def not_blank(path) -> bool:
    pixels = plt.imread(path)[..., :3]
    return pixels.std() > 0.05 and (pixels < 0.9).mean() > 0.02


def test_report_writes_the_table_and_two_pictures(trained_retinanet, spread_scores_checkpoint,
                                                  shapes_root, tmp_path):
    work_dir, _, options = trained_retinanet
    results = tmp_path / 'results'
    predict(REPO / 'configs' / 'retinanet_vanillanet11.py', spread_scores_checkpoint,
            options + [f'test_evaluator.outfile_prefix={results}'], tmp_path)
    report = ('demo_report.py', work_dir, f'{results}.bbox.json', '--ann-file',
              f'{shapes_root}/annotations/instances_val.json', '--img-dir',
              f'{shapes_root}/val', '--out-dir', tmp_path)
    proc = call_tool(*report, '--score-thr', 0.5)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[0].split() == ['epoch', 'AP', 'AP50', 'loss', 'time']
    for name in ('curves.png', 'detections.png'):
        assert not_blank(tmp_path / name), name
    # The boxes are drawn: the picture changes with the threshold.
    before = plt.imread(tmp_path / 'detections.png')
    call_tool(*report, '--score-thr', 1.0)
    after = plt.imread(tmp_path / 'detections.png')
    assert before.shape != after.shape or (before != after).any()


def test_report_without_a_training_run_is_one_line(tmp_path):
    proc = call_tool('demo_report.py', tmp_path, tmp_path / 'r.bbox.json')
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert proc.stderr.startswith('error: no training run')

"""Compare a detector's predictions as written by ``tools/test.py --out``.

Fused and unfused backbones agree to float rounding (~1e-6 relative), but NMS,
top-k cuts and COCO's ranking are discontinuous: where two candidates score
within that rounding of each other (a barely trained or randomly re-drawn head
has many such pairs), either may survive, and which one does depends on the
CPU's kernels. So the comparisons here run mmdet's post-processing with its
discontinuities switched off (no suppression, no top-k cut, no size filter),
keep only candidates above a score threshold, and match the two sets of boxes
with tolerances derived from the rounding; COCO metrics are not compared.
"""
import pickle
from pathlib import Path
from typing import List, Tuple

import torch

from tests.conftest import call_tool, run_program

SCORE_THR = 0.5
# mmdet's RetinaNet post-processing, made continuous: IoU > 1 never happens, so
# NMS keeps every box; no candidate is cut by nms_pre/max_per_img/min_bbox_size.
CONTINUOUS_POSTPROCESS = [
    'model.test_cfg.nms.iou_threshold=1.0', f'model.test_cfg.score_thr={SCORE_THR}',
    'model.test_cfg.nms_pre=1000000', 'model.test_cfg.max_per_img=1000000',
    'model.test_cfg.min_bbox_size=-1',
]
# Pre-NMS outputs of the fused and unfused models differ by <= 1e-5 relative
# (tools/reparameterize.py refuses more than 1e-4). Scores are sigmoids of
# logits of magnitude < 20: an absolute error below 1e-4. Boxes are anchors of
# up to ~1000 px scaled by exp(delta): below 1e-4 relative plus 1e-2 px.
SCORE_ATOL, BOX_ATOL, BOX_RTOL = 1e-4, 1e-2, 1e-4


def predict(config, checkpoint, options: List[str], tmp_path: Path,
            *extra, as_program: bool = False) -> Tuple[list, object]:
    """``tools/test.py`` with continuous post-processing, in this process or
    (``as_program``) as a separate one; (predictions, result)."""
    out = tmp_path / f'pred_{len(list(tmp_path.glob("pred_*")))}.pkl'
    proc = (run_program if as_program else call_tool)('test.py', config, checkpoint, '--work-dir', tmp_path, '--out', out,
                    *extra, '--cfg-options', *options, *CONTINUOUS_POSTPROCESS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out, 'rb') as f:
        return pickle.load(f), proc


def _detections(result: dict) -> torch.Tensor:
    """(N, 6) rows of label, score, x1, y1, x2, y2."""
    p = result['pred_instances']
    return torch.cat([torch.as_tensor(p['labels'])[:, None].double(),
                      torch.as_tensor(p['scores'])[:, None].double(),
                      torch.as_tensor(p['bboxes']).double()], dim=1)


def _all_matched(first: torch.Tensor, second: torch.Tensor) -> bool:
    """Every detection of ``first`` clear of the threshold has a twin in ``second``."""
    clear = first[first[:, 1] > SCORE_THR + SCORE_ATOL]
    same_label = clear[:, None, 0] == second[None, :, 0]
    close_score = (clear[:, None, 1] - second[None, :, 1]).abs() <= SCORE_ATOL
    box_err = (clear[:, None, 2:] - second[None, :, 2:]).abs()
    close_box = (box_err <= BOX_ATOL + BOX_RTOL * second[None, :, 2:].abs()).all(-1)
    return bool((same_label & close_score & close_box).any(1).all())


def assert_same_detections(first: list, second: list, min_per_image: int = 20) -> None:
    """Per image, the same boxes, labels and scores within the tolerances above.

    Only a detection within SCORE_ATOL of the threshold may lack a twin (it can
    fall on either side). ``min_per_image`` keeps the test from passing on
    (nearly) empty predictions.
    """
    assert len(first) == len(second) > 0
    for a, b in zip(first, second):
        assert a['img_id'] == b['img_id']
        da, db = _detections(a), _detections(b)
        assert min(len(da), len(db)) >= min_per_image, (len(da), len(db))
        near_thr = sum(int(((d[:, 1] - SCORE_THR).abs() <= SCORE_ATOL).sum()) for d in (da, db))
        assert abs(len(da) - len(db)) <= near_thr, (len(da), len(db))
        assert _all_matched(da, db) and _all_matched(db, da), a['img_id']

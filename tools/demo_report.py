"""Summarise a training run: a table, AP/loss curves and a grid of detections.

    python tools/demo_report.py WORK_DIR PREDICTIONS.pkl [--out-dir DIR]

Reads mmengine's ``vis_data/scalars.json`` of the newest training run in
WORK_DIR and the predictions that ``tools/test.py --out`` dumped; prints a table
(epoch, AP, AP50, loss, time) and writes ``curves.png`` and ``detections.png``
to --out-dir (default: WORK_DIR). ``tools/demo.sh`` calls it.
"""
import quiet_warnings  # noqa: F401,I001  (first: before mmengine is imported)
import argparse
import glob
import json
import os.path as osp
import pickle
from collections import defaultdict
from typing import Dict, List

import matplotlib

matplotlib.use('Agg')  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import patches  # noqa: E402

from mmvanilla.utils.cli import run_cli  # noqa: E402
from mmvanilla.utils.errors import ConfigError  # noqa: E402

COLORS = ('tab:red', 'tab:green', 'tab:blue', 'tab:orange', 'tab:purple', 'tab:cyan')


def read_epochs(work_dir: str) -> List[Dict[str, float]]:
    """Per epoch: mean logged loss, seconds, and AP/AP50 where evaluated."""
    runs = sorted(glob.glob(osp.join(work_dir, '2*', 'vis_data', 'scalars.json')))
    runs = [r for r in runs if any('"loss"' in line for line in open(r))]
    if not runs:
        raise ConfigError(f'no training run (vis_data/scalars.json with losses) in {work_dir!r}')
    losses, times, last_iter, evals = defaultdict(list), defaultdict(list), {}, {}
    with open(runs[-1]) as f:
        for row in map(json.loads, f):
            if 'loss' in row:
                losses[row['epoch']].append(row['loss'])
                times[row['epoch']].append(row['time'])
                last_iter[row['epoch']] = row['iter']
            elif 'coco/bbox_mAP' in row:
                evals[row['step']] = row
    epochs, elapsed, previous = [], 0.0, 0
    for epoch in sorted(losses):
        iters = last_iter[epoch] - previous
        previous = last_iter[epoch]
        elapsed += sum(times[epoch]) / len(times[epoch]) * iters
        entry = dict(epoch=epoch, loss=sum(losses[epoch]) / len(losses[epoch]), time_s=elapsed)
        if epoch in evals:
            entry.update(ap=evals[epoch]['coco/bbox_mAP'], ap50=evals[epoch]['coco/bbox_mAP_50'])
        epochs.append(entry)
    return epochs


def print_table(epochs: List[Dict[str, float]]) -> None:
    print(f'{"epoch":>5}  {"AP":>6}  {"AP50":>6}  {"loss":>7}  {"time":>7}')
    for e in epochs:
        if 'ap' in e:
            print(f'{e["epoch"]:>5}  {e["ap"]:>6.3f}  {e["ap50"]:>6.3f}  {e["loss"]:>7.4f}  '
                  f'{e["time_s"]:>6.0f}s')


def plot_curves(epochs: List[Dict[str, float]], path: str) -> None:
    fig, ax_loss = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    ax_loss.plot([e['epoch'] for e in epochs], [e['loss'] for e in epochs], color='tab:gray',
                 label='training loss')
    ax_loss.set_xlabel('epoch')
    ax_loss.set_ylabel('loss')
    ax_ap = ax_loss.twinx()
    evaluated = [e for e in epochs if 'ap' in e]
    for key, style in (('ap', 'o-'), ('ap50', 's--')):
        ax_ap.plot([e['epoch'] for e in evaluated], [e[key] for e in evaluated], style,
                   color='tab:blue', label='AP' if key == 'ap' else 'AP50')
    ax_ap.set_ylabel('COCO bbox AP (val)')
    ax_ap.set_ylim(0, 1.05)
    lines = ax_loss.get_legend_handles_labels()[0] + ax_ap.get_legend_handles_labels()[0]
    ax_loss.legend(lines, [ln.get_label() for ln in lines], loc='upper center', ncol=3, fontsize=8)
    ax_loss.set_title('Tiny VanillaNet RetinaNet on the shapes set')
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_detections(predictions: list, classes, path: str, score_thr: float,
                    count: int = 8) -> None:
    cols = 4
    rows = (min(count, len(predictions)) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.9 * rows), dpi=100,
                             squeeze=False, gridspec_kw=dict(hspace=0.12, wspace=0.05))
    for ax in axes.flat:
        ax.axis('off')
    for ax, pred in zip(axes.flat, predictions[:count]):
        ax.imshow(plt.imread(pred['img_path']))
        p = pred['pred_instances']
        for box, score, label in zip(p['bboxes'].tolist(), p['scores'].tolist(),
                                     p['labels'].tolist()):
            if score < score_thr:
                continue
            x1, y1, x2, y2 = box
            color = COLORS[label % len(COLORS)]
            ax.add_patch(patches.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False,
                                           edgecolor=color, linewidth=1.5))
            name = classes[label] if label < len(classes) else str(label)
            ax.text(x1, y1, f'{name} {score:.2f}', color='white', fontsize=7, va='bottom',
                    bbox=dict(facecolor=color, edgecolor='none', alpha=0.85, pad=1))
    fig.suptitle(f'Fused model on val images (scores >= {score_thr})')
    fig.savefig(path, bbox_inches='tight')
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('work_dir')
    parser.add_argument('predictions', help='pickle written by tools/test.py --out')
    parser.add_argument('--out-dir', help='where the pictures go (default: WORK_DIR)')
    parser.add_argument('--classes', nargs='+', default=['circle', 'square', 'triangle'])
    parser.add_argument('--score-thr', type=float, default=0.3)
    args = parser.parse_args()
    epochs = read_epochs(args.work_dir)
    if not osp.isfile(args.predictions):
        raise ConfigError(f'predictions {args.predictions!r} not found: run tools/test.py '
                          f'with --out FILE.pkl first')
    with open(args.predictions, 'rb') as f:
        predictions = pickle.load(f)  # written by this project's own test run
    out_dir = args.out_dir or args.work_dir
    print_table(epochs)
    curves, detections = osp.join(out_dir, 'curves.png'), osp.join(out_dir, 'detections.png')
    plot_curves(epochs, curves)
    plot_detections(predictions, args.classes, detections, args.score_thr)
    print(f'wrote {curves}\nwrote {detections}')


if __name__ == '__main__':
    run_cli(main)

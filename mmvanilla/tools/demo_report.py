"""Summarise a training run: a table, AP/loss curves and a grid of detections.

    python tools/demo_report.py WORK_DIR RESULTS.bbox.json [--ann-file F --img-dir D]

Reads mmengine's ``vis_data/scalars.json`` of the newest training run in
WORK_DIR and COCO-format detections (what ``tools/test.py --cfg-options
test_evaluator.outfile_prefix=PREFIX`` writes to PREFIX.bbox.json, plain JSON);
prints a table (epoch, AP, AP50, loss, time) and writes ``curves.png`` and
``detections.png`` to --out-dir (default: WORK_DIR). ``tools/demo.sh`` calls it.
"""
import argparse
import glob
import json
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional

import matplotlib.image
from matplotlib import patches
from matplotlib.figure import Figure  # (no pyplot: no global backend, files only)

from mmvanilla.utils.errors import ConfigError
from mmvanilla.utils.paths import atomic_output, check_outputs, writable_dir
from mmvanilla_runtime.failures import OneLineParser

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
    fig = Figure(figsize=(6.4, 3.6), dpi=100)
    ax_loss = fig.subplots()
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
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format='png')


def read_detections(results_file: str, ann_file: str, img_dir: str, count: int = 8):
    """The first ``count`` images of ``ann_file`` with their detections and class names."""
    for path, what in ((results_file, 'detections'), (ann_file, '--ann-file')):
        if not osp.isfile(path):
            raise ConfigError(f'{what} {path!r} not found' + (
                ': run tools/test.py with --cfg-options test_evaluator.outfile_prefix=PREFIX'
                if what == 'detections' else ''))
    try:
        with open(results_file) as f:
            results = json.load(f)
        with open(ann_file) as f:
            coco = json.load(f)
        images = sorted(coco['images'], key=lambda im: im['id'])[:count]
        names = {c['id']: c['name'] for c in coco['categories']}
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f'{results_file!r} or {ann_file!r} is not COCO JSON ({e})') from None
    if not images:
        raise ConfigError(f'{ann_file!r} lists no images to draw')
    by_image = defaultdict(list)
    for det in results if isinstance(results, list) else []:
        by_image[det.get('image_id')].append(det)
    return [(osp.join(img_dir, im['file_name']), by_image[im['id']]) for im in images], names


def plot_detections(images, names, path: str, score_thr: float) -> None:
    cols = 4
    rows = (len(images) + cols - 1) // cols
    fig = Figure(figsize=(3.2 * cols, 2.9 * rows), dpi=100)
    axes = fig.subplots(rows, cols, squeeze=False,
                        gridspec_kw=dict(hspace=0.12, wspace=0.05))
    for ax in axes.flat:
        ax.axis('off')
    for ax, (image, detections) in zip(axes.flat, images):
        ax.imshow(matplotlib.image.imread(image))
        for det in sorted(detections, key=lambda d: d['score']):  # best drawn last
            if det['score'] < score_thr:
                continue
            x, y, w, h = det['bbox']
            color = COLORS[det['category_id'] % len(COLORS)]
            ax.add_patch(patches.Rectangle((x, y), w, h, fill=False, edgecolor=color,
                                           linewidth=1.5))
            ax.text(x, y, f'{names.get(det["category_id"], det["category_id"])} '
                    f'{det["score"]:.2f}', color='white', fontsize=7, va='bottom',
                    bbox=dict(facecolor=color, edgecolor='none', alpha=0.85, pad=1))
    fig.suptitle(f'Fused model on val images (scores >= {score_thr})')
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format='png', bbox_inches='tight')


def main(argv: Optional[List[str]] = None) -> None:
    parser = OneLineParser(description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('work_dir')
    parser.add_argument('results', help='COCO-format detections (PREFIX.bbox.json)')
    parser.add_argument('--ann-file', default='data/shapes/annotations/instances_val.json',
                        help='the images and class names the detections refer to')
    parser.add_argument('--img-dir', default='data/shapes/val')
    parser.add_argument('--out-dir', help='where the pictures go (default: WORK_DIR)')
    parser.add_argument('--score-thr', type=float, default=0.3)
    args = parser.parse_args(argv)
    if not 0 <= args.score_thr <= 1:
        raise ConfigError(f'--score-thr must lie in [0, 1], got {args.score_thr}')
    epochs = read_epochs(args.work_dir)
    out_dir = writable_dir(args.out_dir or args.work_dir, '--out-dir')
    images, names = read_detections(args.results, args.ann_file, args.img_dir)
    print_table(epochs)
    curves, detections = osp.join(out_dir, 'curves.png'), osp.join(out_dir, 'detections.png')
    check_outputs({'the curves': curves, 'the detections picture': detections},
                  [args.results, args.ann_file] + [path for path, _ in images])
    plot_curves(epochs, curves)
    plot_detections(images, names, detections, args.score_thr)
    print(f'wrote {curves}\nwrote {detections}')


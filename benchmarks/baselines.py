"""Should I pick VanillaNet? VN-11/13 detectors beside mmdet's own ResNet-50
and Swin-T ones, each through the same deploy path and engine: parameters,
FLOPs, per-image latency (batch 1) and throughput (batch 4) of the
``tools/deploy.py`` artefact run by ``mmvanilla_runtime`` (OpenVINO) in fp32,
bf16 and INT8, at each config's test scale (1280x800 images of the shapes
dataset: initialised weights, speed only). The AP column is the paper's (and
mmdet's model zoo for ResNet-50): COCO AP is not measured here.

    python benchmarks/baselines.py --out docs/results/baselines_zen4.json \\
        --plot docs/latency_vs_ap.png [--detectors retinanet_vn11 ...] [--rounds 5]
    python benchmarks/baselines.py --plot-only docs/results/baselines_zen4.json \\
        --plot docs/latency_vs_ap.png

Each detector runs in a process of its own, one after another, with the
tools' allocator settings. A precision OpenVINO cannot load is measured with
ONNX Runtime and marked so; a precision that cannot be measured at all
keeps the reason.
"""
import argparse
import json
import os
import os.path as osp
import re
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


# name: (config, detector, backbone, COCO AP box, AP mask, where the AP is from)
DETECTORS = {
    'retinanet_vn11': ('configs/retinanet_vanillanet11.py', 'RetinaNet', 'VN-11', None, None, ''),
    'retinanet_vn13': ('configs/retinanet_vanillanet13.py', 'RetinaNet', 'VN-13', 43.0, None,
                       'paper'),
    'retinanet_r50': ('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', 'RetinaNet', 'ResNet-50',
                      36.5, None, 'mmdet zoo'),
    'retinanet_swin_t': ('mmdet::swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py', 'RetinaNet',
                         'Swin-T', 41.5, None, 'paper'),
    'mask_rcnn_vn11': ('configs/mask_rcnn_vanillanet11.py', 'Mask R-CNN', 'VN-11', None, None, ''),
    'mask_rcnn_vn13': ('configs/mask_rcnn_vanillanet13.py', 'Mask R-CNN', 'VN-13', 44.3, 40.1,
                       'paper'),
    'mask_rcnn_r50': ('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', 'Mask R-CNN', 'ResNet-50',
                      38.2, 34.7, 'mmdet zoo'),
    'mask_rcnn_swin_t': ('mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py', 'Mask R-CNN',
                         'Swin-T', 43.7, 39.8, 'paper'),
}
PRECISIONS = ('fp32', 'bf16', 'int8')


def without_paths(reason: str) -> str:
    """A reason without the temporary folder it names."""
    return re.sub(r"'[^']*/model\.onnx'", 'model.onnx', reason)


def first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return f'{type(e).__name__}: {text[0] if text else ""}'[:300]


def measure_precision(model, cfg, precision: str, paths: List[str], args) -> dict:
    """Deploy ``model`` in ``precision``, then time its artefact on one image
    and on a batch of four."""
    from mmvanilla.apis.deployment import deployment_inputs
    from mmvanilla.utils.timing import time_calls
    from mmvanilla.deploy.artefact import write_artefact
    from mmvanilla_runtime.detector import Detector, coco_entries
    from mmvanilla_runtime.errors import RuntimeInputError
    row: Dict[str, object] = {}
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        try:
            example, calibration = deployment_inputs(cfg, model, precision, args.calib_images)
            write_artefact(model, cfg, folder, precision, example, calibration)
        except Exception as e:  # noqa: BLE001 (the table keeps the reason)
            return dict(not_measured=f'deploy failed: {first_line(e)}')
        row['deploy_s'] = round(time.perf_counter() - start, 1)
        row['model_mb'] = round(os.path.getsize(osp.join(folder, 'model.onnx')) / 2**20, 1)
        detector, row['engine'] = None, 'openvino'
        try:
            detector = Detector(folder)
        except RuntimeInputError as e:
            row['openvino_refused'] = str(e)
            try:
                detector, row['engine'] = Detector(folder, 'onnxruntime'), 'onnxruntime'
            except RuntimeInputError as e2:
                return dict(row, not_measured=str(e2))
        batch = paths[:args.batch]
        def detect(images: List[str]) -> list:
            return [coco_entries(osp.basename(p), d) for p, d in detector.detect_files(images, len(images))]
        times = {}
        try:  # one batch size after the other: a new input shape re-plans the engine
            for images in (paths[:1], batch):
                times.update(time_calls({f'batch {len(images)}': lambda i=images: detect(i)},
                                        args.rounds, warmup=1)[0])
        except RuntimeInputError as e:
            return dict(row, not_measured=str(e))
    row['latency_s'] = statistics.median(times['batch 1'])
    row[f'batch{len(batch)}_images_per_s'] = len(batch) / statistics.median(
        times[f'batch {len(batch)}'])
    row['times_s'] = times
    return row


def measure_one(name: str, args) -> dict:
    """One detector: its size and FLOPs, then each precision."""
    from mmdet.registry import DATASETS

    import mmvanilla.plugin  # noqa: F401
    from mmvanilla.apis.detector import build_detector
    from mmvanilla.models import switch_to_deploy
    from mmvanilla.runtime import runtime_description
    from mmvanilla.tools.get_flops import count, without_onednn_plan
    sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
    from deployed_latency import shapes_options
    from train_step_cost import resolve
    config = DETECTORS[name][0]
    model, cfg, _ = build_detector(resolve(config), None, shapes_options(args.data))
    switch_to_deploy(model)
    with without_onednn_plan():
        size = count(model, (800, 1280))
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    paths = [dataset[i]['data_samples'].img_path for i in range(min(len(dataset), args.batch))]
    result = dict(name=name, config=config, params_m=size['detector_params_m'],
                  gmac=size['detector_gmac'], backbone_gmac=size['backbone_gmac'],
                  image=paths[0], runtime=runtime_description(), precisions={})
    for precision in args.precisions:
        print(f'{name} {precision} ...', flush=True)
        result['precisions'][precision] = row = measure_precision(model, cfg, precision,
                                                                  paths, args)
        print(f'{name} {precision}: ' + ', '.join(f'{k}={v}' for k, v in row.items()
                                                   if k != 'times_s'), flush=True)
    import resource  # (the whole process: export, calibration, engines)
    result['peak_rss_gb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return result


def run_all(args) -> dict:
    """Each detector in a fresh process with the tools' allocator settings."""
    from mmvanilla.runtime import TUNED_ENV
    from mmvanilla.utils.cpu import cpu_model
    env = dict(os.environ, **TUNED_ENV)
    results = dict(command=' '.join(['python'] + sys.argv), cpu=cpu_model(),
                   date=time.strftime('%Y-%m-%d'), rounds=args.rounds,
                   calib_images=args.calib_images, detectors={})
    for name in args.detectors:
        with tempfile.NamedTemporaryFile(suffix='.json') as part:
            command = [sys.executable, __file__, '--one', name, '--part', part.name,
                       '--data', args.data, '--rounds', str(args.rounds), '--batch',
                       str(args.batch), '--calib-images', str(args.calib_images),
                       '--precisions', *args.precisions]
            done = subprocess.run(command, env=env)
            if done.returncode != 0:
                results['detectors'][name] = dict(
                    name=name, config=DETECTORS[name][0],
                    not_measured=f'the process exited with {done.returncode}')
            else:
                with open(part.name) as f:
                    results['detectors'][name] = json.load(f)
        with open(args.out, 'w') as f:  # (what is measured so far survives a stop)
            json.dump(results, f, indent=2)
    return results


def ms_per_ap(row: dict, ap: Optional[float]) -> Optional[float]:
    return row['latency_s'] * 1000 / ap if ap and 'latency_s' in row else None


def table(results: dict) -> str:
    """The markdown table of the results, and the per-AP-point summary."""
    lines = ['| detector | backbone | params M | GMAC | COCO AP (box / mask) | '
             + ' | '.join(f'{p} s/img | {p} img/s (b4)' for p in PRECISIONS) + ' |',
             '|---' * (5 + 2 * len(PRECISIONS)) + '|']
    notes: List[str] = []
    for name, r in results['detectors'].items():
        _, detector, backbone, box, mask, source = DETECTORS[name]
        ap = '–' if box is None else (f'{box}' + (f' / {mask}' if mask else '') + f' ({source})')
        size = ([f'{r["params_m"]:.1f}', f'{r["gmac"]:.0f}'] if 'params_m' in r
                else ['n/a', 'n/a'])
        cells = [detector, backbone, *size, ap]
        for p in PRECISIONS:
            row = r.get('precisions', {}).get(p)
            reason = (row or {}).get('not_measured') or r.get('not_measured')
            if row is None and reason is None:
                cells += ['not run', 'not run']
            elif reason:
                notes.append(f'{detector} {backbone} {p}: {without_paths(reason)}')
                cells += [f'n/a ({len(notes)})', 'n/a']
            else:
                mark = ''
                if row.get('engine') != 'openvino':
                    notes.append(f'{detector} {backbone} {p}: measured with {row["engine"]}; '
                                 f'OpenVINO refused it: {without_paths(row["openvino_refused"])}')
                    mark = f' ({len(notes)})'
                throughput = next(v for k, v in row.items() if k.endswith('_images_per_s'))
                cells += [f'{row["latency_s"]:.2f}{mark}', f'{throughput:.2f}']
        lines.append('| ' + ' | '.join(cells) + ' |')
    lines += [''] + [f'{i}. {n}' for i, n in enumerate(notes, 1)]
    lines += ['', 'Best latency per COCO AP point (ms per box AP point, batch 1):', '']
    for detector in ('RetinaNet', 'Mask R-CNN'):
        for p in PRECISIONS:
            best = {}
            for name, r in results['detectors'].items():
                _, d, backbone, box, _, _ = DETECTORS[name]
                row = r.get('precisions', {}).get(p, {})
                value = ms_per_ap(row, box)
                if d != detector or value is None or row.get('engine') != 'openvino':
                    continue
                side = 'VanillaNet' if backbone.startswith('VN') else 'baseline'
                if side not in best or value < best[side][0]:
                    best[side] = (value, backbone)
            if len(best) == 2:
                (v, vb), (b, bb) = best['VanillaNet'], best['baseline']
                lines.append(f'- {detector} {p}: {vb} {v:.1f} ms/AP, best baseline {bb} '
                             f'{b:.1f} ms/AP: VanillaNet {v / b:.2f}x')
    return '\n'.join(lines)


def plot(results: dict, path: str) -> None:
    """Latency (batch 1) against the COCO box AP, one panel per precision."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    fig, axes = plt.subplots(1, len(PRECISIONS), figsize=(12, 4), sharex=True, sharey=True)
    markers = {'RetinaNet': 'o', 'Mask R-CNN': 's'}
    colours = {'VN-13': 'tab:red', 'ResNet-50': 'tab:blue', 'Swin-T': 'tab:green'}
    shown = {}
    for ax, p in zip(axes, PRECISIONS):
        for name, r in results['detectors'].items():
            _, detector, backbone, box, _, _ = DETECTORS[name]
            row = r.get('precisions', {}).get(p, {})
            if box is None or 'latency_s' not in row:
                continue
            colour = colours[backbone]
            ax.scatter(row['latency_s'], box, marker=markers[detector], s=60, edgecolors=colour,
                       facecolors=colour if row.get('engine') == 'openvino' else 'none')
            ax.annotate(backbone, (row['latency_s'], box), textcoords='offset points',
                        xytext=(6, -3), fontsize=8)
            shown[f'{detector} {backbone}'] = Line2D(
                [], [], linestyle='', marker=markers[detector], color=colour, markersize=7)
        ax.set_title(f'{p}, batch 1, 1280x800')
        ax.set_xlabel('latency per image (s)')
        ax.grid(alpha=0.3)
    axes[0].set_ylabel('COCO box AP (paper, mmdet zoo)')
    fig.legend(shown.values(), shown.keys(), loc='lower center', ncol=len(shown), fontsize=8,
               frameon=False)
    fig.suptitle(f'tools/deploy.py artefacts run by mmvanilla_runtime with OpenVINO, '
                 f'{results["cpu"]}, {results["date"]}\nhollow: ONNX Runtime (OpenVINO '
                 f'refused the INT8 Swin-T graphs); VN-11 has no COCO AP', fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, metadata={'Date': None} if path.endswith('.svg') else None, dpi=100)
    print(f'wrote {path}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', help='results JSON')
    parser.add_argument('--plot', help='latency-vs-AP figure (.svg or .png)')
    parser.add_argument('--plot-only', metavar='JSON', help='only print and plot JSON')
    parser.add_argument('--detectors', nargs='+', choices=list(DETECTORS),
                        default=list(DETECTORS))
    parser.add_argument('--precisions', nargs='+', choices=PRECISIONS, default=list(PRECISIONS))
    parser.add_argument('--data', default='data/shapes1280')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--calib-images', type=int, default=2,
                        help='int8 calibration images (speed does not depend on them)')
    parser.add_argument('--one', choices=list(DETECTORS), help=argparse.SUPPRESS)
    parser.add_argument('--part', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        result = measure_one(args.one, args)
        with open(args.part, 'w') as f:
            json.dump(result, f, indent=2)
        return
    if args.plot_only:
        with open(args.plot_only) as f:
            results = json.load(f)
    elif args.out:
        results = run_all(args)
    else:
        parser.error('give --out (measure) or --plot-only JSON')
    print(table(results))
    if args.plot:
        plot(results, args.plot)


if __name__ == '__main__':
    main()

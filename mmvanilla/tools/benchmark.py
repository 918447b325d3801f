"""Detector inference speed at the config's test scale (1280x800), fused first.

    python tools/benchmark.py CONFIG [--checkpoint CKPT] [--compare | --no-fuse]
    python tools/benchmark.py CONFIG CKPT --formats pytorch,fp32,bf16,int8 [--images N]

--formats: AP, latency, throughput, memory and cold start of each form of the
checkpoint, each in its own process (see mmvanilla/tools/benchmark_formats.py).
Without it:

Every form timed runs in --precision (int8: the fused artefact alone). Times,
batch 1, after warm-up: the whole ``model.test_step`` (pre-processing,
forward, post-processing; not data loading), the backbone alone, and for
single-stage detectors the head's forward and its post-processing apart.
Images come from the config's test set when its files exist, else generated
ones at the test scale. Writes JSON (--out). Runs with mmvanilla's runtime
settings (see mmvanilla/runtime.py) unless --no-tuned-runtime.
"""
import argparse
import copy
import json
import os
import os.path as osp
import resource
import statistics
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.utils import ProgressBar

from mmvanilla.apis.config import command_line, model_tool_parser
from mmvanilla.apis.config_checks import check_datasets, resize_scale
from mmvanilla.apis.detector import array_test_pipeline, build_detector
from mmvanilla.utils.timing import cuda_device, cuda_fp32_math, timed
from mmvanilla.deploy import add_precision_arg, resolve_precision
from mmvanilla.deploy.precision import apply_precision, int8_artefact_path
from mmvanilla.models import switch_to_deploy
from mmvanilla.runtime import runtime_description
from mmvanilla.utils.console import stdout_to_log
from mmvanilla.utils.errors import ConfigError
from mmvanilla.utils.paths import atomic_output, check_outputs, writable_file


#: options that only --formats reads, and those only the timing without it reads
FORMATS_ONLY = ('engines', 'images', 'batch', 'work_dir', 'calib_images', 'rounds')
TIMING_ONLY = ('warmup', 'iters')


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = model_tool_parser(__doc__)
    parser.add_argument('config')
    parser.add_argument('checkpoint_file', nargs='?', metavar='CHECKPOINT',
                        help='trained weights (or --checkpoint)')
    parser.add_argument('--checkpoint', help='trained weights (default: initialized)')
    parser.add_argument('--formats', metavar='FORM,...',
                        help='pytorch, pytorch-bf16, pytorch-fp16 (CUDA) and the deployed '
                        'artefacts fp32, bf16, int8 (ONNX Runtime\'s quantizer), int8-nncf and '
                        'int8-nncf-mixed (NNCF\'s presets): each one\'s AP, latency, '
                        'throughput, memory and cold start, in one table')
    parser.add_argument('--engines', default='openvino',
                        help='--formats: the engines that run the artefacts (openvino, '
                        'onnxruntime; comma-separated)')
    parser.add_argument('--images', type=int,
                        help='--formats: the first N test images (default: all)')
    parser.add_argument('--batch', type=int, default=4,
                        help='--formats: the batch of the throughput figure')
    parser.add_argument('--work-dir', help='--formats: where the artefacts go (default '
                        'work_dirs/benchmark/<config name>)')
    parser.add_argument('--calib-images', type=int,
                        help='--formats int8: training images to calibrate on (default: '
                        'tools/deploy.py\'s)')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--no-fuse', action='store_true', help='time the unfused model only')
    mode.add_argument('--compare', nargs='*', metavar='PEER_CONFIG[=CKPT]',
                      help='alone: time fused and unfused, side by side; with --formats: '
                      'also run these detectors through the same forms and measurements '
                      '(AP where a checkpoint trained on the same data is given)')
    parser.add_argument('--rounds', type=int, default=1,
                        help='--formats: run every form this many times, in turn (medians)')
    add_precision_arg(parser)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--out', default='benchmark.json', help='JSON file to write')
    parser.add_argument('--plot', metavar='FILE.png',
                        help='also draw the latency of each form as bars split into '
                        'backbone, head, post-processing and the rest')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--no-tuned-runtime', action='store_true')
    parser.add_argument('--tf32', action='store_true',
                        help='on CUDA, let fp32 matmuls and convolutions run in TF32 (Ampere '
                        'and later); off by default, so that fp32 is fp32')
    args = parser.parse_args(argv)
    # (an option of the other mode would be accepted and ignored)
    unused, fix = ((TIMING_ONLY, 'the timing without --formats (with it, use --images and '
                    '--rounds)') if args.formats
                   else (FORMATS_ONLY, '--formats: add --formats FORM,... or leave it out'))
    given = [f'--{dest.replace("_", "-")}' for dest in unused
             if getattr(args, dest) != parser.get_default(dest)]
    if given:
        parser.error(f'{", ".join(given)} {"is" if len(given) == 1 else "are"} for {fix}')
    return args


def load_images(cfg: Config, count: int) -> Tuple[List[dict], str]:
    """``count`` pipeline outputs from the test set, or generated images."""
    dataset_cfg = cfg.test_dataloader.dataset
    ann = osp.join(dataset_cfg.get('data_root', ''), dataset_cfg.get('ann_file', ''))
    if osp.isfile(ann):
        from mmdet.registry import DATASETS
        check_datasets(cfg, ['test'])  # its images too: one line if missing
        with stdout_to_log(MMLogger.get_current_instance()):  # pycocotools' messages
            dataset = DATASETS.build(dataset_cfg)
        return [dataset[i % len(dataset)] for i in range(count)], f'test set {ann}'
    pipeline = array_test_pipeline(cfg)
    scale = resize_scale(cfg)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (scale[1], scale[0], 3), dtype=np.uint8)
              for _ in range(min(count, 4))]
    items = [pipeline(dict(img=images[i % len(images)], img_id=i)) for i in range(count)]
    return items, f'generated {scale[0]}x{scale[1]} images'


def summary(times: List[float]) -> Dict[str, float]:
    ms = sorted(t * 1000 for t in times)
    pct = lambda q: float(np.percentile(ms, q))  # noqa: E731
    return dict(fps_mean=1000 / statistics.mean(ms), fps_median=1000 / statistics.median(ms),
                latency_ms_mean=statistics.mean(ms), latency_ms_p50=pct(50),
                latency_ms_p90=pct(90), latency_ms_p99=pct(99))


def measure(model, warm: List[dict], items: List[dict], device: str, label: str,
            whole_network: bool = False) -> dict:
    """Timings; ``whole_network``: the model is one deployed artefact
    (:class:`DeployedDetector`), timed whole (``test_step`` only)."""
    single_stage = (not whole_network and hasattr(model, 'bbox_head')
                    and not hasattr(model, 'roi_head'))
    parts = {k: [] for k in ('test_step', 'backbone', 'head_forward', 'postprocess')}
    detections = []
    bar = ProgressBar(len(warm) + len(items))
    gpu = cuda_device(device)  # timing waits for it, memory is measured on it
    if whole_network:  # an artefact runs on the CPU (OpenVINO), whatever the device
        gpu = None
    if gpu is not None:
        torch.cuda.reset_peak_memory_stats(gpu)
    with torch.no_grad():
        for i, item in enumerate(warm + items):
            batch = pseudo_collate([item])
            t, result = timed(lambda: model.test_step(batch), gpu)
            data = model.data_preprocessor(batch, False)
            tb, feats = (0.0, None) if whole_network else timed(
                lambda: model.backbone(data['inputs']), gpu)
            if single_stage:
                feats = model.neck(feats) if model.with_neck else feats
                th, outs = timed(lambda: model.bbox_head(feats), gpu)
                metas = [s.metainfo for s in data['data_samples']]
                tp, _ = timed(lambda: model.bbox_head.predict_by_feat(
                    *outs, batch_img_metas=metas, rescale=True), gpu)
            if i >= len(warm):
                parts['test_step'].append(t)
                parts['backbone'].append(tb)
                if single_stage:
                    parts['head_forward'].append(th)
                    parts['postprocess'].append(tp)
                detections.append(len(result[0].pred_instances))
            bar.update()
    print()
    report = dict(summary(parts['test_step']),
                  detections_per_image_mean=statistics.mean(detections))
    if not whole_network:
        report['backbone_ms_median'] = statistics.median(parts['backbone']) * 1000
    if single_stage:
        report['head_forward_ms_median'] = statistics.median(parts['head_forward']) * 1000
        report['postprocess_ms_median'] = statistics.median(parts['postprocess']) * 1000
    if gpu is not None:
        report['peak_gpu_memory_mb'] = torch.cuda.max_memory_allocated(gpu) / 2**20
    else:  # process-wide peak so far: measure the smaller model first
        report['peak_rss_mb_so_far'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report['times_s'] = parts['test_step']
    print(f'{label:>8}: {report["fps_median"]:.3f} FPS (median), '
          f'{report["latency_ms_p50"]:.0f} ms p50'
          + (f', backbone {report["backbone_ms_median"]:.0f} ms' if not whole_network else '')
          + (f', head {report["head_forward_ms_median"]:.0f} ms' if 'head_forward_ms_median'
             in report else '')
          + (f', post-process {report["postprocess_ms_median"]:.0f} ms' if single_stage else ''))
    return report


def plot_latency(results: Dict[str, dict], title: str, path: str) -> None:
    """Stacked bars, one per form: backbone, head forward, post-processing and
    the rest of ``test_step`` (pre-processing, neck), medians in ms."""
    from matplotlib.figure import Figure  # (no pyplot: no global backend)
    parts = (('backbone', 'backbone_ms_median'), ('head forward', 'head_forward_ms_median'),
             ('post-processing', 'postprocess_ms_median'))
    fig = Figure(figsize=(6.4, 1.6 + 0.7 * len(results)), dpi=100)
    ax = fig.subplots()
    for row, (mode, r) in enumerate(results.items()):
        left = 0.0
        for (label, key), color in zip(parts, ('tab:blue', 'tab:orange', 'tab:green')):
            width = r.get(key, 0.0)
            ax.barh(row, width, left=left, color=color, label=label if row == 0 else None)
            left += width
        rest = max(r['latency_ms_p50'] - left, 0.0)
        ax.barh(row, rest, left=left, color='tab:gray', label='rest' if row == 0 else None)
        ax.text(left + rest, row, f' {r["latency_ms_p50"]:.0f} ms, {r["fps_median"]:.2f} FPS',
                va='center', fontsize=8)
    ax.set_yticks(range(len(results)), list(results))
    ax.set_xlabel('latency per image, median (ms)')
    ax.set_xlim(0, max(r['latency_ms_p50'] for r in results.values()) * 1.35)
    ax.legend(fontsize=8, ncol=4, loc='upper center', bbox_to_anchor=(0.5, -0.3))
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format='png')


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if args.checkpoint_file and args.checkpoint and args.checkpoint_file != args.checkpoint:
        raise ConfigError('two checkpoints given (CHECKPOINT and --checkpoint): give one')
    args.checkpoint = args.checkpoint or args.checkpoint_file
    check_outputs({'--out': args.out, '--plot': args.plot}, [args.config, args.checkpoint],
                  kind={'--out': '.json', '--plot': '.png'})
    writable_file(args.out, '--out')
    if args.plot:
        writable_file(args.plot, '--plot')
    if args.formats:
        from mmvanilla.tools.benchmark_formats import run
        return run(args, argv)
    if args.iters < 1 or args.warmup < 0:
        raise ConfigError('--iters must be >= 1 and --warmup >= 0')
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise ConfigError('--device cuda: no CUDA device here; use --device cpu')
    if args.compare:
        raise ConfigError('--compare PEER_CONFIG runs peers through --formats: add --formats '
                          '(or give --compare alone for fused vs unfused)')
    compare = args.compare is not None
    if args.precision == 'int8' and (compare or args.no_fuse):
        raise ConfigError('--precision int8 times tools/quantize.py\'s artefact, which has no '
                          'unfused form: drop --compare/--no-fuse (benchmark the source config '
                          'and checkpoint with --compare for fused vs unfused)')
    precision = resolve_precision(args.precision, args.device)
    model, cfg, _ = build_detector(args.config, args.checkpoint, args.cfg_options)
    int8_artefact = int8_artefact_path(cfg, args.checkpoint) if precision == 'int8' else None
    model = model.to(args.device)
    items, source = load_images(cfg, args.iters + args.warmup)
    modes = ['unfused'] if args.no_fuse else (['fused', 'unfused'] if compare else ['fused'])
    results = {}
    with cuda_fp32_math(args.tf32):  # the same rule for every form
        for mode in modes:
            model_m = copy.deepcopy(model)
            if mode == 'fused':
                switch_to_deploy(model_m)
            # every form in the same precision (int8: the fused artefact alone)
            model_m, info = apply_precision(model_m, precision, int8_artefact)
            label = mode if info['precision'] == 'fp32' else f'{mode} {info["precision"]}'
            results[mode] = measure(model_m, items[:args.warmup], items[args.warmup:],
                                    args.device, label, whole_network='int8_artefact' in info)
            results[mode]['precision'] = info
            # The paper's table counts the fused form's parameters (FLOPs: get_flops.py).
            if 'int8_artefact' not in info:  # (an OpenVINO model has no torch parameters)
                results[mode]['params_m'] = sum(p.numel() for p in model_m.parameters()) / 1e6
            del model_m
    out = dict(config=args.config, checkpoint=args.checkpoint,
               trained_weights=bool(args.checkpoint), images=source, batch_size=1,
               device=args.device, precision_requested=args.precision,
               cuda_tf32=args.tf32 if cuda_device(args.device) is not None else None,
               iters=args.iters, warmup=args.warmup,
               input_shape=list(items[0]['inputs'].shape), results=results,
               runtime=dict(runtime_description(),
                            onednn_plan=os.environ.get('MMVANILLA_ONEDNN', '1') != '0'),
               command=command_line('benchmark', argv))
    if 'fused' in results and 'unfused' in results:
        out['fused_speedup'] = results['fused']['fps_median'] / results['unfused']['fps_median']
        print(f'fused / unfused FPS: {out["fused_speedup"]:.2f}x')
    if not args.checkpoint:
        print('note: no --checkpoint: initialized weights, so post-processing sees '
              'few or many boxes unlike a trained model; see postprocess_ms_median')
    with atomic_output(args.out) as tmp, open(tmp, 'w') as f:
        json.dump(out, f, indent=2)
    print(f'wrote {args.out}')
    if args.plot:
        shape = 'x'.join(map(str, out['input_shape'][-2:]))
        plot_latency(results, f'{osp.basename(args.config)}, {shape}, batch 1, {args.device}',
                     args.plot)
        print(f'wrote {args.plot}')


"""``tools/benchmark.py CONFIG CHECKPOINT --formats ...``: accuracy and speed
of every form of one checkpoint, measured the same way.

Forms: ``pytorch`` (the fused model in PyTorch, fp32, on --device),
``pytorch-bf16`` and ``pytorch-fp16`` (CUDA) cast as ``--precision`` casts
them, and the end-to-end artefacts of ``tools/deploy.py`` run by
``mmvanilla_runtime`` on each of --engines: ``fp32``, ``bf16``, ``int8``.

Each form runs in a process of its own (``mmvanilla.tools.measure_form``)
on the same decoded images, the first --images of the config's test set:
its detections give the COCO AP (one evaluation for every form:
pycocotools over the images run), batch 1 timed from the decoded image to
the detections (p50, p90), throughput at --batch, the process's peak
memory, and its cold start (from the process's launch to its first
detections). Parameters and FLOPs are the fused model's, once. A form that
cannot run says why in its row.
"""
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional

import numpy as np
from mmengine.config import Config

from mmvanilla.utils.errors import ConfigError

#: form -> (kind, precision)
FORMS: Dict[str, tuple] = {
    'pytorch': ('torch', 'fp32'), 'pytorch-bf16': ('torch', 'bf16'),
    'pytorch-fp16': ('torch', 'fp16'),
    'fp32': ('artefact', 'fp32'), 'bf16': ('artefact', 'bf16'), 'int8': ('artefact', 'int8'),
}
ENGINES = ('openvino', 'onnxruntime')


def parse_formats(text: str) -> List[str]:
    forms = [f.strip() for f in text.split(',') if f.strip()]
    unknown = [f for f in forms if f not in FORMS]
    if unknown or not forms:
        raise ConfigError(f'--formats {text!r}: unknown {", ".join(unknown) or "(empty)"}; '
                          f'choose from {",".join(FORMS)} (comma-separated)')
    return list(dict.fromkeys(forms))


def parse_engines(text: str) -> List[str]:
    engines = [e.strip() for e in text.split(',') if e.strip()]
    if not engines or any(e not in ENGINES for e in engines):
        raise ConfigError(f'--engines {text!r}: choose from {",".join(ENGINES)} '
                          f'(comma-separated)')
    return list(dict.fromkeys(engines))


def test_images(cfg: Config, limit: Optional[int]) -> tuple:
    """The first ``limit`` image files of the config's test set (all if
    None), in its annotation file's order, and that file."""
    from mmvanilla.apis.config_checks import check_datasets
    check_datasets(cfg, ['test'])
    data = cfg.test_dataloader.dataset
    ann_file = osp.join(data.get('data_root', ''), data.ann_file)
    with open(ann_file) as f:
        names = [img['file_name'] for img in json.load(f)['images']]
    names = names[:limit] if limit else names
    folder = osp.join(data.get('data_root', ''), data.get('data_prefix', {}).get('img', ''))
    return [osp.join(folder, n) for n in names], ann_file


def model_size(config: str, checkpoint: str, shape) -> dict:
    """Parameters and multiply-accumulates of the fused model (get_flops.py's count)."""
    from mmvanilla.apis.detector import build_detector
    from mmvanilla.models import switch_to_deploy
    from mmvanilla.tools.get_flops import count, without_onednn_plan
    model, _, _ = build_detector(config, checkpoint)
    switch_to_deploy(model)
    with without_onednn_plan():
        counted = count(model, shape)
    return dict(params_m=counted['detector_params_m'], gmac=counted['detector_gmac'],
                shape=list(shape))


def deploy_form(config: str, checkpoint: str, precision: str, folder: str,
                calib_images: int) -> None:
    """The artefact of ``tools/deploy.py`` (its output guard, its checks)."""
    from mmvanilla.tools.deploy import main as deploy
    from mmvanilla.utils.console import stdout_to_log
    from mmengine.logging import MMLogger
    argv = [config, checkpoint, folder, '--precision', precision]
    if precision == 'int8':
        argv += ['--calib-images', str(calib_images)]
    with stdout_to_log(MMLogger.get_current_instance()):
        deploy(argv)


def run_form(spec: dict, work: str) -> dict:
    """One form in its own process; its report (or its error)."""
    name = spec['row']
    spec_file, out_file = (osp.join(work, f'{name}.{k}.json') for k in ('spec', 'result'))
    with open(spec_file, 'w') as f:
        json.dump(spec, f)
    if osp.exists(out_file):
        os.remove(out_file)
    launched = time.time()
    proc = subprocess.run([sys.executable, '-m', 'mmvanilla.tools.measure_form', spec_file,
                           out_file], capture_output=True, text=True)
    if not osp.isfile(out_file):
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return dict(error=f'its process ended ({proc.returncode}): '
                    f'{lines[-1] if lines else "no output"}')
    with open(out_file) as f:
        report = json.load(f)
    if 'first_detection_at' in report:
        report['cold_start_s'] = report.pop('first_detection_at') - launched
    return report


def row_figures(report: dict, ann_file: str, images: List[str]) -> dict:
    """AP (one evaluation for every form) and the latency percentiles."""
    from mmvanilla.deploy.evaluation import runtime_results_ap
    ap = runtime_results_ap(report.pop('entries'), ann_file,
                            [osp.basename(p) for p in images])
    ms = np.array(report.pop('latency_s')) * 1000
    return dict(report, ap=ap, latency_ms_p50=float(np.percentile(ms, 50)),
                latency_ms_p90=float(np.percentile(ms, 90)))


def table(rows: List[dict]) -> str:
    head = (f'{"form":<14}{"engine":<12}{"bbox AP":>8}{"segm AP":>8}{"p50 ms":>9}'
            f'{"p90 ms":>9}{"img/s":>8}{"peak MB":>9}{"cold s":>8}')
    lines = [head, '-' * len(head)]
    for r in rows:
        start = f'{r["form"]:<14}{r.get("engine") or "-":<12}'
        if 'error' in r:
            lines.append(f'{start}not run: {r["error"]}')
            continue
        segm = r['ap'].get('segm')
        lines.append(f'{start}{r["ap"]["bbox"]:>8.3f}{"-" if segm is None else f"{segm:.3f}":>8}'
                     f'{r["latency_ms_p50"]:>9.1f}{r["latency_ms_p90"]:>9.1f}'
                     f'{r["throughput_images_per_s"]:>8.1f}{r["peak_rss_mb"]:>9.0f}'
                     f'{r["cold_start_s"]:>8.1f}')
    return '\n'.join(lines)


def plot(rows: List[dict], title: str, path: str) -> None:
    """Latency p50 against bbox AP, one point per form that ran."""
    from matplotlib.figure import Figure

    from mmvanilla.utils.paths import atomic_output
    fig = Figure(figsize=(6.4, 4.0), dpi=100)
    ax = fig.subplots()
    for r in rows:
        if 'error' not in r:
            ax.scatter(r['latency_ms_p50'], r['ap']['bbox'])
            ax.annotate(f' {r["form"]}' + (f' ({r["engine"]})' if r.get('engine') else ''),
                        (r['latency_ms_p50'], r['ap']['bbox']), fontsize=8)
    ax.set_xlabel('latency per image, batch 1, p50 (ms)')
    ax.set_ylabel('COCO bbox AP')
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format='png')


def run(args, argv: Optional[List[str]]) -> None:
    """The --formats mode of tools/benchmark.py (its arguments)."""
    from mmengine.utils import ProgressBar

    from mmvanilla.apis.config import command_line, load_config
    from mmvanilla.deploy.precision import resolve_precision
    from mmvanilla.runtime import runtime_description
    from mmvanilla.utils.paths import atomic_output
    forms, engines = parse_formats(args.formats), parse_engines(args.engines)
    if not args.checkpoint:
        raise ConfigError('--formats measures AP: give the trained CHECKPOINT')
    if args.images is not None and args.images < 1 or args.batch < 1:
        raise ConfigError('--images and --batch must be >= 1')
    cfg = load_config(args.config, args.cfg_options)
    images, ann_file = test_images(cfg, args.images)
    work = args.work_dir or osp.join('work_dirs', 'benchmark',
                                     osp.splitext(osp.basename(args.config))[0])
    os.makedirs(work, exist_ok=True)
    config = osp.join(work, 'config.py')  # the config with --cfg-options, for every form
    cfg.dump(config)
    scale = next((t['scale'] for t in cfg.test_dataloader.dataset.pipeline
                  if t['type'] == 'Resize'), (1333, 800))
    jobs = [(f, e) for f in forms for e in (engines if FORMS[f][0] == 'artefact' else [None])]
    print(f'{len(jobs)} forms of {args.checkpoint} on {len(images)} images of {ann_file}',
          flush=True)
    size = model_size(config, args.checkpoint, (min(scale), max(scale)))
    rows, bar = [], ProgressBar(len(jobs))
    for form, engine in jobs:
        kind, precision = FORMS[form]
        row = dict(form=form, engine=engine, precision=precision)
        spec = dict(row=f'{form}-{engine}' if engine else form, kind=kind, precision=precision,
                    engine=engine, images=images, batch=args.batch, config=config,
                    checkpoint=args.checkpoint, device='cpu' if engine else args.device)
        try:
            if kind == 'torch':
                notes = []
                if resolve_precision(precision, spec['device'], notes.append) != precision:
                    raise ConfigError(notes[0].removeprefix('note: '))
            else:
                spec['folder'] = osp.join(work, form)
                if not osp.isfile(osp.join(spec['folder'], 'pipeline.json')) or engine == \
                        engines[0]:
                    deploy_form(config, args.checkpoint, precision, spec['folder'],
                                args.calib_images)
            report = run_form(spec, work)
            row.update(report if 'error' in report else
                       row_figures(report, ann_file, images))
        except ConfigError as e:
            row['error'] = str(e)
        rows.append(row)
        bar.update()
    print()
    print(table(rows))
    out = dict(config=args.config, checkpoint=args.checkpoint, images=len(images),
               ann_file=ann_file, batch=args.batch, device=args.device, model=size,
               rows=rows, runtime=runtime_description(),
               command=command_line('benchmark', argv))
    with atomic_output(args.out) as tmp, open(tmp, 'w') as f:
        json.dump(out, f, indent=2)
    print(f'wrote {args.out}')
    if args.plot:
        plot(rows, f'{osp.basename(args.config)}: {len(images)} images, batch 1', args.plot)
        print(f'wrote {args.plot}')

"""``tools/benchmark.py CONFIG CHECKPOINT --formats ...``: accuracy and speed
of every form of one checkpoint, measured the same way.

Forms: ``pytorch`` (the fused model in PyTorch, fp32, on --device),
``pytorch-bf16`` and ``pytorch-fp16`` (CUDA) cast as ``--precision`` casts
them, and the end-to-end artefacts of ``tools/deploy.py`` run by
``mmvanilla_runtime`` on each of --engines: ``fp32``, ``bf16``, and INT8
quantized by ONNX Runtime (``int8``) or by NNCF with its PERFORMANCE
(``int8-nncf``) or MIXED (``int8-nncf-mixed``) preset.

Each form runs in a process of its own (``mmvanilla.tools.measure_form``)
on the same decoded images, the first --images of the config's test set (or,
without a checkpoint on a machine that has no test set at all, generated
images at its test scale: timed without AP):
its detections give the COCO AP (one evaluation for every form:
pycocotools over the images run), batch 1 timed from the decoded image to
the detections (p50, p90), throughput at --batch, the process's peak
memory, and its cold start (from the process's launch to its first
detections). Parameters and FLOPs are the fused model's, once. A form that
cannot run says why in its row.

``--compare PEER_CONFIG[=CKPT] ...`` runs other detectors through the same
forms, processes and measurements, on the same images; ``--rounds N`` runs
every form of every model once per round, in turn, so that a slow spell of a
shared machine falls on all of them. A model without a checkpoint (the main
one too) is timed with initialised weights, and its rows say it has no AP.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from statistics import median
from typing import Dict, List, Optional, Tuple

import numpy as np
from mmengine.config import Config

from mmvanilla.utils.errors import ConfigError, MMVanillaError, describe

#: form -> (kind, precision, INT8 quantizer)
FORMS: Dict[str, tuple] = {
    'pytorch': ('torch', 'fp32', None), 'pytorch-bf16': ('torch', 'bf16', None),
    'pytorch-fp16': ('torch', 'fp16', None),
    'fp32': ('artefact', 'fp32', None), 'bf16': ('artefact', 'bf16', None),
    'int8': ('artefact', 'int8', 'onnxruntime'), 'int8-nncf': ('artefact', 'int8', 'nncf'),
    'int8-nncf-mixed': ('artefact', 'int8', 'nncf-mixed'),
}
ENGINES = ('openvino', 'onnxruntime')


def parse_formats(text: str) -> List[str]:
    """--formats as a list of form names; one line naming the choices otherwise."""
    forms = [f.strip() for f in text.split(',') if f.strip()]
    unknown = [f for f in forms if f not in FORMS]
    if unknown or not forms:
        raise ConfigError(f'--formats {text!r}: unknown {", ".join(unknown) or "(empty)"}; '
                          f'choose from {",".join(FORMS)} (comma-separated)')
    return list(dict.fromkeys(forms))


def parse_engines(text: str) -> List[str]:
    """--engines as a list; one line naming the choices otherwise."""
    engines = [e.strip() for e in text.split(',') if e.strip()]
    if not engines or any(e not in ENGINES for e in engines):
        raise ConfigError(f'--engines {text!r}: choose from {",".join(ENGINES)} '
                          f'(comma-separated)')
    return list(dict.fromkeys(engines))


def test_images(cfg: Config, limit: Optional[int], work: str, timing_only: bool) -> tuple:
    """The first ``limit`` image files of the config's test set (all if
    None), in its annotation file's order, and that file. For a ``timing_only``
    run (no checkpoint) where the test set is absent altogether (neither its
    annotation file nor its image folder: COCO on a machine without it),
    ``limit`` (default 8) generated images at the test scale, written into
    ``work``, and no annotation file."""
    from mmvanilla.apis.config_checks import check_datasets
    data = cfg.test_dataloader.dataset
    ann_file = osp.join(data.get('data_root', ''), data.get('ann_file', ''))
    folder = osp.join(data.get('data_root', ''), data.get('data_prefix', {}).get('img', ''))
    if timing_only and data.get('ann_file') and not osp.exists(ann_file) \
            and not osp.exists(folder):
        print(f'note: no test set here ({ann_file} and {folder} are absent): timed on '
              'generated images, without AP', flush=True)
        return generated_images(cfg, limit or 8, osp.join(work, 'generated_images')), None
    check_datasets(cfg, ['test'])
    with open(ann_file) as f:
        names = [img['file_name'] for img in json.load(f)['images']]
    names = names[:limit] if limit else names
    return [osp.join(folder, n) for n in names], ann_file


def generated_images(cfg: Config, count: int, folder: str) -> List[str]:
    """``count`` random images (seeded) of the test scale, as PNG files in
    ``folder``."""
    import cv2

    from mmvanilla.apis.config_checks import resize_scale
    width, height = resize_scale(cfg)
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = osp.join(folder, f'generated_{width}x{height}_{i:03d}.png')
        if not osp.isfile(path):
            cv2.imwrite(path, rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        paths.append(path)
    return paths


def model_size(model, cfg: Config) -> dict:
    """Parameters and multiply-accumulates of ``model`` fused (in place), at the
    config's test scale (get_flops.py's count)."""
    from mmvanilla.apis.config_checks import resize_scale
    from mmvanilla.models import switch_to_deploy
    from mmvanilla.tools.get_flops import count, without_onednn_plan
    shape = tuple(sorted(resize_scale(cfg)))
    switch_to_deploy(model)
    with without_onednn_plan():
        counted = count(model, shape)
    return dict(params_m=counted['detector_params_m'], gmac=counted['detector_gmac'],
                shape=list(shape))


def deploy_form(config: str, checkpoint: str, form: str, folder: str,
                calib_images: Optional[int]) -> None:
    """The artefact of ``tools/deploy.py`` (its output guard, its checks;
    its number of calibration images unless ``calib_images`` is given)."""
    _, precision, quantizer = FORMS[form]
    from mmvanilla.tools.deploy import main as deploy
    from mmvanilla.utils.console import stdout_to_log
    from mmengine.logging import MMLogger
    argv = [config, checkpoint, folder, '--precision', precision]
    if precision == 'int8':
        argv += ['--quantizer', quantizer]
        if calib_images is not None:
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


def row_figures(reports: List[dict], ann_file: Optional[str], images: List[str]) -> dict:
    """One row from its rounds: AP (one evaluation for every form; the first
    round's detections, as every round's are the same), latency percentiles over
    every round's images, the median of the other figures, the largest peak."""
    from mmvanilla.deploy.evaluation import runtime_results_ap
    first = reports[0]
    row = dict(rounds=len(reports), load_s=median(r['load_s'] for r in reports),
               cold_start_s=median(r['cold_start_s'] for r in reports),
               throughput_images_per_s=median(r['throughput_images_per_s'] for r in reports),
               peak_rss_mb=max(r['peak_rss_mb'] for r in reports))
    if 'peak_gpu_memory_mb' in first:
        row['peak_gpu_memory_mb'] = max(r['peak_gpu_memory_mb'] for r in reports)
    if ann_file:
        try:
            row['ap'] = runtime_results_ap(first['entries'], ann_file,
                                           [osp.basename(p) for p in images])
        except KeyError as e:  # a peer trained on other data
            row['ap_note'] = f'its class {e} is not in the test set\'s annotations: no AP'
    ms = np.array([t for r in reports for t in r['latency_s']]) * 1000
    return dict(row, latency_ms_p50=float(np.percentile(ms, 50)),
                latency_ms_p90=float(np.percentile(ms, 90)))


def table(rows: List[dict]) -> str:
    """The console table: one line per model, form and engine."""
    width = max(len(r['model']) for r in rows) + 2
    form_width = max(len(r['form']) for r in rows) + 2
    head = (f'{"model":<{width}}{"form":<{form_width}}{"engine":<12}{"bbox AP":>8}{"segm AP":>8}'
            f'{"p50 ms":>9}{"p90 ms":>9}{"img/s":>8}{"peak MB":>9}{"cold s":>8}')
    lines = [head, '-' * len(head)]
    for r in rows:
        start = f'{r["model"]:<{width}}{r["form"]:<{form_width}}{r.get("engine") or "-":<12}'
        if 'error' in r:
            lines.append(f'{start}not run: {r["error"]}')
            continue
        ap = r.get('ap', {})
        bbox, segm = ap.get('bbox'), ap.get('segm')
        lines.append(f'{start}{"-" if bbox is None else f"{bbox:.3f}":>8}'
                     f'{"-" if segm is None else f"{segm:.3f}":>8}'
                     f'{r["latency_ms_p50"]:>9.1f}{r["latency_ms_p90"]:>9.1f}'
                     f'{r["throughput_images_per_s"]:>8.1f}{r["peak_rss_mb"]:>9.0f}'
                     f'{r["cold_start_s"]:>8.1f}')
    return '\n'.join(lines)


def plot(rows: List[dict], title: str, path: str) -> None:
    """One bar per row that ran: latency p50 (p90 as its whisker), its AP beside it."""
    from matplotlib.figure import Figure

    from mmvanilla.utils.paths import atomic_output
    ran = [r for r in rows if 'error' not in r]
    fig = Figure(figsize=(6.4, 1.4 + 0.35 * len(ran)), dpi=100)
    ax = fig.subplots()
    for i, r in enumerate(ran):
        ax.barh(i, r['latency_ms_p50'], xerr=[[0], [r['latency_ms_p90'] - r['latency_ms_p50']]],
                color='tab:blue')
        ap = r.get('ap', {}).get('bbox')
        ax.text(r['latency_ms_p90'], i, '  AP ' + ('not measured' if ap is None else f'{ap:.3f}'),
                va='center', fontsize=8)
    ax.set_yticks(range(len(ran)), [label(r) for r in ran], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel('latency per image, batch 1, p50 and p90 (ms)')
    ax.set_xlim(0, max([r['latency_ms_p90'] for r in ran] + [1]) * 1.4)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format='png', bbox_inches='tight')  # (long titles and labels)


def label(row: dict) -> str:
    """A row's name on the plot."""
    return ' '.join([row['model'], row['form']] + ([row['engine']] if row.get('engine') else []))


def models_to_run(args: argparse.Namespace, cfg: Config, work: str
                  ) -> Tuple[List[Tuple[str, str, str, bool]], Dict[str, dict]]:
    """(label, config written for the forms, checkpoint, trained) of the model
    and of each --compare peer, and each one's :func:`model_size` (all counted
    at ``cfg``'s test scale, the size of the images they all run); a model
    without a checkpoint is timed with its initialised weights (written to a
    file: the deploy path takes one), no AP."""
    import torch

    from mmvanilla.apis.config import load_config
    from mmvanilla.apis.detector import build_detector
    models, sizes, labels = [], {}, set()
    peers = [(p.split('=', 1) + [None])[:2] for p in (args.compare or [])]
    for i, (path, checkpoint) in enumerate([(args.config, args.checkpoint)] + peers):
        name = osp.splitext(osp.basename(path))[0]
        name = name if name not in labels else f'{name}-{i}'
        labels.add(name)
        folder = osp.join(work, name)
        os.makedirs(folder, exist_ok=True)
        config = osp.join(folder, 'config.py')
        (cfg if i == 0 else load_config(path)).dump(config)
        trained = checkpoint is not None
        model, _, _ = build_detector(config, checkpoint)
        if not trained:
            checkpoint = osp.join(folder, 'initialised.pth')
            torch.save(dict(state_dict=model.state_dict(), meta=dict(initialised=True)),
                        checkpoint)
        models.append((name, config, checkpoint, trained))
        sizes[name] = model_size(model, cfg)  # (every model at the main config's scale)
    return models, sizes


def run(args: argparse.Namespace, argv: Optional[List[str]]) -> None:
    """The --formats mode of tools/benchmark.py (its arguments)."""
    from mmengine.utils import ProgressBar

    from mmvanilla.apis.config import command_line, load_config
    from mmvanilla.apis.deployment import ENGINES, engine_versions
    from mmvanilla.deploy.precision import EMULATED_BF16_ENV, NO_NATIVE_BF16, resolve_precision
    from mmvanilla.runtime import runtime_description
    from mmvanilla.utils.paths import atomic_output
    from mmvanilla_runtime.engines import check_precision_runs
    from mmvanilla_runtime.errors import RuntimeInputError
    forms, engines = parse_formats(args.formats), parse_engines(args.engines)
    if args.precision != 'fp32' or args.tf32 or args.no_fuse:
        raise ConfigError('--formats names each form itself (pytorch-bf16, int8, ...): drop '
                          '--precision, --tf32 and --no-fuse')
    if args.images is not None and args.images < 1 or args.batch < 1 or args.rounds < 1:
        raise ConfigError('--images, --batch and --rounds must be >= 1')
    cfg = load_config(args.config, args.cfg_options)
    work = args.work_dir or osp.join('work_dirs', 'benchmark',
                                     osp.splitext(osp.basename(args.config))[0])
    images, ann_file = test_images(cfg, args.images, work, timing_only=not args.checkpoint)
    models, sizes = models_to_run(args, cfg, work)
    jobs = [(m, f, e) for m in models for f in forms
            for e in (engines if FORMS[f][0] == 'artefact' else [None])]
    if not models[0][3]:
        print('note: no CHECKPOINT: initialised weights, timed without AP', flush=True)
    print(f'{len(jobs)} forms of {len(models)} model(s), {args.rounds} round(s), on '
          f'{len(images)} images of {ann_file or osp.dirname(images[0])}', flush=True)
    specs, reports = {}, {}
    deployed = {}  # artefact folder: None, or why its deploy failed
    bar = ProgressBar(len(jobs) * args.rounds)
    for round_ in range(args.rounds):  # every form once per round, in turn
        for (name, config, checkpoint, _), form, engine in jobs:
            key = (name, form, engine)
            kind, precision, _ = FORMS[form]
            if round_ == 0:
                spec = dict(row='-'.join(filter(None, key)), kind=kind, precision=precision,
                            engine=engine, images=images, batch=args.batch, config=config,
                            checkpoint=checkpoint, device='cpu' if engine else args.device)
                try:
                    if kind == 'torch':
                        if resolve_precision(precision, spec['device'], lambda _: None) \
                                != precision:  # (bf16 on a CPU without it: no fp32 in its row)
                            raise ConfigError(f'{NO_NATIVE_BF16} ({EMULATED_BF16_ENV}=1 '
                                              'times it anyway)')
                    else:
                        check_precision_runs(precision, engine)  # (before deploying for it)
                        spec['folder'] = osp.join(work, name, form)
                        if spec['folder'] not in deployed:  # (one artefact for every engine)
                            deployed[spec['folder']] = None
                            try:
                                deploy_form(config, checkpoint, form, spec['folder'],
                                            args.calib_images)
                            except Exception as e:  # noqa: BLE001 - each engine's row says why
                                deployed[spec['folder']] = e
                        if deployed[spec['folder']] is not None:
                            raise deployed[spec['folder']]
                    specs[key] = spec
                except (MMVanillaError, RuntimeInputError) as e:  # the row says why
                    reports[key] = [dict(error=str(e))]
                except Exception as e:  # noqa: BLE001 - e.g. an exporter's refusal: the row says why
                    reports[key] = [dict(error=describe(e))]
            if key in specs and 'error' not in reports.get(key, [{}])[-1]:
                reports.setdefault(key, []).append(run_form(specs[key], osp.dirname(
                    specs[key]['config'])))
            bar.update()
    print()
    rows = []
    for (name, config, checkpoint, trained), form, engine in jobs:
        done = reports[(name, form, engine)]
        row = dict(model=name, form=form, engine=engine, precision=FORMS[form][1])
        failed = next((r for r in done if 'error' in r), None)
        row.update(failed or row_figures(done, ann_file if trained else None, images))
        if ann_file is None:
            row['ap_note'] = 'no test set: generated images, no AP'
        elif not trained:
            row['ap_note'] = 'initialised weights: no AP'
        rows.append(row)
    print(table(rows))
    out = dict(config=args.config, checkpoint=args.checkpoint, images=len(images),
               ann_file=ann_file, batch=args.batch, rounds=args.rounds, device=args.device,
               model=sizes[models[0][0]], models={m[0]: dict(sizes[m[0]], config=m[1],
                                                            checkpoint=m[2], trained=m[3])
                                                  for m in models},
               rows=rows, runtime=runtime_description(),
               engines=engine_versions(required=False, names=ENGINES[1:]),
               command=command_line('benchmark', argv))
    with atomic_output(args.out) as tmp, open(tmp, 'w') as f:
        json.dump(out, f, indent=2)
    print(f'wrote {args.out}')
    if args.plot:
        plot(rows, f'{osp.basename(args.config)}: {len(images)} images, batch 1', args.plot)
        print(f'wrote {args.plot}')

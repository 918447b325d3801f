"""GPU evidence in one run, written to one JSON: mmcv's CUDA ops are built in
the background while the backbone is timed; then the detectors' FPS and the
cost of a training step.

    bash benchmarks/gpu_evidence.sh --out OUT.json     on a bare GPU machine (see there)
    python benchmarks/gpu_evidence.py --dry-run --out OUT.json   here, on the CPU

Phases; a row that cannot run records why, and the run goes on:

1. build: mmcv 2.1.0 from source with CUDA ops for this GPU's architecture
   alone, ``MAX_JOBS`` = cores - 2, in the background (the plan, C++ standard
   and nvcc check are tools/setup_plan.py's); then its ``check`` runs nms
   and roi_align on the GPU.
2. backbone, meanwhile: VN-13 at 1280x800, batch 1, unfused and fused,
   rounds interleaved: fp32 with TF32 off, TF32, bf16 (weights cast);
   with the fused form's largest relative difference from the unfused.
3. detectors: tools/benchmark.py (the whole ``test_step``) for VN-13
   RetinaNet and Mask R-CNN, fused and unfused (--compare), and mmdet's
   ResNet-50 RetinaNet, in fp32 (TF32 off), TF32 and bf16.
4. train: benchmarks/train_step_cost.py, VN-13 RetinaNet and Mask R-CNN
   with and without ``with_cp``: seconds per step, peak CUDA memory.

``--dry-run`` runs every phase but the build on the CPU with a tiny arch at
96x64 (the venv's mmcv instead of a build; one training case): the test of
everything here that needs no GPU.
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import signal
import statistics
import subprocess
import sys
import time
import warnings
from typing import Dict, List, Optional

import torch

from mmvanilla.utils.errors import describe  # (a row's reason: one line)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DETECTORS = {
    'vn13_retinanet': 'configs/retinanet_vanillanet13.py',
    'vn13_mask_rcnn': 'configs/mask_rcnn_vanillanet13.py',
    'r50_retinanet': 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
}
#: benchmark.py's options per number format (fp32 is fp32: TF32 off)
MATH = {'fp32': [], 'tf32': ['--tf32'], 'bf16': ['--precision', 'bf16']}
#: what matters most first, should the budget run out: fp32 and bf16 detectors,
#: then the training steps, then the TF32 detectors
ORDER = [(d, m) for m in ('fp32', 'bf16') for d in DETECTORS]
LATER = [(d, 'tf32') for d in DETECTORS]
#: every model at the VN configs' test scale (mmdet's ResNet-50 config resizes to 1333x800)
SCALE_1280 = 'test_dataloader.dataset.pipeline.1.scale=(1280,800)'
TRAIN_CASES = ('vn13_retinanet', 'vn13_mask_rcnn')
#: the dry run's tiny VanillaNet and heads (stem stride 4, three stages)
TINY_DIMS = [16, 32, 64, 128]
DRY_SCALE = (96, 64)


def resolve(path: str) -> str:
    """A config path of this repository, wherever the script runs from
    (``mmdet::...`` paths as they are: the tools' load_config reads them)."""
    return path if path.startswith('mmdet::') else osp.join(REPO, path)


def dry_options(name: str) -> List[str]:
    """--cfg-options for the dry run: a tiny model at 96x64."""
    scale = f'test_dataloader.dataset.pipeline.1.scale=({DRY_SCALE[0]},{DRY_SCALE[1]})'
    if name.startswith('r50'):
        return [scale, 'model.backbone.depth=18', 'model.backbone.init_cfg=None',
                'model.neck.in_channels=[64,128,256,512]']
    dims = ','.join(map(str, TINY_DIMS))
    neck = ','.join(map(str, TINY_DIMS[1:]))
    opts = [scale, 'model.backbone.arch._delete_=True', f'model.backbone.arch.dims=[{dims}]',
            'model.backbone.arch.strides=[2,2,2]', 'model.backbone.out_indices=[0,1,2]',
            'model.backbone.init_cfg=None', f'model.neck.in_channels=[{neck}]']
    return opts


def elapsed(since: float) -> float:
    """Seconds since ``since`` (time.time()), to 0.1 s."""
    return round(time.time() - since, 1)


def last_line(text: str, default: str = 'no output') -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else default


def gpu_facts(device: str) -> dict:
    """Python, torch, its CUDA, the GPU and the cores: what the figures ran on."""
    facts = dict(python=platform.python_version(), torch=torch.__version__,
                 torch_cuda=torch.version.cuda, device=device, cpu_cores=os.cpu_count())
    if device.startswith('cuda'):
        facts.update(gpu=torch.cuda.get_device_name(0),
                     capability='%d.%d' % torch.cuda.get_device_capability(0))
    return facts


# --- 1. build -------------------------------------------------------------------------

def build_plan(archs: str) -> Dict[str, str]:
    """tools/setup_plan.py's plan for CUDA ops on ``archs`` (KEY=value lines)."""
    env = dict(os.environ, FORCE_CUDA='1', TORCH_CUDA_ARCH_LIST=archs)
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'setup_plan.py'), 'plan'],
                          capture_output=True, text=True, env=env)
    if proc.returncode:
        return dict(BUILD_PROBLEM=last_line(proc.stderr))
    return dict(line.split('=', 1) for line in proc.stdout.splitlines() if '=' in line)


def start_build(src: str, build_site: str, plan: Dict[str, str], log: str,
                jobs: int) -> subprocess.Popen:
    """mmcv's ops built in place in ``src`` (``mmcv/_ext*.so``), in the
    background, with setup_env.sh's rule for the C++ standard."""
    setup = osp.join(src, 'setup.py')
    text = open(setup).read()
    with open(setup, 'w') as f:  # mmcv 2.1.0 asks for C++17; torch's headers decide
        f.write(text.replace('-std=c++17', f'-std={plan["CXX_STD"]}'))
    env = dict(os.environ, MMCV_WITH_OPS='1', FORCE_CUDA='1', MAX_JOBS=str(jobs),
               TORCH_CUDA_ARCH_LIST=plan['ARCHS'],
               PYTHONPATH=os.pathsep.join([build_site, os.environ.get('PYTHONPATH', '')]))
    # a session of its own: stopping it at the budget stops ninja and nvcc too
    return subprocess.Popen([sys.executable, 'setup.py', 'build_ext', '--inplace'], cwd=src,
                            env=env, stdout=open(log, 'w'), stderr=subprocess.STDOUT,
                            start_new_session=True)


def ops_check() -> dict:
    """tools/setup_plan.py check: nms and roi_align on every device planned."""
    env = dict(os.environ, FORCE_CUDA='1' if torch.cuda.is_available() else '0')
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'setup_plan.py'), 'check'],
                          capture_output=True, text=True, env=env)
    return dict(ok=proc.returncode == 0, said=(proc.stdout + proc.stderr).strip()[-500:])


# --- 2. backbone ----------------------------------------------------------------------

def time_backbone(config: str, device: str, shape, rounds: int, warmup: int,
                  dry: bool) -> List[dict]:
    """Unfused and fused backbone of ``config``, interleaved, per number format."""
    from mmengine.config import Config

    from mmvanilla.models import VanillaNet, switch_to_deploy
    from mmvanilla.utils.numerics import max_rel_err
    from mmvanilla.utils.timing import cuda_fp32_math, time_calls
    cfg = Config.fromfile(resolve(config), import_custom_modules=False)
    kwargs = {k: v for k, v in cfg.model.backbone.items() if k != 'type'}
    kwargs['init_cfg'] = None
    if dry:
        kwargs.update(arch=dict(dims=TINY_DIMS, strides=[2, 2, 2]), out_indices=(0, 1, 2))
    torch.manual_seed(0)
    nets = {'unfused': VanillaNet(**kwargs).eval().to(device)}
    nets['fused'] = copy.deepcopy(nets['unfused'])
    switch_to_deploy(nets['fused'])
    image = torch.randn(1, 3, *shape, device=device)
    rows = []
    for math in ('fp32', 'tf32', 'bf16'):
        dtype = torch.bfloat16 if math == 'bf16' else torch.float32
        models = {form: copy.deepcopy(net).to(dtype) if dtype != torch.float32 else net
                  for form, net in nets.items()}
        x = image.to(dtype)
        runs = {form: (lambda m=m: m(x)) for form, m in models.items()}
        with cuda_fp32_math(math == 'tf32'):
            times, outputs = time_calls(runs, rounds, warmup, device)
        last = {form: out[-1].float() for form, out in outputs.items()}
        diff = max_rel_err([last['fused']], [last['unfused']])
        for form in models:
            ms = statistics.median(times[form]) * 1000
            rows.append(dict(form=form, math=math, median_ms=ms, fps=1000 / ms,
                             times_s=times[form], fused_vs_unfused_max_rel_diff=diff))
            print(f'[backbone] {form:>7} {math}: {ms:8.2f} ms', flush=True)
    return rows


# --- 3. detectors ---------------------------------------------------------------------

def time_detector(name: str, math: str, device: str, out_dir: str, warmup: int, iters: int,
                  dry: bool) -> dict:
    """tools/benchmark.py --compare, in-process: the figures of its JSON."""
    from mmvanilla.tools.benchmark import main as benchmark
    out = osp.join(out_dir, f'benchmark_{name}_{math}.json')
    forms = '--compare' if name.startswith('vn') else '--no-fuse'  # (a ResNet has no fused form)
    argv = [resolve(DETECTORS[name]), forms, '--device', device, '--warmup', str(warmup),
            '--iters', str(iters), '--out', out, *MATH[math]]
    argv += ['--cfg-options', *(dry_options(name) if dry else [SCALE_1280])]
    benchmark(argv)
    report = json.load(open(out))
    keep = ('fps_median', 'latency_ms_p50', 'latency_ms_p90', 'backbone_ms_median',
            'peak_gpu_memory_mb', 'params_m', 'detections_per_image_mean')
    forms = {form: dict({k: r[k] for k in keep if k in r}, precision=r['precision']['precision'])
             for form, r in report['results'].items()}
    return dict(detector=name, config=DETECTORS[name], math=math, forms=forms,
                fused_speedup=report.get('fused_speedup'), cuda_tf32=report['cuda_tf32'],
                input_shape=report['input_shape'], images=report['images'])


# --- 4. train -------------------------------------------------------------------------

def train_steps(case: str, out_dir: str, steps: int, dry: bool, timeout: float) -> List[dict]:
    """benchmarks/train_step_cost.py for one case (with and without with_cp)."""
    out = osp.join(out_dir, f'train_{case}.json')
    cmd = [sys.executable, osp.join(REPO, 'benchmarks', 'train_step_cost.py'), '--cases', case,
           '--steps', str(steps), '--out', out]
    if dry:
        cmd += ['--batch', '1', '--size', str(DRY_SCALE[1]), str(DRY_SCALE[0]),
                '--cfg-options', *dry_options(case)[1:]]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=timeout)
    if proc.returncode or not osp.isfile(out):
        raise RuntimeError(last_line(proc.stdout + proc.stderr, 'failed'))
    results = json.load(open(out))['results']
    if len(results) != 2:  # train_step_cost prints a failed case and goes on
        raise RuntimeError(proc.stdout.strip()[-300:])
    return results


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default='gpu_evidence.json')
    parser.add_argument('--dry-run', action='store_true',
                        help='on the CPU with a tiny arch at 96x64, no build (the venv\'s mmcv)')
    parser.add_argument('--mmcv-src', help='mmcv 2.1.0\'s unpacked source, built in place')
    parser.add_argument('--build-site', default='',
                        help='a folder with the setuptools mmcv\'s setup.py needs')
    parser.add_argument('--budget', type=float, default=540,
                        help='seconds for the whole run; rows past it say so')
    parser.add_argument('--started-at', type=float,
                        help='when the run began (time.time(); default: now)')
    args = parser.parse_args(argv)
    warnings.filterwarnings('ignore', 'pkg_resources is deprecated')  # mmengine's import
    start = args.started_at or time.time()
    deadline = start + args.budget
    device = 'cpu' if args.dry_run else 'cuda'
    if not args.dry_run and not args.mmcv_src:
        print('error: --mmcv-src is needed without --dry-run (benchmarks/gpu_evidence.sh '
              'passes it)', file=sys.stderr)
        return 2
    if device == 'cuda' and not torch.cuda.is_available():
        print('error: no GPU visible to torch: run on a GPU machine, or --dry-run here',
              file=sys.stderr)
        return 2
    work = osp.join(osp.dirname(osp.abspath(args.out)), 'gpu_evidence_parts')
    os.makedirs(work, exist_ok=True)
    report = dict(environment=gpu_facts(device), dry_run=args.dry_run,
                  command=' '.join(['python', 'benchmarks/gpu_evidence.py', *(argv or sys.argv[1:])]),
                  phases={})

    def save():
        report['total_s'] = elapsed(start)
        with open(args.out + '.tmp', 'w') as f:
            json.dump(report, f, indent=2)
        os.replace(args.out + '.tmp', args.out)

    # 1. build, in the background
    archs = os.environ.get('TORCH_CUDA_ARCH_LIST') or (
        '9.0' if args.dry_run else report['environment']['capability'])
    plan = build_plan(archs)
    jobs = max(1, (os.cpu_count() or 2) - 2)
    build = dict(archs=archs, plan={k: plan.get(k, '') for k in
                                    ('OPS', 'ARCHS', 'CXX_STD', 'NVCC', 'KEY', 'BUILD_PROBLEM')},
                 max_jobs=jobs)
    report['build'] = build
    proc = None
    if args.dry_run:
        build['skipped'] = 'dry run: the venv\'s mmcv'
    elif plan.get('BUILD_PROBLEM'):
        build['error'] = plan['BUILD_PROBLEM']
    else:
        build['log'] = osp.join(work, 'mmcv_build.log')
        proc = start_build(args.mmcv_src, args.build_site, plan, build['log'], jobs)
    save()

    # 2. backbone, meanwhile
    t = time.time()
    shape = (DRY_SCALE[1], DRY_SCALE[0]) if args.dry_run else (800, 1280)
    try:
        report['backbone'] = dict(config=DETECTORS['vn13_retinanet'], shape=list(shape),
                                  during_build=proc is not None,
                                  rows=time_backbone(DETECTORS['vn13_retinanet'], device, shape,
                                                     rounds=2 if args.dry_run else 30,
                                                     warmup=1 if args.dry_run else 5,
                                                     dry=args.dry_run))
    except Exception as e:  # noqa: BLE001 - a row says why, the run goes on
        report['backbone'] = dict(error=describe(e))
    report['phases']['backbone_s'] = elapsed(t)
    save()

    if proc is not None:  # leave a third of the budget for the detectors and training
        limit = max(0.0, deadline - time.time() - args.budget / 3)
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # setup.py, ninja and every nvcc
            proc.wait()
            build['stopped'] = f'not done {limit:.0f} s into the budget'
        build['seconds'] = elapsed(start)
        build['returncode'] = proc.returncode
        build['log_tail'] = open(build['log']).read()[-2000:]
    build['ops_check'] = ops_check()
    report['phases']['build_s'] = elapsed(start)
    save()

    # 3. detectors, 4. train
    from mmvanilla.utils.console import quiet_console
    quiet_console()  # (mmengine's initialisation dumps, as the tools keep them out)
    rows = report['detectors'] = []
    train = report['train'] = []

    def detectors(order):
        for name, math in order:
            if math == 'tf32' and args.dry_run:
                continue  # TF32 is a CUDA setting
            if not build['ops_check']['ok']:
                rows.append(dict(detector=name, math=math, error='mmcv\'s ops do not run '
                                 'here: ' + last_line(build['ops_check']['said'])))
            elif time.time() > deadline - 60:
                rows.append(dict(detector=name, math=math, error='not run: the budget was spent'))
            else:
                t = time.time()
                try:
                    rows.append(time_detector(name, math, device, work, warmup=0 if args.dry_run
                                              else 5, iters=1 if args.dry_run else 20,
                                              dry=args.dry_run))
                except (Exception, SystemExit) as e:  # noqa: BLE001 - the row says why
                    rows.append(dict(detector=name, math=math, error=describe(e)))
                rows[-1]['seconds'] = elapsed(t)
            save()

    detectors(ORDER)
    for case in TRAIN_CASES[:1] if args.dry_run else TRAIN_CASES:
        left = deadline - time.time()
        if left < 30:
            train.append(dict(case=case, error='not run: the budget was spent'))
            continue
        try:
            train.extend(train_steps(case, work, steps=1 if args.dry_run else 3,
                                     dry=args.dry_run, timeout=left))
        except Exception as e:  # noqa: BLE001 - the row says why
            train.append(dict(case=case, error=describe(e)))
        save()
    detectors(LATER)
    save()
    failed = [r for r in rows + train if 'error' in r]
    print(f'wrote {args.out} in {report["total_s"]:.0f} s ({len(failed)} rows with errors)')
    return 0


if __name__ == '__main__':
    sys.exit(main())

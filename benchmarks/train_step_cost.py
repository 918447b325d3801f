"""Training cost: one training step (forward, backward, optimizer) per model.

    python benchmarks/train_step_cost.py --out train_step_cost.json

For VN-11 and VN-13 RetinaNet and Mask R-CNN (this project's configs, with and
without ``with_cp``) beside mmdet's ResNet-50 and Swin-T RetinaNet: batch 2 at
1280x800 (the configs' training size), synthetic images with 8 boxes (and masks)
each, the config's optimizer (AdamW with layer decay for VanillaNet, mmdet's own
for the baselines). Each case runs in a process of its own, so its peak memory
is its own: the process's peak resident size on CPU (``ru_maxrss``, imports
included; ``rss_before_step_mb`` is what the model, optimizer and batch hold
before the first step), CUDA's peak-memory counter on a GPU. Times: median of
``--steps`` steps after one warm-up step. No pretrained weights are loaded.
"""
import argparse
import json
import os.path as osp
import resource
import statistics
import subprocess
import sys
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: case -> config (VanillaNet cases run with and without with_cp)
CASES: Dict[str, str] = {
    'vn11_retinanet': 'configs/retinanet_vanillanet11.py',
    'vn13_retinanet': 'configs/retinanet_vanillanet13.py',
    'vn11_mask_rcnn': 'configs/mask_rcnn_vanillanet11.py',
    'vn13_mask_rcnn': 'configs/mask_rcnn_vanillanet13.py',
    'r50_retinanet': 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    'swin_t_retinanet': 'mmdet::swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py',
}
WITH_CP_CASES = ('vn11_retinanet', 'vn13_retinanet', 'vn11_mask_rcnn', 'vn13_mask_rcnn')


def synthetic_batch(batch: int, height: int, width: int, masks: bool, seed: int = 0) -> dict:
    """``batch`` random images with 8 random boxes each (masks: the boxes filled)."""
    import torch
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=gen))
        xy = torch.rand(8, 2, generator=gen) * torch.tensor([width * 0.7, height * 0.7])
        wh = 32 + torch.rand(8, 2, generator=gen) * torch.tensor([width * 0.25, height * 0.25])
        boxes = torch.cat([xy, xy + wh], dim=1)
        instances = InstanceData(bboxes=boxes, labels=torch.randint(0, 80, (8,), generator=gen))
        if masks:
            bitmaps = torch.zeros(8, height, width, dtype=torch.uint8)
            for m, (x1, y1, x2, y2) in zip(bitmaps, boxes.long().tolist()):
                m[y1:y2, x1:x2] = 1
            instances.masks = BitmapMasks(bitmaps.numpy(), height, width)
        shape = (height, width)
        samples.append(DetDataSample(gt_instances=instances, metainfo=dict(
            img_shape=shape, ori_shape=shape, pad_shape=shape, scale_factor=(1.0, 1.0),
            batch_input_shape=shape)))
    return dict(inputs=inputs, data_samples=samples)


def child(args: argparse.Namespace) -> None:
    """One case, in this process; prints its figures as one JSON line."""
    import torch
    from mmdet.registry import MODELS
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope

    from mmvanilla.apis import load_config
    from mmvanilla.utils.timing import cuda_device, cuda_fp32_math, timed
    from mmvanilla.utils.console import quiet_console
    quiet_console()
    path = CASES[args.child]
    cfg = load_config(path, args.cfg_options)  # (run from the repository: run_case)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    cfg.model.backbone.init_cfg = None  # no downloads, no ImageNet files: the cost only
    if args.with_cp:
        cfg.model.backbone.with_cp = True
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model = model.to(device).train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    data = synthetic_batch(args.batch, *args.size, masks=hasattr(model, 'roi_head')
                           and getattr(model.roi_head, 'with_mask', False))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu = cuda_device(device)
    times: List[float] = []
    with cuda_fp32_math(False):  # fp32 is fp32 on CUDA (PyTorch's convs default to TF32)
        for i in range(args.steps + 1):  # the first is the warm-up
            seconds, losses = timed(lambda: model.train_step(data, optim_wrapper), gpu)
            if i:
                times.append(seconds)
    result = dict(case=args.child, config=path, with_cp=bool(args.with_cp), device=device,
                  cuda_tf32=False if gpu is not None else None,
                  batch=args.batch, size=list(args.size), steps=args.steps,
                  step_s_median=statistics.median(times), step_s=times,
                  loss=float(losses['loss']) if 'loss' in losses else None,
                  params_m=sum(p.numel() for p in model.parameters()) / 1e6,
                  rss_before_step_mb=rss_before,
                  peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if gpu is not None:
        result['peak_cuda_mb'] = torch.cuda.max_memory_allocated(gpu) / 2**20
    print(json.dumps(result))


def run_case(name: str, with_cp: bool, args: argparse.Namespace) -> Optional[dict]:
    cmd = [sys.executable, osp.abspath(__file__), '--child', name, '--batch', str(args.batch),
           '--size', *map(str, args.size), '--steps', str(args.steps)]
    cmd += ['--with-cp'] if with_cp else []
    cmd += ['--cfg-options', *args.cfg_options_raw] if args.cfg_options_raw else []
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if proc.returncode:
        print(f'{name}{" with_cp" if with_cp else ""}: failed\n{proc.stderr[-2000:]}')
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: Optional[List[str]] = None) -> None:
    from mmvanilla.utils.cfg_options import CfgOptionsAction
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--cases', nargs='+', choices=list(CASES), default=list(CASES))
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--size', type=int, nargs=2, default=[800, 1280], metavar=('H', 'W'))
    parser.add_argument('--steps', type=int, default=1, help='timed steps after one warm-up')
    parser.add_argument('--out', default='train_step_cost.json')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction, default=None,
                        help='applied to every case (e.g. a tiny arch for a smoke run)')
    parser.add_argument('--child', choices=list(CASES), help=argparse.SUPPRESS)
    parser.add_argument('--with-cp', action='store_true', help=argparse.SUPPRESS)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    args.cfg_options_raw = argv[argv.index('--cfg-options') + 1:] \
        if '--cfg-options' in argv else []
    results = []
    for name in args.cases:
        for with_cp in ((False, True) if name in WITH_CP_CASES else (False,)):
            result = run_case(name, with_cp, args)
            if result:
                results.append(result)
                memory = result.get('peak_cuda_mb', result['peak_rss_mb'])
                print(f'{name:<18} with_cp={with_cp!s:<5}  step {result["step_s_median"]:7.2f} s  '
                      f'peak {memory / 1024:6.2f} GB  ({result["params_m"]:.1f} M params)',
                      flush=True)
    from mmvanilla.runtime import runtime_description
    with open(args.out, 'w') as f:
        json.dump(dict(results=results, runtime=runtime_description(),
                       command=' '.join(['python', 'benchmarks/train_step_cost.py', *argv])),
                  f, indent=2)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()

"""FLOPs and parameters of a detector and its backbone, fused and unfused.

    python tools/get_flops.py CONFIG [--shape 800 1280]

Convention: the paper's COCO table counts multiply-accumulates (MACs, "FLOPs"
in mmcv/fvcore usage) of the fused (deploy) form at 1280x800. Counted with
torch.utils.flop_counter (2 FLOPs per MAC, halved here) over the network's
forward: convolutions and matmuls; element-wise ops, pooling and
post-processing are not counted. For two-stage detectors the RoI heads run on
the RPN's proposals of the random-weight model (up to 1000).

The activations' depthwise convs are also shown apart: the official code runs
them through F.conv2d inside an nn.ReLU subclass, which counters that hook
nn.Conv2d modules (mmcv's) do not see; without them the VN-13 totals match the
paper's table (see docs/benchmarks.md).
"""
import contextlib
import json
import os
from typing import List, Optional

import torch
from torch.utils.flop_counter import FlopCounterMode

from mmvanilla.apis.config import command_line, model_tool_parser, positive_int
from mmvanilla.apis.detector import build_detector, fused_copy, raw_outputs
from mmvanilla.utils.paths import atomic_output, check_outputs, writable_file


@contextlib.contextmanager
def without_onednn_plan():
    """``MMVANILLA_ONEDNN=0`` for the block only: the counter sees nn.Conv2d."""
    saved = os.environ.get('MMVANILLA_ONEDNN')
    os.environ['MMVANILLA_ONEDNN'] = '0'
    try:
        yield
    finally:
        if saved is None:
            del os.environ['MMVANILLA_ONEDNN']
        else:
            os.environ['MMVANILLA_ONEDNN'] = saved


def gmacs(fn) -> float:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 2 / 1e9


def params_m(module: torch.nn.Module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


def activation_gmac(backbone, x) -> float:
    """MACs of the series activations' depthwise convs (functional conv2d)."""
    from mmvanilla.models.layers import SeriesActivation
    total = []
    hooks = [m.register_forward_hook(
        lambda m, i, o: total.append(o.numel() * m.weight[0].numel()))
        for m in backbone.modules() if isinstance(m, SeriesActivation)]
    with torch.no_grad():
        backbone(x)
    for h in hooks:
        h.remove()
    return sum(total) / 1e9


def count(model, shape) -> dict:
    x = torch.randn(1, 3, *shape)
    return dict(detector_gmac=gmacs(lambda: raw_outputs(model, x)),
                backbone_gmac=gmacs(lambda: model.backbone(x)),
                activation_dw_gmac=activation_gmac(model.backbone, x),
                detector_params_m=params_m(model), backbone_params_m=params_m(model.backbone))


def main(argv: Optional[List[str]] = None) -> None:
    parser = model_tool_parser(__doc__)
    parser.add_argument('config')
    parser.add_argument('--shape', type=positive_int, nargs=2, default=[800, 1280], metavar=('H', 'W'))
    parser.add_argument('--out', help='also write the figures as JSON')
    args = parser.parse_args(argv)
    if args.out:
        check_outputs({'--out': args.out}, [args.config], kind='.json')
        writable_file(args.out, '--out')
    model, _, _ = build_detector(args.config, cfg_options=args.cfg_options)
    with without_onednn_plan():  # count on the nn.Conv2d path
        unfused = count(model, args.shape)
        fused = count(fused_copy(model), args.shape)
    result = dict(config=args.config, input=[1, 3, *args.shape],
                  convention='MACs (multiply-accumulates) of convs and matmuls',
                  fused=fused, unfused=unfused, command=command_line('get_flops', argv))
    print(f'{args.config} at 1x3x{args.shape[0]}x{args.shape[1]} (GMAC = 1e9 multiply-accumulates)')
    print(f'{"":>8} {"detector GMAC":>13} {"params M":>9} {"backbone GMAC":>14} '
          f'{"params M":>9} {"activation dw GMAC":>19} {"detector w/o act dw":>20}')
    for name, r in (('fused', fused), ('unfused', unfused)):
        print(f'{name:>8} {r["detector_gmac"]:>13.1f} {r["detector_params_m"]:>9.2f} '
              f'{r["backbone_gmac"]:>14.1f} {r["backbone_params_m"]:>9.2f} '
              f'{r["activation_dw_gmac"]:>19.1f} '
              f'{r["detector_gmac"] - r["activation_dw_gmac"]:>20.1f}')
    if args.out:
        with atomic_output(args.out) as tmp, open(tmp, 'w') as f:
            json.dump(result, f, indent=2)


"""Export the fused backbone (or the detector's network) to ONNX and verify it.

    python tools/export_onnx.py CONFIG OUT.onnx [--checkpoint CKPT] [--backbone-only]

The detector export covers everything up to post-processing (for RetinaNet,
the per-level class scores and box deltas); NMS stays in Python. Batch,
height and width are dynamic. The exported model is checked with onnxruntime
against PyTorch at the export shape (batch 1) and at a second shape (batch 2):
max relative error <= 1e-4. Two-stage detectors: use --backbone-only.
"""
import json
from typing import List, Optional

import torch

from mmvanilla.apis.config import model_tool_parser
from mmvanilla.apis.detector import build_detector, max_rel_err
from mmvanilla.deploy import DetectorNetwork
from mmvanilla.deploy.onnx_export import export_onnx
from mmvanilla.models import switch_to_deploy
from mmvanilla.utils.errors import ConfigError
from mmvanilla.utils.paths import atomic_output, check_outputs, writable_file

TOLERANCE = 1e-4


def main(argv: Optional[List[str]] = None) -> None:
    parser = model_tool_parser(__doc__)
    parser.add_argument('config')
    parser.add_argument('out')
    parser.add_argument('--checkpoint')
    parser.add_argument('--backbone-only', action='store_true')
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1280], metavar=('H', 'W'))
    parser.add_argument('--check-shape', type=int, nargs=2, default=[640, 960], metavar=('H', 'W'))
    parser.add_argument('--opset', type=int, default=17)
    args = parser.parse_args(argv)
    check_outputs({'ONNX output': args.out}, [args.config, args.checkpoint], kind='.onnx')
    writable_file(args.out, 'ONNX output')
    try:
        import onnxruntime as ort
    except ImportError:
        raise ConfigError('onnxruntime is not installed: pip install -e ".[onnx]"') from None
    model, _, _ = build_detector(args.config, args.checkpoint, args.cfg_options)
    if not args.backbone_only and hasattr(model, 'roi_head'):
        raise ConfigError(
            'two-stage detectors run NMS and RoIAlign (mmcv ops) inside their '
            'network, which ONNX export does not cover here: use --backbone-only')
    if not args.checkpoint:
        print('note: no --checkpoint: exporting initialized (untrained) weights')
    switch_to_deploy(model)
    net = model.backbone if args.backbone_only else DetectorNetwork(model)
    net.eval()
    # Written beside OUT and renamed onto it once checked: a failed export or
    # check (or a full disk) leaves what was at OUT before.
    with atomic_output(args.out) as staged:
        export_onnx(net, torch.randn(1, 3, *args.shape), staged, args.opset)
        session = ort.InferenceSession(staged, providers=['CPUExecutionProvider'])
        errors = {}
        for batch, shape in ((1, args.shape), (2, args.check_shape)):
            sample = torch.randn(batch, 3, *shape)
            with torch.no_grad():
                expected = list(net(sample))
            got = session.run(None, {'input': sample.numpy()})
            errors[f'{batch}x3x' + 'x'.join(map(str, shape))] = max_rel_err(
                [torch.from_numpy(g) for g in got], expected)
        worst = max(errors.values())
        report = dict(onnx=args.out, backbone_only=args.backbone_only, opset=args.opset,
                      max_rel_err=errors, tolerance=TOLERANCE, ok=worst <= TOLERANCE)
        print(json.dumps(report, indent=2))
        if not worst <= TOLERANCE:
            raise ConfigError(f'onnxruntime differs from PyTorch by {worst:.2e} > '
                              f'{TOLERANCE:g}; {args.out!r} not written')


"""Deploy a trained detector as one end-to-end model file and a JSON
description, which mmvanilla_runtime runs without PyTorch or OpenMMLab.

    python tools/deploy.py CONFIG CHECKPOINT OUT_DIR [--precision fp32|bf16|int8]
    python tools/deploy.py CONFIG CHECKPOINT OUT_DIR --graph network|backbone

Fuses the detector and exports one ONNX graph in standard operators: network,
anchors or RPN, box decoding, per-class NMS with the config's test settings,
and for Mask R-CNN RoIAlign, the box and mask heads (masks at box resolution).
Batch, height and width are dynamic. int8 calibrates the network on
--calib-images training images (as tools/quantize.py) with --quantizer:
ONNX Runtime's static quantization (default), or NNCF's PERFORMANCE (nncf) or
MIXED (nncf-mixed) preset. Writes to OUT_DIR:
  model.onnx      the end-to-end model (INT8 QDQ for int8)
  pipeline.json   pre-processing (resize, mean/std, padding), classes, outputs
  deploy.json     what was deployed from what, with which versions
then, on any machine with mmvanilla_runtime/requirements.txt installed:
    python -m mmvanilla_runtime OUT_DIR IMAGE_OR_FOLDER... --out results.json
bf16 artefacts are the fp32 graph run by OpenVINO in bf16 (CPUs with
avx512_bf16 or AMX).

--graph network writes only the fused network, up to post-processing (for
RetinaNet the per-level class scores and box deltas: NMS stays with the
caller), and --graph backbone the fused backbone's stage outputs, as
OUT_DIR/network.onnx or OUT_DIR/backbone.onnx (fp32, one input named
``input``, batch, height and width dynamic) beside network.json or
backbone.json (what was exported, how it was checked). ONNX Runtime
checks each against PyTorch at --shape (default: the config's test size) and
at batch 2: nothing is written above 1e-4 relative error.
"""
import argparse
import json
import os.path as osp
from typing import List, Optional

from mmvanilla.apis.config import command_line, model_tool_parser, positive_int
from mmvanilla.apis.config_checks import padded_test_shape
from mmvanilla.apis.deployment import (ENGINES, NETWORK_TOLERANCE, add_calibration_arg,
                                       engine_versions, export_network_checked, prepare)
from mmvanilla.apis.detector import build_detector
from mmvanilla.deploy.artefact import ARTEFACT_FILES, write_artefact
from mmvanilla.deploy.precision import TABLE
from mmvanilla.models import switch_to_deploy
from mmvanilla.runtime import runtime_description
from mmvanilla.utils.paths import check_folder_outputs, creatable_dir, staged_folder

PRECISIONS = tuple(name for name, row in TABLE.items() if row.artefact)
GRAPHS = ('end-to-end', 'network', 'backbone')
REPORT = 'deploy.json'


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = model_tool_parser(__doc__)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out_dir')
    parser.add_argument('--precision', choices=PRECISIONS, default='fp32')
    parser.add_argument('--graph', choices=GRAPHS, default=GRAPHS[0],
                        help='what to export (default: the end-to-end artefact)')
    parser.add_argument('--shape', type=positive_int, nargs=2, metavar=('H', 'W'),
                        help='--graph network|backbone: the traced size (default: the '
                        'config\'s test size, padded to 32)')
    add_calibration_arg(parser)
    args = parser.parse_args(argv)
    if args.precision != 'int8':
        if args.quantizer != 'onnxruntime':
            parser.error(f'--quantizer {args.quantizer} is for --precision int8')
        if args.calib_images is not None:
            parser.error('--calib-images is for --precision int8 (the other forms calibrate '
                         'nothing)')
    if args.graph != 'end-to-end' and args.precision != 'fp32':
        parser.error(f'--graph {args.graph} writes an fp32 graph; --precision '
                     f'{args.precision} is for the end-to-end artefact (the default --graph)')
    if args.shape and args.graph == 'end-to-end':
        parser.error('--shape is for --graph network|backbone; the end-to-end artefact '
                     'takes any size')
    return args


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if args.graph != 'end-to-end':
        return write_network(args, argv)
    creatable_dir(args.out_dir, 'output folder')
    names = (REPORT,) + ARTEFACT_FILES  # (pipeline.json last: staged_folder)
    check_folder_outputs(args.out_dir, names, [args.config, args.checkpoint],
                         into_artefact=True)
    model, cfg, meta, example, calibration = prepare(args, args.precision)
    versions = engine_versions(required=False, names=ENGINES)  # (int8 needed them: prepare)
    if calibration:
        print(f'calibrating on {len(calibration)} training images ...', flush=True)
    with staged_folder(args.out_dir, names) as stage:
        producer = dict(config=args.config, checkpoint=args.checkpoint,
                        command=command_line('deploy', argv))
        description = write_artefact(model, cfg, stage, args.precision, example, calibration,
                                     producer, args.quantizer)
        report = dict(description, runtime=runtime_description(),
                      versions=versions,
                      calibration_images=len(calibration) if calibration else None,
                      checkpoint_meta={k: v for k, v in meta.items()
                                       if isinstance(v, (str, int, float, bool))})
        with open(osp.join(stage, REPORT), 'w') as f:
            json.dump(report, f, indent=2)
    print(f'wrote {args.out_dir}/{{{",".join(names)}}} ({args.precision}, '
          f'{len(description["classes"])} classes, outputs {", ".join(description["outputs"])})')
    print(f'run it: python -m mmvanilla_runtime {args.out_dir} IMAGE_OR_FOLDER... '
          '--out results.json')


def write_network(args: argparse.Namespace, argv: Optional[List[str]]) -> None:
    """--graph network|backbone: OUT_DIR/<graph>.onnx, checked, and <graph>.json."""
    creatable_dir(args.out_dir, 'output folder')
    # (its own report name: a network and a backbone, or an artefact, may share a folder)
    names = (f'{args.graph}.onnx', f'{args.graph}.json')
    check_folder_outputs(args.out_dir, names, [args.config, args.checkpoint])
    engine_versions(names=('onnx', 'onnxruntime'))  # the check needs them: before the build
    model, cfg, _ = build_detector(args.config, args.checkpoint, args.cfg_options)
    shape = tuple(args.shape or padded_test_shape(cfg))
    switch_to_deploy(model)
    with staged_folder(args.out_dir, names) as stage:
        errors = export_network_checked(model, args.graph, shape, osp.join(stage, names[0]))
        report = dict(graph=args.graph, model=names[0], precision='fp32', shape=list(shape),
                      max_rel_err=errors, tolerance=NETWORK_TOLERANCE,
                      producer=dict(config=args.config, checkpoint=args.checkpoint,
                                    command=command_line('deploy', argv)),
                      versions=engine_versions(required=False, names=ENGINES))
        with open(osp.join(stage, names[1]), 'w') as f:
            json.dump(report, f, indent=2)
    print(json.dumps(report['max_rel_err']))
    print(f'wrote {args.out_dir}/{{{",".join(names)}}} (fp32 {args.graph}, batch, height and '
          f'width dynamic; ONNX Runtime within {max(errors.values()):.1e} of PyTorch)')

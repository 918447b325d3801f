"""Quantize a trained detector to INT8 and measure what it costs in accuracy:
the INT8 artefact of ``tools/deploy.py --precision int8`` (the end-to-end
graph's network quantized to QDQ by ONNX Runtime's static quantization, or by
NNCF with --quantizer nncf|nncf-mixed; run by OpenVINO), with the fused fp32
detector beside it and both evaluated.

    python tools/quantize.py CONFIG CHECKPOINT OUT_DIR [--calib-images 300] [--quantizer Q]

Fuses the detector, calibrates on --calib-images images of the config's
training set (through the test pipeline, as deployed), then evaluates fp32 and
INT8 on the config's test set (--eval-images to use only its first N).
RetinaNet-style and Mask R-CNN detectors. Writes to OUT_DIR:
  model.onnx, pipeline.json   the INT8 artefact (python -m mmvanilla_runtime OUT_DIR ...)
  fused.pth, config.py        the fused fp32 detector (the reference)
  quantization.json           calibration, versions, metrics and the AP drop
then test it as deployed:
    python tools/test.py OUT_DIR/config.py OUT_DIR/fused.pth --precision int8
"""
import argparse
import contextlib
import json
import os.path as osp
import time
from typing import List, Optional

from mmengine.logging import MMLogger
from mmengine.runner.checkpoint import save_checkpoint

from mmvanilla.apis.config import command_line, model_tool_parser
from mmvanilla.apis.config_checks import check_datasets
from mmvanilla.apis.deployment import ENGINES, add_calibration_arg, engine_versions, prepare
from mmvanilla.deploy.artefact import ARTEFACT_FILES, write_artefact, write_description
from mmvanilla.deploy.evaluation import evaluate
from mmvanilla.deploy.precision import INT8_ARTEFACT_KEY, apply_precision
from mmvanilla.runtime import runtime_description
from mmvanilla.utils.console import stdout_to_log
from mmvanilla.utils.errors import ConfigError
from mmvanilla.utils.paths import check_folder_outputs, creatable_dir, staged_folder
from mmvanilla_runtime.artefact import sha256_of

OUTPUTS = ('fused.pth', 'config.py', 'quantization.json') + ARTEFACT_FILES  # description last


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = model_tool_parser(__doc__)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out_dir')
    add_calibration_arg(parser)
    parser.add_argument('--eval-images', type=int,
                        help='evaluate fp32 and INT8 on the first N test images only '
                        '(default: the whole test set)')
    return parser.parse_args(argv)


def coco_ap(metrics: dict, kind: str = 'bbox') -> Optional[float]:
    """bbox (or segm) AP; None where the evaluator returned nothing."""
    key = next((k for k in metrics if k.endswith(f'{kind}_mAP')), None)
    return metrics[key] if key else None


def ap_text(ap: Optional[float]) -> str:
    return 'none (no detections)' if ap is None else f'{ap:.3f}'


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if args.eval_images is not None and args.eval_images < 1:
        raise ConfigError('--eval-images must be >= 1')
    creatable_dir(args.out_dir, 'output folder')
    check_folder_outputs(args.out_dir, OUTPUTS, [args.config, args.checkpoint],
                         into_artefact=True)
    logger = MMLogger.get_current_instance()
    # pycocotools' index messages, ONNX Runtime's notes: off the console unless --verbose
    to_log = (contextlib.nullcontext if args.verbose
              else lambda: stdout_to_log(logger, root_logging=True))
    with to_log():
        model, cfg, meta, example, calibration = prepare(args, 'int8')
    versions = engine_versions(required=False, names=ENGINES)  # (prepare checked them)
    check_datasets(cfg, ['test'])  # the evaluation data, before the slow steps
    # Everything is written to a staging folder and moved into OUT_DIR only
    # once evaluated: a failure leaves OUT_DIR as it was.
    if calibration:
        print(f'calibrating on {len(calibration)} training images ...', flush=True)
    with staged_folder(args.out_dir, OUTPUTS) as stage:
        start = time.perf_counter()
        with to_log():
            description = write_artefact(model, cfg, stage, 'int8', example, calibration,
                                         dict(config=args.config, checkpoint=args.checkpoint,
                                              command=command_line('quantize', argv)),
                                         args.quantizer)
        calib_s = time.perf_counter() - start

        # The fused fp32 detector beside it: the reference.
        fused = osp.join(stage, 'fused.pth')
        save_checkpoint(dict(meta=dict(meta, reparameterized=True,
                                       source_checkpoint=args.checkpoint),
                             state_dict=model.state_dict()), fused)
        # tools/test.py --precision int8 runs the artefact with either checkpoint
        description['producer']['fused_checkpoint_sha256'] = sha256_of(fused)
        write_description(stage, description)
        if hasattr(model.backbone, 'deploy'):  # VanillaNet (any registry prefix)
            cfg.model.backbone.deploy = True  # the fused form's layout
        cfg.model.backbone.init_cfg = None
        cfg.load_from = None
        cfg[INT8_ARTEFACT_KEY] = '.'  # this folder
        cfg.dump(osp.join(stage, 'config.py'))

        print('evaluating fp32 and INT8 ...', flush=True)
        int8, info = apply_precision(model, 'int8', stage)
        with to_log():
            fp32_metrics = evaluate(model, cfg, args.eval_images)
            int8_metrics = evaluate(int8, cfg, args.eval_images)
        kinds = ['bbox'] + (['segm'] if int8.runtime.artefact.with_masks else [])
        drops = {}
        for kind in kinds:
            fp32_ap, int8_ap = coco_ap(fp32_metrics, kind), coco_ap(int8_metrics, kind)
            drops[kind] = (fp32_ap, int8_ap,
                           None if fp32_ap is None or int8_ap is None else fp32_ap - int8_ap)
        info['int8_artefact'] = args.out_dir
        report = dict(
            config=args.config, checkpoint=args.checkpoint, int8_artefact=args.out_dir,
            calibration=dict(images=len(calibration), source='training set, test pipeline',
                             seconds=round(calib_s, 1)),
            eval_images=args.eval_images or 'all',
            metrics=dict(fp32=fp32_metrics, int8=int8_metrics),
            bbox_ap_drop=drops['bbox'][2], ap_drop={k: v[2] for k, v in drops.items()},
            int8=info, versions=versions,
            runtime=runtime_description(), command=command_line('quantize', argv))
        with open(osp.join(stage, 'quantization.json'), 'w') as f:
            json.dump(report, f, indent=2)
    for kind, (fp32_ap, int8_ap, drop) in drops.items():
        print(f'{kind} AP fp32 {ap_text(fp32_ap)}  int8 {ap_text(int8_ap)}'
              + ('' if drop is None else f'  (drop {drop:.3f})'))
    print(f'wrote {args.out_dir}/{{{",".join(OUTPUTS)}}}\n'
          f'test it: python tools/test.py {args.out_dir}/config.py {args.out_dir}/fused.pth '
          '--precision int8\n'
          f'or without PyTorch: python -m mmvanilla_runtime {args.out_dir} IMAGES --out '
          'results.json')

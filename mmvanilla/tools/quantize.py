"""Quantize a trained detector to INT8 (ONNX Runtime static quantization to a
QDQ ONNX model, run by OpenVINO) and measure what it costs in accuracy.

    python tools/quantize.py CONFIG CHECKPOINT OUT_DIR [--calib-images 300]

Fuses the detector, calibrates its network (backbone, neck, head: everything
before post-processing) on --calib-images images of the config's training set
(through the test pipeline, as deployed), then evaluates fp32 and INT8 on the
config's test set (--eval-images to use only its first N). Writes to OUT_DIR:
  network_int8.onnx      the INT8 network (QDQ ONNX: OpenVINO or ONNX Runtime)
  fused.pth, config.py   the fused detector (post-processing, fp32 reference)
  quantization.json      calibration, versions, metrics and the AP drop
then test it as deployed:
    python tools/test.py OUT_DIR/config.py OUT_DIR/fused.pth --precision int8
Single-stage detectors (two-stage ones: --precision bf16).
"""
import argparse
import contextlib
import copy
import json
import os
import os.path as osp
import tempfile
import time
from typing import List, Optional

from mmengine.logging import MMLogger
from mmengine.runner.checkpoint import save_checkpoint

from mmvanilla.apis.config import command_line, model_tool_parser
from mmvanilla.apis.config_checks import check_datasets
from mmvanilla.apis.detector import build_detector
from mmvanilla.deploy import check_single_stage
from mmvanilla.deploy.apply import INT8_MODEL_KEY, apply_precision
from mmvanilla.deploy.calibration import calibration_source
from mmvanilla.deploy.evaluation import evaluate
from mmvanilla.deploy.openvino_network import import_openvino
from mmvanilla.deploy.quantization import quantize_detector
from mmvanilla.models import switch_to_deploy
from mmvanilla.runtime import runtime_description
from mmvanilla.utils.console import stdout_to_log
from mmvanilla.utils.errors import ConfigError
from mmvanilla.utils.paths import check_outputs, creatable_dir

INT8_NAME = 'network_int8.onnx'
OUTPUTS = (INT8_NAME, 'fused.pth', 'config.py', 'quantization.json')


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = model_tool_parser(__doc__)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out_dir')
    parser.add_argument('--calib-images', type=int, default=300,
                        help='training images to calibrate on (default 300)')
    parser.add_argument('--eval-images', type=int,
                        help='evaluate fp32 and INT8 on the first N test images only '
                        '(default: the whole test set)')
    return parser.parse_args(argv)


def bbox_ap(metrics: dict) -> Optional[float]:
    """bbox AP; None where the evaluator returned nothing (no detections)."""
    key = next((k for k in metrics if k.endswith('bbox_mAP')), None)
    return metrics[key] if key else None


def ap_text(ap: Optional[float]) -> str:
    return 'none (no detections)' if ap is None else f'{ap:.3f}'


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if args.calib_images < 1 or (args.eval_images is not None and args.eval_images < 1):
        raise ConfigError('--calib-images and --eval-images must be >= 1')
    creatable_dir(args.out_dir, 'output folder')
    check_outputs({name: osp.join(args.out_dir, name) for name in OUTPUTS},
                  [args.config, args.checkpoint])
    versions = _versions()  # the deploy extra is installed
    model, cfg, meta = build_detector(args.config, args.checkpoint, args.cfg_options)
    check_single_stage(model, 'tools/quantize.py')
    check_datasets(cfg, ['train', 'test'])  # calibration and evaluation data, up front
    switch_to_deploy(model)
    logger = MMLogger.get_current_instance()
    # pycocotools' index messages, ONNX Runtime's notes: off the console unless --verbose
    to_log = (contextlib.nullcontext if args.verbose
              else lambda: stdout_to_log(logger, root_logging=True))
    with to_log():
        indices, load = calibration_source(cfg, model, args.calib_images)
    # Everything is written to a staging folder and moved into OUT_DIR only
    # once evaluated: a failure leaves OUT_DIR as it was.
    with tempfile.TemporaryDirectory(dir=_existing_ancestor(args.out_dir),
                                     prefix='.tmp-quantize-') as stage:
        print(f'calibrating on {len(indices)} training images ...', flush=True)
        start = time.perf_counter()
        with to_log():
            quantize_detector(model, indices, load, osp.join(stage, INT8_NAME))
        calib_s = time.perf_counter() - start

        # The fused fp32 detector beside it: post-processing, and the reference.
        save_checkpoint(dict(meta=dict(meta, reparameterized=True,
                                       source_checkpoint=args.checkpoint),
                             state_dict=model.state_dict()),
                        osp.join(stage, 'fused.pth'))
        if hasattr(model.backbone, 'deploy'):  # VanillaNet (any registry prefix)
            cfg.model.backbone.deploy = True  # the fused form's layout
        cfg.model.backbone.init_cfg = None
        cfg.load_from = None
        cfg[INT8_MODEL_KEY] = INT8_NAME
        cfg.dump(osp.join(stage, 'config.py'))

        print('evaluating fp32 and INT8 ...', flush=True)
        int8 = copy.deepcopy(model)
        info = apply_precision(int8, 'int8', osp.join(stage, INT8_NAME))
        with to_log():
            fp32_metrics = evaluate(model, cfg, args.eval_images)
            int8_metrics = evaluate(int8, cfg, args.eval_images)
        fp32_ap, int8_ap = bbox_ap(fp32_metrics), bbox_ap(int8_metrics)
        drop = None if fp32_ap is None or int8_ap is None else fp32_ap - int8_ap
        info['int8_model'] = osp.join(args.out_dir, INT8_NAME)
        report = dict(
            config=args.config, checkpoint=args.checkpoint, int8_model=info['int8_model'],
            calibration=dict(images=len(indices), source='training set, test pipeline',
                             seconds=round(calib_s, 1)),
            eval_images=args.eval_images or 'all',
            metrics=dict(fp32=fp32_metrics, int8=int8_metrics), bbox_ap_drop=drop, int8=info,
            versions=versions, runtime=runtime_description(),
            command=command_line('quantize', argv))
        with open(osp.join(stage, 'quantization.json'), 'w') as f:
            json.dump(report, f, indent=2)
        os.makedirs(args.out_dir, exist_ok=True)
        for name in OUTPUTS:
            os.replace(osp.join(stage, name), osp.join(args.out_dir, name))
    print(f'bbox AP fp32 {ap_text(fp32_ap)}  int8 {ap_text(int8_ap)}'
          + ('' if drop is None else f'  (drop {drop:.3f})'))
    print(f'wrote {args.out_dir}/{{{",".join(OUTPUTS)}}}\n'
          f'test it: python tools/test.py {args.out_dir}/config.py {args.out_dir}/fused.pth '
          '--precision int8')


def _existing_ancestor(path: str) -> str:
    """The nearest folder of ``path`` (or ``path``) that exists: the staging
    folder goes there, on the same file system as OUT_DIR."""
    path = osp.abspath(path)
    while not osp.isdir(path):
        path = osp.dirname(path)
    return path


def _versions() -> dict:
    """onnxruntime's and OpenVINO's versions, or one message to install them."""
    openvino = import_openvino()
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError('onnxruntime is not installed: pip install -e ".[deploy]" '
                          '(tools/setup_env.sh installs it)') from None
    return dict(onnxruntime=onnxruntime.__version__, openvino=openvino.__version__)


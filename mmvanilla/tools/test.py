"""Test a detector (mmdet's tools/test.py interface, plus --deploy)."""
import argparse
import os.path as osp
from typing import List, Optional

import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmvanilla.apis.config import add_custom_hook, add_runner_args, load_runner_config
from mmvanilla.apis.config_checks import check_config
from mmvanilla.deploy import add_precision_arg, resolve_precision
from mmvanilla.deploy.precision import int8_artefact_path
from mmvanilla.utils.cpu_distributed import prepare_cpu_distributed
from mmvanilla.utils.errors import CheckpointError, ConfigError
from mmvanilla.utils.paths import check_outputs, writable_file
from mmvanilla_runtime.failures import OneLineParser


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = OneLineParser(description='Test (and evaluate) a detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', type=str,
                        help='dump the predictions to a pickle file for offline '
                        'evaluation')
    parser.add_argument('--show-dir', help='save images with predictions drawn '
                        'into this folder (relative to the work dir)')
    parser.add_argument('--deploy', action='store_true',
                        help='reparameterize the backbone to its fused form after '
                        'loading the checkpoint, before testing')
    add_precision_arg(parser)
    add_runner_args(parser)
    return parser.parse_args(argv)


def build_cfg(args: argparse.Namespace) -> Config:
    if not osp.isfile(args.checkpoint):
        raise CheckpointError(f'checkpoint {args.checkpoint!r} not found')
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ConfigError(f'--out must end in .pkl or .pickle, got {args.out!r}')
        check_outputs({'--out': args.out}, [args.config, args.checkpoint], kind='.pkl')
        writable_file(args.out, '--out')  # (written atomically: mmvanilla.patches)
    cfg = load_runner_config(args)
    cfg.load_from = args.checkpoint
    # mmengine only warns about keys that do not fit: evaluating such a model
    # would print mAP 0.000 and exit 0. This hook makes it one error.
    add_custom_hook(cfg, 'CheckpointFitHook')
    if args.show_dir:
        # mmdet's hook, with every picture's path checked before the first is drawn
        cfg.default_hooks.visualization.update(
            type='GuardedDetVisualizationHook', draw=True, test_out_dir=args.show_dir)
    precision = resolve_precision(args.precision,
                                  'cuda' if torch.cuda.is_available() else 'cpu')
    # --precision deploys: the fused model (int8 runs its own, already fused network)
    if precision != 'int8' and (args.deploy or args.precision != 'fp32'):
        add_custom_hook(cfg, 'SwitchToDeployHook')
    if args.precision != 'fp32':  # says which precision ran (fp32 after a fallback)
        int8_artefact = int8_artefact_path(cfg, args.checkpoint) if precision == 'int8' else None
        add_custom_hook(cfg, 'DeployPrecisionHook', precision=precision,
                        int8_artefact=int8_artefact)
    return cfg


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    cfg = build_cfg(args)
    check_config(cfg, ['test'], pretrained=False)
    prepare_cpu_distributed(cfg)
    runner = (Runner.from_cfg(cfg) if 'runner_type' not in cfg
              else RUNNERS.build(cfg))
    if args.out is not None:
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    runner.test()


"""Train a detector (mmdet's tools/train.py interface, with mmvanilla's checks)."""
import argparse
import logging
import os.path as osp
from typing import List, Optional

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmvanilla.apis.config import add_custom_hook, add_runner_args, load_runner_config
from mmvanilla.apis.config_checks import check_config
from mmvanilla.utils.checkpoint_files import (
    latest_complete_checkpoint,
    remove_stale_temporaries,
    resume_candidates,
)
from mmvanilla.utils.cpu_distributed import prepare_cpu_distributed
from mmvanilla.utils.errors import CheckpointError, ConfigError
from mmvanilla.utils.work_dir import hold_work_dir
from mmvanilla_runtime.failures import OneLineParser


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = OneLineParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--amp', nargs='?', const='fp16', choices=('fp16', 'bf16'),
                        help='CUDA automatic mixed precision: fp16 (the default, with '
                        'dynamic loss scaling) or bf16 (Ampere and later)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the LR linearly from auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint, or without a path from the latest '
        'checkpoint in the work dir')
    add_runner_args(parser)
    return parser.parse_args(argv)


def build_cfg(args: argparse.Namespace, cfg: Config) -> Config:
    """``cfg`` (the config as loaded) with the options of this run applied."""
    remove_stale_temporaries(cfg.work_dir)  # (this run holds the work dir)
    saver = (cfg.get('default_hooks') or {}).get('checkpoint')
    saver = saver if isinstance(saver, dict) else {}
    if args.amp:
        import torch
        if not torch.cuda.is_available():
            raise ConfigError('--amp needs a CUDA GPU (mixed precision here is CUDA '
                              'fp16 or bf16): drop --amp to train on this machine in fp32')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'  # (bf16 needs none; it does no harm)
        cfg.optim_wrapper.dtype = 'float16' if args.amp == 'fp16' else 'bfloat16'
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise ConfigError('--auto-scale-lr needs auto_scale_lr.base_batch_size '
                              'in the config')
        cfg.auto_scale_lr.enable = True
    if args.resume is None:
        earlier = resume_candidates(cfg.work_dir, saver.get('out_dir'))
        if earlier:
            raise ConfigError(
                f'work dir {cfg.work_dir!r} holds the checkpoints of an earlier training '
                f'({", ".join(osp.basename(p) for p in earlier[:3])}): a new one would replace '
                f'them; add --resume to continue it, or give --work-dir a new folder (or move '
                f'them away) to start another')
    if args.resume == 'auto':
        # The newest checkpoint that loads: a crash while saving cannot make
        # the run restart from a truncated file.
        checkpoint_dir = saver.get('out_dir')
        latest = latest_complete_checkpoint(cfg.work_dir, checkpoint_dir)
        if latest is None:
            corrupt = resume_candidates(cfg.work_dir, checkpoint_dir)
            if corrupt:
                raise CheckpointError(
                    f'--resume: every checkpoint in {cfg.work_dir} is truncated or corrupt '
                    f'({", ".join(osp.basename(p) for p in corrupt)}): restore a good copy '
                    f'and pass it as --resume PATH, or delete them to start from scratch')
            print_log(f'--resume: no checkpoint in {cfg.work_dir}, starting from scratch',
                      logger='current', level=logging.WARNING)
        cfg.resume, cfg.load_from = latest is not None, latest
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise CheckpointError(f'--resume checkpoint {args.resume!r} not found')
        cfg.resume, cfg.load_from = True, args.resume
    # --resume or load_from: the file must fit the model. Fine-tuning from a
    # checkpoint with another head: --cfg-options strict_load=False (mmengine's
    # partial loading, which only warns).
    strict = cfg.pop('strict_load', True)
    if cfg.get('load_from') and strict:
        add_custom_hook(cfg, 'CheckpointFitHook')
    add_custom_hook(cfg, 'FiniteLossHook')  # a NaN loss stops the run
    if saver.get('type') in ('CheckpointHook', 'mmengine.CheckpointHook'):
        saver['type'] = 'RotateAfterSaveCheckpointHook'  # same, old ones removed after
    return cfg


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    cfg = load_runner_config(args)
    with hold_work_dir(cfg.work_dir):
        cfg = build_cfg(args, cfg)
        check_config(cfg, ['train', 'val'] if cfg.get('val_cfg') else ['train'],
                     pretrained=not cfg.get('resume'))
        prepare_cpu_distributed(cfg)
        runner = (Runner.from_cfg(cfg) if 'runner_type' not in cfg
                  else RUNNERS.build(cfg))
        runner.train()


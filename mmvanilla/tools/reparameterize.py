"""Fuse a trained detector's backbone and write a deploy checkpoint and config.

    python tools/reparameterize.py CONFIG CHECKPOINT OUT_DIR

Builds the detector on CPU, loads CHECKPOINT safely, fuses the backbone, checks
on a sample input that the detector's outputs before NMS (FPN maps, dense head)
match the unfused model, and
writes OUT_DIR/<checkpoint>_deploy.pth (meta kept) and OUT_DIR/<config>_deploy.py
(backbone deploy=True), which tools/test.py and tools/benchmark.py load as is.
"""
import copy
import os
import os.path as osp
from typing import List, Optional

import torch
from mmengine.runner.checkpoint import save_checkpoint

from mmvanilla.apis.config import model_tool_parser
from mmvanilla.apis.detector import build_detector, pre_nms_outputs
from mmvanilla.models import switch_to_deploy
from mmvanilla.utils.errors import ConfigError
from mmvanilla.utils.numerics import max_rel_err
from mmvanilla.utils.paths import atomic_output, check_folder_outputs, creatable_dir

TOLERANCE = 1e-4


def main(argv: Optional[List[str]] = None) -> None:
    parser = model_tool_parser(__doc__)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out_dir')
    parser.add_argument('--shape', type=int, nargs=2, default=[256, 320], metavar=('H', 'W'),
                        help='sample input for the equivalence check')
    args = parser.parse_args(argv)
    creatable_dir(args.out_dir, 'output folder')  # made only once the fusion checks out
    name = osp.splitext(osp.basename(args.checkpoint))[0]
    ckpt_path = osp.join(args.out_dir, f'{name}_deploy.pth')
    cfg_path = osp.join(args.out_dir,
                        f'{osp.splitext(osp.basename(args.config))[0]}_deploy.py')
    # (the config beside an earlier fused checkpoint is that run's, and is replaced)
    check_folder_outputs(args.out_dir, [osp.basename(cfg_path), osp.basename(ckpt_path)],
                         [args.config, args.checkpoint])
    model, cfg, meta = build_detector(args.config, args.checkpoint, args.cfg_options)
    if getattr(model.backbone, 'deploy', False):
        raise ConfigError(f'{args.config!r} already builds a fused backbone: nothing to do')
    fused = copy.deepcopy(model)
    if switch_to_deploy(fused) == 0:
        raise ConfigError(f'{args.config!r}: the model has nothing to reparameterize')

    torch.manual_seed(0)
    x = torch.randn(1, 3, *args.shape)
    err = max_rel_err(pre_nms_outputs(fused, x), pre_nms_outputs(model, x))
    print(f'fused vs unfused detector outputs before NMS: max relative error {err:.2e}')
    if not err <= TOLERANCE:
        raise ConfigError(f'fused outputs differ by {err:.2e} > {TOLERANCE:g}; '
                          f'not writing a fused checkpoint')

    os.makedirs(args.out_dir, exist_ok=True)
    meta = dict(meta, reparameterized=True, source_checkpoint=args.checkpoint,
                fused_max_rel_err=err)
    # mmengine's file backend, made atomic by mmvanilla: never half-written.
    save_checkpoint(dict(meta=meta, state_dict=fused.state_dict()), ckpt_path)
    cfg.model.backbone.deploy = True
    cfg.model.backbone.init_cfg = None
    cfg.load_from = None
    with atomic_output(cfg_path) as staged:
        cfg.dump(staged)
    print(f'wrote {ckpt_path}\nwrote {cfg_path}')


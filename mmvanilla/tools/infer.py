"""Run a detector on your own images and draw what it finds.

    python tools/infer.py CONFIG CHECKPOINT INPUTS... [--deploy] [--out-dir DIR]
                          [--score-thr T]

INPUTS are image files, folders (their images) or glob patterns (quote them).
Built on mmdet's ``DetInferencer``: pictures with boxes (and masks) go to
DIR/vis/, predictions as JSON to DIR/preds/. ``--deploy`` fuses the backbone
first. Checkpoints load through mmvanilla's safe loader and must fit the config.
"""
import argparse
import glob
import os
import os.path as osp
import time
import warnings
from typing import List, Optional

from mmvanilla.apis.config import load_config, model_tool_parser
from mmvanilla.models import switch_to_deploy
from mmvanilla.utils.checkpoint_fit import check_checkpoint_fits
from mmvanilla.utils.errors import CheckpointError, ConfigError, DatasetError
from mmvanilla.utils.paths import check_outputs, writable_dir
from mmvanilla_runtime.errors import RuntimeInputError
from mmvanilla_runtime.preprocess import IMAGE_EXTENSIONS, read_image



def expand_inputs(inputs: List[str]) -> List[str]:
    """Image paths from files, folders and glob patterns, in the given order."""
    images = []
    for item in inputs:
        if glob.has_magic(item):
            found = sorted(p for p in glob.glob(item) if p.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                raise DatasetError(f'{item!r} matches no image file ({", ".join(IMAGE_EXTENSIONS)})')
        elif osp.isdir(item):
            found = sorted(osp.join(item, f) for f in os.listdir(item)
                           if f.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                raise DatasetError(f'folder {item!r} holds no image file '
                                   f'({", ".join(IMAGE_EXTENSIONS)})')
        elif osp.isfile(item):
            found = [item]
        else:
            raise DatasetError(f'input {item!r} not found: give image files, folders or '
                               f'quoted glob patterns')
        images += found
    for path in images:  # the runtime's reader: a pixel limit before decoding
        try:
            read_image(path)
        except RuntimeInputError as e:
            raise DatasetError(f'{e}: remove it from the inputs') from None
    return images


def build_inferencer(args: argparse.Namespace):
    from mmdet.apis import DetInferencer

    class FittingDetInferencer(DetInferencer):
        """DetInferencer that refuses a checkpoint which does not fit the config
        (mmdet's loads it non-strictly and would draw nonsense)."""

        def _load_weights_to_model(self, model, checkpoint, cfg) -> None:
            check_checkpoint_fits(model, checkpoint, f'checkpoint {args.checkpoint!r}')
            super()._load_weights_to_model(model, checkpoint, cfg)

    if not osp.isfile(args.checkpoint):
        raise CheckpointError(f'checkpoint {args.checkpoint!r} not found')
    cfg = load_config(args.config, args.cfg_options)
    cfg.model.backbone.pop('init_cfg', None)  # weights come from CHECKPOINT
    with warnings.catch_warnings():
        if not args.verbose:  # DetInferencer's notices about optional metadata
            for notice in ('palette does not exist', 'dataset_meta or class names are not'):
                warnings.filterwarnings('ignore', message=notice, category=UserWarning)
        return FittingDetInferencer(model=cfg, weights=args.checkpoint, device=args.device,
                                    show_progress=False)


def main(argv: Optional[List[str]] = None) -> None:
    parser = model_tool_parser(__doc__)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('inputs', nargs='+', help='image files, folders or glob patterns')
    parser.add_argument('--deploy', action='store_true',
                        help='fuse the backbone before inference')
    parser.add_argument('--out-dir', default='outputs/infer',
                        help='pictures go to OUT_DIR/vis, predictions to OUT_DIR/preds')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='draw and count detections at or above this score')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    if not 0.0 <= args.score_thr <= 1.0:
        raise ConfigError(f'--score-thr must lie in [0, 1], got {args.score_thr}')
    images = expand_inputs(args.inputs)
    # DetInferencer names its outputs after each image's file name
    outputs = {}
    for path in images:
        stem = osp.splitext(osp.basename(path))[0]
        outputs[f'the picture of {path}'] = osp.join(args.out_dir, 'vis', osp.basename(path))
        outputs[f'the predictions of {path}'] = osp.join(args.out_dir, 'preds', stem + '.json')
    check_outputs(outputs, [args.config, args.checkpoint, *images])
    out_dir = writable_dir(args.out_dir, '--out-dir')
    inferencer = build_inferencer(args)
    if args.deploy:
        if switch_to_deploy(inferencer.model) == 0:
            raise ConfigError(f'--deploy: {args.config!r} builds nothing to fuse')
        print('reparameterized the model to its fused form')
    for path in images:
        start = time.perf_counter()
        result = inferencer(path, out_dir=out_dir, pred_score_thr=args.score_thr,
                            no_save_pred=False)
        seconds = time.perf_counter() - start
        scores = result['predictions'][0]['scores']
        count = sum(s >= args.score_thr for s in scores)
        print(f'{path}: {count} detections with score >= {args.score_thr} '
              f'({seconds * 1000:.0f} ms with drawing)')
    print(f'wrote {len(images)} pictures to {osp.join(out_dir, "vis")} and predictions to '
          f'{osp.join(out_dir, "preds")}')


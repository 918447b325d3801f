"""Refuse a checkpoint that does not fill a model exactly.

mmengine loads ``load_from``/``--resume`` checkpoints non-strictly and only logs
missing keys and shape mismatches, so a checkpoint of another model evaluates
to mAP 0.000 and exit status 0. Here every model key must be present with its
shape, and no other key may be in the file.
"""
import re
from typing import Any, Dict, List, Optional

from torch import Tensor, nn

from mmvanilla.utils.errors import CheckpointError

#: Keys a checkpoint may lack: official and mmdet 2.x files have no deep-training
#: lambda (the config's act_learn, 1 for fine-tuning, is used).
OPTIONAL_SUFFIXES = ('deep_training_lambda',)
_MODULE_PREFIX = re.compile(r'^module\.')  # mmengine's default revise_keys


#: Where a checkpoint keeps its weights, in the order they are looked for:
#: mmengine's files, then the official VanillaNet training script's.
STATE_DICT_KEYS = ('state_dict', 'model', 'model_ema')


def checkpoint_state_dict(checkpoint: Any, source: str = 'checkpoint',
                          key: Optional[str] = None) -> Dict[str, Any]:
    """The weights of a loaded checkpoint, ``module.`` prefixes stripped:
    ``checkpoint[key]``, else the first of :data:`STATE_DICT_KEYS` present,
    else the dict itself (a bare state dict)."""
    if not isinstance(checkpoint, dict):
        raise CheckpointError(
            f'{source} holds a {type(checkpoint).__name__}, not a checkpoint: save '
            f"dict(state_dict=model.state_dict()) or give a file written by tools/train.py")
    if key is not None:
        if key not in checkpoint:
            raise CheckpointError(
                f'{source} has no {key!r} entry (it has {sorted(checkpoint)[:8]}); '
                f'drop `key` from init_cfg or name one of those')
        state = checkpoint[key]
    else:
        state = next((checkpoint[k] for k in STATE_DICT_KEYS if k in checkpoint), checkpoint)
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{source}: its weights are a {type(state).__name__}, not a dict of tensors")
    return {_MODULE_PREFIX.sub('', k): v for k, v in state.items()}


def check_finite(state: Dict[str, Any], source: str) -> None:
    """Refuse weights with NaN or inf in them (a run that diverged saves such
    files, and every prediction of them is meaningless)."""
    bad = [k for k, v in state.items()
           if isinstance(v, Tensor) and v.is_floating_point() and not bool(v.isfinite().all())]
    if bad:
        raise CheckpointError(
            f'{source} holds NaN or inf in {len(bad)} tensor(s) (e.g. {", ".join(bad[:2])}): '
            f'it was saved by a run whose loss diverged; use an earlier checkpoint')


def _hint(missing: List[str], unexpected: List[str], shapes: List[str]) -> str:
    def has(keys, part):
        return any(part in k for k in keys)
    if has(missing, 'backbone.stem1.') and has(unexpected, 'backbone.stem.'):
        return ('it is a fused (deploy) checkpoint: use the deploy config that '
                'tools/reparameterize.py wrote beside it, or add --cfg-options '
                'model.backbone.deploy=True')
    if has(missing, 'backbone.stem.') and has(unexpected, 'backbone.stem1.'):
        return ('it is an unfused checkpoint and the config builds a fused backbone: '
                'use the original config (tools/test.py --deploy fuses after loading)')
    heads = ('roi_head.', 'rpn_head.', 'bbox_head.')
    if any(has(missing, h) != has(unexpected, h) for h in heads):
        return 'it was trained for another detector: use the config it was trained with'
    if shapes:
        return ('the config differs from the one it was trained with (num_classes, '
                'arch, act_num or channels): use that config (to fine-tune from it on '
                'purpose, train.py --cfg-options strict_load=False)')
    return 'use the config the checkpoint was trained with'


def check_checkpoint_fits(model: nn.Module, checkpoint: Any, source: str) -> None:
    """Raise :class:`CheckpointError` unless ``checkpoint`` fills ``model``
    exactly, with finite weights."""
    state = checkpoint_state_dict(checkpoint, source)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith(OPTIONAL_SUFFIXES)]
    unexpected = [k for k in state if k not in expected]
    shapes = [f'{k} {tuple(state[k].shape)} vs {tuple(v.shape)} in the model'
              for k, v in expected.items()
              if isinstance(state.get(k), Tensor) and state[k].shape != v.shape]
    if not (missing or unexpected or shapes):
        check_finite(state, source)
        return
    parts = [f'{len(keys)} {what} (e.g. {", ".join(keys[:2])})' for keys, what in
             ((missing, 'model keys missing'), (unexpected, 'unexpected keys'),
              (shapes, 'of another shape')) if keys]
    raise CheckpointError(f'{source} does not fit the model: {"; ".join(parts)}; '
                          f'{_hint(missing, unexpected, shapes)}')

"""Load official VanillaNet ImageNet checkpoints (train or deploy form)."""
from typing import Dict, List, Optional

from mmengine.runner.checkpoint import CheckpointLoader
from torch import Tensor, nn

from mmvanilla.models.backbones.vanillanet_arch import ARCH_SETTINGS, resolve_arch
from mmvanilla.utils.checkpoint_fit import check_finite, checkpoint_state_dict
from mmvanilla.utils.errors import CheckpointError

HEAD_PREFIXES = ('cls1.', 'cls2.', 'cls.')


def extract_state_dict(checkpoint: dict, key: Optional[str] = None,
                       prefix: Optional[str] = None,
                       source: str = 'checkpoint') -> Dict[str, Tensor]:
    """The VanillaNet weights of a checkpoint, head dropped.

    Weights as :func:`~mmvanilla.utils.checkpoint_fit.checkpoint_state_dict`
    finds them (``key`` picks an entry). ``prefix`` (e.g. ``'backbone.'``)
    selects and strips a sub-model; without it a detector checkpoint's
    ``backbone.`` keys are found automatically.
    """
    state = {k: v for k, v in checkpoint_state_dict(checkpoint, source, key).items()
             if isinstance(v, Tensor)}
    if prefix is None and not _form(state) and any(
            k.startswith('backbone.') for k in state):
        prefix = 'backbone.'
    if prefix:
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    return {k: v for k, v in state.items() if not k.startswith(HEAD_PREFIXES)}


def _form(state: Dict[str, Tensor]) -> Optional[str]:
    if 'stem1.0.weight' in state:
        return 'train'
    if 'stem.0.weight' in state:
        return 'deploy'
    return None


def _dims(state: Dict[str, Tensor], form: str) -> List[int]:
    conv = 'conv2.0' if form == 'train' else 'conv'
    dims = [state[('stem1.0' if form == 'train' else 'stem.0') + '.weight'].shape[0]]
    i = 0
    while f'stages.{i}.{conv}.weight' in state:
        dims.append(state[f'stages.{i}.{conv}.weight'].shape[0])
        i += 1
    return dims


def check_compatible(backbone: nn.Module, state: Dict[str, Tensor],
                     source: str = 'checkpoint') -> None:
    """Raise one message naming the fix if ``state`` cannot fill ``backbone``."""
    form = _form(state)
    if form is None:
        raise CheckpointError(
            f'{source} holds no VanillaNet weights (no stem1.* or stem.* keys; '
            f'first keys: {list(state)[:5]}); for a detector checkpoint set '
            f"init_cfg prefix='backbone.'")
    if form == 'train' and backbone.deploy:
        raise CheckpointError(
            f'{source} is in train form but the backbone has deploy=True: build it '
            f'with deploy=False, load, then fuse (switch_to_deploy() or '
            f'tools/reparameterize.py)')
    if form == 'deploy' and not backbone.deploy:
        raise CheckpointError(
            f'{source} is in fused (deploy) form: set backbone deploy=True to load '
            f'it (a fused model cannot be trained back into the train form)')
    act_weight = state['stem2.2.weight' if form == 'train' else 'stem.1.weight']
    act_num = (act_weight.shape[-1] - 1) // 2
    if act_num != backbone.act_num:
        raise CheckpointError(
            f'{source} was trained with act_num={act_num} but the backbone has '
            f'act_num={backbone.act_num}: set backbone act_num={act_num}')
    dims = _dims(state, form)
    expected = resolve_arch(backbone.arch)['dims']
    if dims != expected:
        names = [n for n, s in ARCH_SETTINGS.items() if s['dims'] == dims]
        hint = f"set arch='{names[0]}'" if names else \
            f'set arch=dict(dims={dims}, strides=[...])'
        raise CheckpointError(
            f'{source} holds a VanillaNet with dims {dims} but the backbone arch '
            f'{backbone.arch!r} has dims {expected}: {hint}')


def load_pretrained(backbone: nn.Module, filename: str, key: Optional[str] = None,
                    prefix: Optional[str] = None) -> None:
    """Load an official (or mmdet) checkpoint into ``backbone``, all keys filled.

    ``filename`` is a path or URL; either way it is loaded with the safe loader.
    """
    state = extract_state_dict(
        CheckpointLoader.load_checkpoint(filename, map_location='cpu'), key, prefix,
        source=f'checkpoint {filename!r}')
    check_compatible(backbone, state, source=f'checkpoint {filename!r}')
    check_finite(state, f'checkpoint {filename!r}')
    try:
        missing, unexpected = backbone.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shapes: e.g. in_channels differ
        raise CheckpointError(
            f'checkpoint {filename!r} does not fit the backbone: '
            f'{str(e).splitlines()[-1].strip()}; check in_channels, arch and act_num'
        ) from None
    missing = [k for k in missing if k != 'deep_training_lambda']  # official: lambda 1
    if missing or unexpected:
        raise CheckpointError(
            f'checkpoint {filename!r} does not fit the backbone: missing '
            f'{missing[:5]}, unexpected {unexpected[:5]}; check arch and act_num')

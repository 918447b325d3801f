"""VanillaNet's arch table and the checks of its settings (no torch: config
checks read it before any model is built)."""
from typing import Dict, List, Sequence, Tuple, Union

from mmvanilla.utils.errors import ConfigError


def _vn(n_2048: int) -> dict:
    """VN-7 .. VN-13: 512, 512, 1024, 2048 x n, 4096, 4096."""
    return dict(dims=[512, 512, 1024] + [2048] * n_2048 + [4096, 4096],
                strides=[1, 2, 2] + [1] * (n_2048 - 1) + [2, 1])


ARCH_SETTINGS: Dict[str, dict] = {
    'vanillanet_5': dict(dims=[512, 1024, 2048, 4096], strides=[2, 2, 2]),
    'vanillanet_6': dict(dims=[512, 1024, 2048, 4096, 4096],
                         strides=[2, 2, 2, 1]),
    'vanillanet_7': _vn(1),
    'vanillanet_8': dict(dims=[512, 512, 1024, 2048, 2048, 4096, 4096],
                         strides=[1, 2, 2, 1, 2, 1]),
    'vanillanet_9': _vn(3),
    'vanillanet_10': _vn(4),
    'vanillanet_11': _vn(5),
    'vanillanet_12': _vn(6),
    'vanillanet_13': _vn(7),
    'vanillanet_13_x1_5': dict(dims=[int(d * 1.5) for d in _vn(7)['dims']],
                               strides=_vn(7)['strides']),
    'vanillanet_13_x1_5_ada_pool': dict(
        dims=[int(d * 1.5) for d in _vn(7)['dims']], strides=_vn(7)['strides'],
        ada_pool=True),
}


def resolve_arch(arch: Union[str, dict]) -> dict:
    """Return ``dict(dims, strides, ada_pool)`` for an arch name or dict."""
    if isinstance(arch, str):
        if arch not in ARCH_SETTINGS:
            raise ConfigError(
                f'unknown VanillaNet arch {arch!r}; choose one of '
                f'{", ".join(ARCH_SETTINGS)} or give dict(dims=[...], strides=[...])')
        arch = ARCH_SETTINGS[arch]
    if not isinstance(arch, dict) or not {'dims', 'strides'} <= set(arch):
        raise ConfigError(
            f'VanillaNet arch must be a name or dict(dims=[...], strides=[...]), '
            f'got {arch!r}')
    dims, strides = list(arch['dims']), list(arch['strides'])
    if len(dims) != len(strides) + 1 or len(strides) < 1:
        raise ConfigError(
            f'VanillaNet arch needs len(dims) == len(strides) + 1 >= 2 (dims[0] is '
            f'the stem, block i maps dims[i] -> dims[i+1] with strides[i]); got '
            f'{len(dims)} dims and {len(strides)} strides')
    if any(int(d) != d or d < 1 for d in dims) or any(s not in (1, 2) for s in strides):
        raise ConfigError(
            f'VanillaNet dims must be positive ints and strides 1 or 2; got '
            f'dims={dims}, strides={strides}')
    return dict(dims=dims, strides=strides, ada_pool=bool(arch.get('ada_pool')))


def default_out_indices(strides: Sequence[int]) -> List[int]:
    """The last block of each output stride."""
    return [i for i in range(len(strides))
            if i == len(strides) - 1 or strides[i + 1] != 1]


def check_out_indices(out_indices: Sequence[int], num_blocks: int) -> Tuple[int, ...]:
    """Block indices as a strictly increasing tuple in ``[0, num_blocks)``."""
    indices = tuple(out_indices) if isinstance(out_indices, (list, tuple)) \
        else (out_indices,)
    if not indices or not all(isinstance(i, int) for i in indices):
        raise ConfigError(
            f'out_indices must be a non-empty list of block indices, got '
            f'{out_indices!r}')
    bad = [i for i in indices if not 0 <= i < num_blocks]
    if bad:
        raise ConfigError(
            f'out_indices {list(indices)} has {bad} out of range: this arch has '
            f'{num_blocks} blocks, indices 0..{num_blocks - 1} (official convention: '
            f'they index the block list, e.g. VN-11 RetinaNet uses [1, 6, 8])')
    if list(indices) != sorted(set(indices)):
        raise ConfigError(
            f'out_indices must be strictly increasing, got {list(indices)}; '
            f'use {sorted(set(indices))}')
    return indices


def out_channels(arch: Union[str, dict], out_indices=None) -> Tuple[List[int], Tuple[int, ...]]:
    """The channels of the maps a VanillaNet of ``arch`` emits, and the block
    indices they come from (``out_indices``, default the last block of each stride)."""
    settings = resolve_arch(arch)
    indices = check_out_indices(
        default_out_indices(settings['strides']) if out_indices is None else out_indices,
        len(settings['strides']))
    return [settings['dims'][i + 1] for i in indices], indices

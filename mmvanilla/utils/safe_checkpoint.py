"""Load checkpoints as untrusted files: ``weights_only`` plus an allow-list.

:mod:`mmvanilla.patches` routes mmengine's checkpoint loading (local files
and downloads) through :func:`safe_load` and :func:`safe_load_url`.
"""
import argparse
import collections
import os
import os.path as osp
import pickle
from typing import Any, List, Optional
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

from mmvanilla.utils.errors import CheckpointError


def _numpy_globals() -> List[Any]:
    """numpy arrays, scalars and dtypes (mmengine's message hub, meta).

    numpy 2 pickles them under ``numpy._core``, numpy 1 under ``numpy.core``:
    both spellings name the same two functions, so both are allowed, whichever
    numpy is installed (older checkpoints and model-zoo files are numpy 1).
    """
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    dtypes = [type(np.dtype(t)) for t in
              ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16',
               'uint32', 'uint64', 'float16', 'float32', 'float64')]
    spelled = [(fn, f'{module}.multiarray.{fn.__name__}')
               for fn in (multiarray._reconstruct, multiarray.scalar)
               for module in ('numpy.core', 'numpy._core')]
    return [*spelled, np.ndarray, np.dtype, *dtypes]


#: Classes whose attributes a checkpoint may look up by name: pickle stores
#: the statistics methods of a HistoryBuffer as ``getattr(HistoryBuffer, 'min')``.
_GETATTR_ALLOWED = {HistoryBuffer: {'min', 'max', 'current', 'mean'}}


def _restricted_getattr(obj: Any, name: str) -> Any:
    """Stands in for ``builtins.getattr`` while unpickling: allow-listed only."""
    if name not in _GETATTR_ALLOWED.get(obj, ()):
        raise pickle.UnpicklingError(
            f'getattr({getattr(obj, "__name__", type(obj).__name__)}, {name!r}) '
            f'is not on the allow-list')
    return getattr(obj, name)


#: Everything besides tensors and plain containers that mmengine checkpoints
#: hold (message hub history, numpy values in meta), and the
#: ``argparse.Namespace`` of options that the official VanillaNet training
#: script saves as ``args``. Nothing here runs code that a file can choose:
#: a Namespace is rebuilt by setting attributes, and whatever they hold must
#: itself be on this list.
SAFE_GLOBALS: List[Any] = [
    HistoryBuffer, collections.OrderedDict, collections.defaultdict, argparse.Namespace,
    (_restricted_getattr, 'builtins.getattr'), *_numpy_globals()]


def _allowed_names() -> set:
    return {g[1] if isinstance(g, tuple) else f'{g.__module__}.{g.__qualname__}'
            for g in SAFE_GLOBALS}


def safe_load(filename: str, map_location: Any = 'cpu') -> Any:
    """``torch.load`` with ``weights_only=True`` and :data:`SAFE_GLOBALS`.

    Raises:
        CheckpointError: missing file, a pickle that asks for anything outside
            the allow-list (nothing in it is executed), or a corrupt file.
    """
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise CheckpointError(
            f'checkpoint {filename!r} not found: give the path of an existing '
            f'.pth file')
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(filename, map_location=map_location,
                              weights_only=True)
    except pickle.UnpicklingError as e:
        detail = _unsafe_names(filename) if 'getattr(' not in str(e) else \
            next(line for line in str(e).splitlines() if 'getattr(' in line).strip()
        raise CheckpointError(
            f'refused to load {filename!r}: it contains pickled objects outside '
            f'the allow-list of weights and mmengine training state ({detail}). '
            f'Nothing from it was executed. Only load checkpoints you trust; '
            f're-save it as a plain state dict with torch.save(model.state_dict())'
        ) from None
    except Exception as e:  # noqa: BLE001 - garbage input can fail in any way
        raise CheckpointError(
            f'checkpoint {filename!r} is truncated or corrupt ({_first_sentence(e)}); '
            f're-download it or use an earlier checkpoint') from None


def _first_sentence(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.split('\n')[0].split('. ')[0]


def _unsafe_names(filename: str) -> str:
    """The refused globals of a checkpoint (not the allowed ones beside them)."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # the file may not be a zip checkpoint at all
        return 'unreadable pickle'
    refused = [n for n in names if n not in _allowed_names()]
    return 'refused: ' + ', '.join(refused) if refused else 'unsupported pickle opcode'


def safe_load_url(url: str, model_dir: Optional[str] = None, map_location: Any = None,
                  progress: bool = False, **kwargs) -> Any:
    """Download ``url`` into torch's hub cache (once), then :func:`safe_load` it."""
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))
    if not osp.isfile(cached):
        torch.hub.download_url_to_file(url, cached, progress=progress)
    return safe_load(cached, map_location)

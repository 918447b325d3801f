"""Shared command-line plumbing: read configs, print user errors in one line."""
import os.path as osp
import re
import sys
from typing import Callable, Optional

from mmengine.config import Config

from mmvanilla.utils.errors import ConfigError, DatasetError, MMVanillaError

# mmengine's registry re-raises build errors as "class `X` in path.py: <msg>".
_REGISTRY_PREFIX = re.compile(r'^(class `\w+` in [^:]+: )+')
# mmcv's LoadImageFromFile, also when re-raised from a DataLoader worker.
_UNREADABLE_IMAGE = re.compile(r'failed to load image: (\S+)')


def user_message(error: BaseException) -> str:
    """The error's message without mmengine's registry prefixes."""
    return _REGISTRY_PREFIX.sub('', str(error))


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """``Config.fromfile`` plus ``--cfg-options``, with errors in one line."""
    if not osp.isfile(path):
        raise ConfigError(f'config file {path!r} not found')
    try:
        cfg = Config.fromfile(path)
    except (SyntaxError, KeyError, TypeError, ValueError, FileNotFoundError) as e:
        raise ConfigError(f'cannot read config {path!r}: {e}') from None
    if cfg_options:
        try:
            cfg.merge_from_dict(cfg_options)
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(
                f'--cfg-options do not fit {path!r}: {e} (to replace a value of '
                f'another type, e.g. a named arch by a dict, add KEY._delete_=True)'
            ) from None
    return cfg


def _translate(error: BaseException) -> Optional[MMVanillaError]:
    """A user error hidden in a third-party exception, or None."""
    if isinstance(error, MMVanillaError):
        return error
    match = _UNREADABLE_IMAGE.search(str(error))
    if match:
        return DatasetError(
            f'image {match.group(1)} cannot be read (missing, empty or not an '
            f'image): replace it or remove it from the annotation file')
    return None


def run_cli(main: Callable[[], None]) -> None:
    """Call ``main``; a user error exits 2 with one line instead of a traceback."""
    try:
        main()
    except Exception as e:  # noqa: BLE001 - re-raised unless it is a user error
        user_error = _translate(e)
        if user_error is None:
            raise
        print(f'error: {user_message(user_error)}', file=sys.stderr)
        sys.exit(2)

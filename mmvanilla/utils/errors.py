"""Exceptions that carry one clear, user-facing message, and how any
exception is told in one line."""
import os.path as osp
import re
import traceback

# mmengine's registry re-raises build errors as "class `X` in path.py: <msg>".
_REGISTRY_PREFIX = re.compile(r'^(class `\w+` in [^:]+: )+')


def user_message(error: BaseException) -> str:
    """The error's message without mmengine's registry prefixes."""
    return _REGISTRY_PREFIX.sub('', str(error))


def describe(error: BaseException) -> str:
    """``Type: last line of its message``; for a bare ``assert`` (no message),
    the failing line of code instead."""
    lines = [line.strip() for line in user_message(error).splitlines() if line.strip()]
    if lines:
        return f'{type(error).__name__}: {lines[-1]}'
    frames = traceback.extract_tb(error.__traceback__)
    if frames:
        last = frames[-1]
        return (f'{type(error).__name__} at {osp.basename(last.filename)}:{last.lineno}: '
                f'{last.line}')
    return type(error).__name__


class MMVanillaError(Exception):
    """Base of the errors whose message alone tells the user what to fix.

    Tools print ``str(error)`` and exit with status 2 instead of a traceback.
    """


class ConfigError(MMVanillaError, ValueError):
    """A config or argument value is invalid."""


class CheckpointError(MMVanillaError, RuntimeError):
    """A checkpoint file is missing, unsafe, corrupt or does not fit the model."""


class DatasetError(MMVanillaError, FileNotFoundError):
    """A dataset is missing or unreadable."""


class TrainingDivergedError(MMVanillaError, RuntimeError):
    """The loss of a training run became NaN or inf."""


class OutputError(MMVanillaError, OSError):
    """An output cannot be written (full disk, file-size limit, read-only)."""


class ThirdPartyError(MMVanillaError, RuntimeError):
    """A library the tools call failed on what it was given (its traceback is
    kept in the log)."""

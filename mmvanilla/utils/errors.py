"""Exceptions that carry one clear, user-facing message, and how any
exception is told in one line."""
import re

from mmvanilla_runtime import failures

# mmengine's registry re-raises build errors as "class `X` in path.py: <msg>".
_REGISTRY_PREFIX = re.compile(r'^(class `\w+` in [^:]+: )+')


def user_message(error: BaseException) -> str:
    """The error's message without mmengine's registry prefixes."""
    return _REGISTRY_PREFIX.sub('', str(error))


def describe(error: BaseException) -> str:
    """``Type: last line of its message`` (registry prefixes removed); for a
    bare ``assert`` (no message), the failing line of code instead."""
    return failures.describe(error, lambda text: _REGISTRY_PREFIX.sub('', text))


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

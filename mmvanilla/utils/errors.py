"""Exceptions that carry one clear, user-facing message."""


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

from .errors import CheckpointError, ConfigError, DatasetError, MMVanillaError

__all__ = ['MMVanillaError', 'ConfigError', 'CheckpointError', 'DatasetError']
from .safe_checkpoint import SAFE_GLOBALS, safe_load  # noqa: E402

__all__ += ['SAFE_GLOBALS', 'safe_load']

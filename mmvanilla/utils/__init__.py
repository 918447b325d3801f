from .errors import CheckpointError, ConfigError, DatasetError, MMVanillaError

__all__ = ['MMVanillaError', 'ConfigError', 'CheckpointError', 'DatasetError']
from .safe_checkpoint import SAFE_GLOBALS, safe_load  # noqa: E402

__all__ += ['SAFE_GLOBALS', 'safe_load']
from .checkpoint_files import latest_complete_checkpoint  # noqa: E402

__all__ += ['latest_complete_checkpoint']

"""The library layer the tools and benchmarks share (mmdet's ``apis`` is the
model): configs as the tools read them, the pre-flight checks, building,
loading and fusing a detector, timing a callable. Importing it imports
:mod:`mmvanilla.plugin` (registries, safe checkpoint loading)."""
import mmvanilla.plugin  # noqa: F401

from .config import add_custom_hook, load_config, load_runner_config
from .config_checks import check_config
from .detector import build_detector, fused_copy
from mmvanilla.utils.timing import time_calls, timed

__all__ = ['add_custom_hook', 'build_detector', 'check_config', 'fused_copy', 'load_config',
           'load_runner_config', 'time_calls', 'timed']

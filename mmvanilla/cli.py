"""The tools' one entry point: process set-up once, user errors in one line.

``tools/<name>.py`` is ``run_as_program('mmvanilla.tools.<name>')``; tests and
notebooks call ``mmvanilla.tools.<name>.main(argv)`` directly, or through
:func:`call` to get what a user sees (the ``error: ...`` line, exit status 2).
Light: nothing here imports torch or mmdet.
"""
import gc
import importlib
import re
import sys
import warnings
from typing import Callable, List, Optional

from mmvanilla import runtime
from mmvanilla.utils.errors import (ConfigError, DatasetError, MMVanillaError, OutputError,
                                    ThirdPartyError, describe, user_message)
from mmvanilla_runtime.errors import RuntimeInputError
from mmvanilla_runtime.failures import (INTERRUPTED, USER_ERROR, run_main,  # noqa: F401
                                        third_party_origin, write_failure)

# mmcv's LoadImageFromFile, also when re-raised from a DataLoader worker.
_UNREADABLE_IMAGE = re.compile(r'failed to load image: (\S+)')


def translate(error: BaseException) -> Optional[MMVanillaError]:
    """The user error an exception stands for, or None (a bug of mmvanilla's
    own: re-raised with its traceback).

    Besides mmvanilla's own errors: an unreadable image, a refused write (full
    disk, file-size limit, read-only), memory exhausted, and any other failure
    inside a third-party library (torch, mmcv, mmengine, mmdet, OpenCV, ...):
    raised there, it is almost always a config value or an input that library
    cannot use, so it is reported in one line naming the library.
    """
    if isinstance(error, MMVanillaError):
        return error
    if isinstance(error, RuntimeInputError):  # the runtime's and the output guard's
        return ConfigError(str(error))
    match = _UNREADABLE_IMAGE.search(str(error))
    if match:
        return DatasetError(
            f'image {match.group(1)} cannot be read (missing, empty or not an '
            f'image): replace it or remove it from the annotation file')
    if write_failure(error):
        return OutputError(write_failure(error))
    if isinstance(error, MemoryError):
        return ConfigError('out of memory: lower train_dataloader.batch_size, the image '
                           'scale or the model size, or use a machine with more memory')
    origin = third_party_origin(error)
    if origin is None:
        return None
    built = re.findall(r'class `(\w+)`', str(error))
    while_building = f' while building {built[-1]}' if built else ''
    return ThirdPartyError(f'{origin} raised{while_building} {describe(error)} '
                           f'(usually a config value or an input it cannot use)')


def _log_files() -> List[str]:
    """The run's log file, where mmengine keeps one."""
    logger_module = sys.modules.get('mmengine.logging')
    if logger_module is None:
        return []
    logger = logger_module.MMLogger.get_current_instance()
    return [h.baseFilename for h in logger.handlers if hasattr(h, 'baseFilename')]


def call(main: Callable[[Optional[List[str]]], None], argv: List[str]) -> int:
    """Run a tool's ``main(argv)`` as its program would: mmengine's console
    shows warnings only unless ``--verbose``; a user error (see
    :func:`translate`) is one ``error: ...`` line on stderr and status 2, a
    third-party failure's traceback goes to the log file (``--verbose``: also
    to stderr). Returns the exit status."""
    if '--verbose' not in argv:
        from mmvanilla.utils.console import quiet_console
        quiet_console()

    def message(error: BaseException) -> Optional[str]:
        user_error = translate(error)
        return None if user_error is None else user_message(user_error)
    return run_main(main, argv, message, own_errors=(MMVanillaError, RuntimeInputError), log_files=_log_files,
                    interrupted='interrupted: checkpoints and outputs written so far are '
                    'complete (train.py --resume continues a training)')


def run_as_program(module: str) -> None:
    """``python tools/<tool>.py``: re-execute once with the tuned runtime
    (before torch is imported, see :mod:`mmvanilla.runtime`), hide one known
    deprecation warning, then import ``module``, freeze what the imports made
    (``gc.freeze``), and exit with :func:`call`'s status."""
    argv = sys.argv[1:]
    runtime.start_program(argv)
    # mmengine imports pkg_resources, which setuptools deprecates on every
    # import: nothing a user of these tools can act on. Every other warning stays.
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated',
                            category=UserWarning)
    try:
        tool_main = importlib.import_module(module).main
    except Exception as error:  # (a library that does not fit this environment)
        def tool_main(args, error=error):  # told by the failure layer, as in main
            raise error
    # What the imports made lives as long as the process: out of the collector's sight.
    # mmengine collects at every dataset build (BaseDataset's serialization) and CPython
    # runs full collections on its own, each walking mmdet's half a million import-time
    # objects (0.3-0.6 s on a 2-core AMD EPYC Zen 3), far less after the freeze. No
    # collection first: it would cost one of those, for the few cycles imports leave.
    gc.freeze()
    sys.exit(call(tool_main, argv))

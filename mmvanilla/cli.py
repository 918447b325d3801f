"""The tools' one entry point: process set-up once, user errors in one line.

``tools/<name>.py`` is ``run_as_program('mmvanilla.tools.<name>')``; tests and
notebooks call ``mmvanilla.tools.<name>.main(argv)`` directly, or through
:func:`call` to get what a user sees (the ``error: ...`` line, exit status 2).
Light: nothing here imports torch or mmdet.
"""
import errno
import importlib
import os
import os.path as osp
import re
import sys
import tempfile
import traceback
import warnings
from typing import Callable, List, Optional

from mmvanilla import runtime
from mmvanilla.utils.errors import (ConfigError, DatasetError, MMVanillaError, OutputError,
                                    ThirdPartyError, describe, user_message)

#: Exit status of a user error (argparse's own, for bad arguments).
USER_ERROR = 2
#: Exit status after Ctrl-C (128 + SIGINT, as a shell reports it).
INTERRUPTED = 130
_PACKAGE_DIR = osp.dirname(osp.abspath(__file__))
#: What the operating system's refusals to write mean for the user.
_WRITE_FAILURES = {
    errno.ENOSPC: 'the disk is full: free space, or write to another disk',
    errno.EDQUOT: 'the disk quota is used up: free space, or write elsewhere',
    errno.EFBIG: 'the file would exceed the file-size limit (ulimit -f): raise it, or '
                 'write elsewhere',
    errno.EROFS: 'the file system is read-only: write to another folder',
}
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
    if type(error).__name__ == 'RuntimeInputError':  # mmvanilla_runtime's user errors
        return ConfigError(str(error))
    match = _UNREADABLE_IMAGE.search(str(error))
    if match:
        return DatasetError(
            f'image {match.group(1)} cannot be read (missing, empty or not an '
            f'image): replace it or remove it from the annotation file')
    if isinstance(error, OSError) and error.errno in _WRITE_FAILURES:
        where = f' {error.filename!r}' if error.filename else ''
        return OutputError(f'cannot write{where}: {_WRITE_FAILURES[error.errno]}; what was '
                           f'written before is complete (outputs are written atomically)')
    if isinstance(error, MemoryError):
        return ConfigError('out of memory: lower train_dataloader.batch_size, the image '
                           'scale or the model size, or use a machine with more memory')
    origin = _third_party_origin(error)
    if origin is None:
        return None
    built = re.findall(r'class `(\w+)`', str(error))
    while_building = f' while building {built[-1]}' if built else ''
    return ThirdPartyError(f'{origin} raised{while_building} {describe(error)} '
                           f'(usually a config value or an input it cannot use)')


def _third_party_origin(error: BaseException) -> Optional[str]:
    """The library that ``error`` came from: the top-level package of the
    first frame after the last one in mmvanilla's own code (the call that
    handed it what it failed on), Python's standard library not counted;
    None where there is none (mmvanilla's own code failed, directly or in
    the standard library: a bug) or the traceback is unknown."""
    frames = []
    tb = error.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    ours = [i for i, frame in enumerate(frames) if _is_ours(frame)]
    after = frames[ours[-1] + 1:] if ours else frames
    packages = [(frame.f_globals.get('__name__') or '').split('.')[0] for frame in after]
    return next((p for p in packages if p and p not in sys.stdlib_module_names), None)


def _is_ours(frame) -> bool:
    return osp.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR + os.sep)


def _keep_traceback(error: BaseException, verbose: bool) -> str:
    """Write ``error``'s traceback to the run's log file (or a file of its
    own) and, with ``--verbose``, to stderr; returns where it went."""
    text = ''.join(traceback.format_exception(type(error), error, error.__traceback__))
    if verbose:
        print(text, file=sys.stderr, end='', flush=True)
    path = None
    logger_module = sys.modules.get('mmengine.logging')
    if logger_module is not None:
        logger = logger_module.MMLogger.get_current_instance()
        path = next((h.baseFilename for h in logger.handlers
                     if hasattr(h, 'baseFilename')), None)
    if path is None:
        path = osp.join(tempfile.gettempdir(), f'mmvanilla-error-{os.getpid()}.log')
    try:
        with open(path, 'a') as f:
            f.write(text)
    except OSError:  # (the disk may be what failed)
        return 'not written: --verbose shows it'
    return path


def call(main: Callable[[Optional[List[str]]], None], argv: List[str]) -> int:
    """Run a tool's ``main(argv)`` as its program would: mmengine's console
    shows warnings only unless ``--verbose``; a user error (see
    :func:`translate`) is one ``error: ...`` line on stderr and status 2, a
    third-party failure's traceback goes to the log file (``--verbose``: also
    to stderr). Returns the exit status."""
    if '--verbose' not in argv:
        from mmvanilla.utils.console import quiet_console
        quiet_console()
    try:
        main(argv)
    except KeyboardInterrupt:
        print('error: interrupted: checkpoints and outputs written so far are complete '
              '(train.py --resume continues a training)', file=sys.stderr, flush=True)
        return INTERRUPTED
    except Exception as e:  # noqa: BLE001 - re-raised unless it is a user error
        user_error = translate(e)
        if user_error is None:
            raise
        message = user_message(user_error)
        if user_error is not e:  # a third-party failure: its traceback is kept
            message += f'; traceback in {_keep_traceback(e, "--verbose" in argv)}'
        print(f'error: {message}', file=sys.stderr, flush=True)
        return USER_ERROR
    return 0


def run_as_program(module: str) -> None:
    """``python tools/<tool>.py``: re-execute once with the tuned runtime
    (before torch is imported, see :mod:`mmvanilla.runtime`), hide one known
    deprecation warning, then import ``module`` and exit with :func:`call`'s
    status."""
    argv = sys.argv[1:]
    if '--no-tuned-runtime' in argv:
        os.environ['MMVANILLA_TUNED_RUNTIME'] = '0'
    runtime.reexec_with_tuned_runtime()
    # mmengine imports pkg_resources, which setuptools deprecates on every
    # import: nothing a user of these tools can act on. Every other warning stays.
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated',
                            category=UserWarning)
    sys.exit(call(importlib.import_module(module).main, argv))

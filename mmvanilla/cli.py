"""The tools' one entry point: process set-up once, user errors in one line.

``tools/<name>.py`` is ``run_as_program('mmvanilla.tools.<name>')``; tests and
notebooks call ``mmvanilla.tools.<name>.main(argv)`` directly, or through
:func:`call` to get what a user sees (the ``error: ...`` line, exit status 2).
Light: nothing here imports torch or mmdet.
"""
import importlib
import os
import re
import sys
import warnings
from typing import Callable, List, Optional

from mmvanilla import runtime
from mmvanilla.utils.errors import DatasetError, MMVanillaError

#: Exit status of a user error (argparse's own, for bad arguments).
USER_ERROR = 2
# mmengine's registry re-raises build errors as "class `X` in path.py: <msg>".
_REGISTRY_PREFIX = re.compile(r'^(class `\w+` in [^:]+: )+')
# mmcv's LoadImageFromFile, also when re-raised from a DataLoader worker.
_UNREADABLE_IMAGE = re.compile(r'failed to load image: (\S+)')


def user_message(error: BaseException) -> str:
    """The error's message without mmengine's registry prefixes."""
    return _REGISTRY_PREFIX.sub('', str(error))


def translate(error: BaseException) -> Optional[MMVanillaError]:
    """The user error an exception stands for, or None (a bug: re-raised)."""
    if isinstance(error, MMVanillaError):
        return error
    match = _UNREADABLE_IMAGE.search(str(error))
    if match:
        return DatasetError(
            f'image {match.group(1)} cannot be read (missing, empty or not an '
            f'image): replace it or remove it from the annotation file')
    return None


def call(main: Callable[[Optional[List[str]]], None], argv: List[str]) -> int:
    """Run a tool's ``main(argv)`` as its program would: mmengine's console
    shows warnings only unless ``--verbose``; a user error is one
    ``error: ...`` line on stderr and status 2. Returns the exit status."""
    if '--verbose' not in argv:
        from mmvanilla.utils.console import quiet_console
        quiet_console()
    try:
        main(argv)
    except Exception as e:  # noqa: BLE001 - re-raised unless it is a user error
        user_error = translate(e)
        if user_error is None:
            raise
        print(f'error: {user_message(user_error)}', file=sys.stderr, flush=True)
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

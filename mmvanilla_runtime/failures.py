"""Any failure of a program as one line: what the tools (``mmvanilla.cli``)
and the runtime's command line (``python -m mmvanilla_runtime``) share.

A program's entry calls :func:`run_main`; its own user errors carry their
message, and whatever else escapes is told in one ``error: ...`` line with
its traceback kept in a file (``--verbose``: on stderr too). Standard
library only.
"""
import argparse
import errno
import os
import os.path as osp
import sys
import tempfile
import traceback
from typing import Callable, Iterable, List, Optional

#: Exit status of a user error (argparse's own, for bad arguments).
USER_ERROR = 2
#: Exit status after Ctrl-C (128 + SIGINT, as a shell reports it).
INTERRUPTED = 130
#: Where the project's own code lives (mmvanilla and this runtime).
OWN_DIRS = tuple(osp.dirname(osp.abspath(p)) + os.sep for p in (
    __file__, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'mmvanilla',
                       '__init__.py')))
#: What the operating system's refusals to write mean for the user.
WRITE_FAILURES = {
    errno.ENOSPC: 'the disk is full: free space, or write to another disk',
    errno.EDQUOT: 'the disk quota is used up: free space, or write elsewhere',
    errno.EFBIG: 'the file would exceed the file-size limit (ulimit -f): raise it, or '
                 'write elsewhere',
    errno.EROFS: 'the file system is read-only: write to another folder',
}


class UsageError(Exception):
    """A command line that argparse refused; its message is the whole story."""


class OneLineParser(argparse.ArgumentParser):
    """argparse whose refusals are raised as :class:`UsageError` (told in one
    line by :func:`run_main`) instead of a usage block and ``SystemExit``."""

    def error(self, message: str):
        raise UsageError(f'{message} ({self.prog} --help)')


def write_failure(error: BaseException) -> Optional[str]:
    """The one line for a refused write (full disk, limit, read-only), or None."""
    if not (isinstance(error, OSError) and error.errno in WRITE_FAILURES):
        return None
    where = f' {error.filename!r}' if error.filename else ''
    return (f'cannot write{where}: {WRITE_FAILURES[error.errno]}; what was written before '
            f'is complete (outputs are written atomically)')


def describe(error: BaseException, strip=lambda text: text) -> str:
    """``Type: last line of its message``; for a bare ``assert`` (no message),
    the failing line of code instead."""
    lines = [line.strip() for line in strip(str(error)).splitlines() if line.strip()]
    if lines:
        return f'{type(error).__name__}: {lines[-1][:300]}'
    frames = traceback.extract_tb(error.__traceback__)
    if frames:
        last = frames[-1]
        return (f'{type(error).__name__} at {osp.basename(last.filename)}:{last.lineno}: '
                f'{last.line}')
    return type(error).__name__


def is_own(filename: str) -> bool:
    return osp.abspath(filename).startswith(OWN_DIRS)


def third_party_origin(error: BaseException) -> Optional[str]:
    """The library ``error`` came from: the top-level package of the first
    frame after the last one in the project's own code (the call that handed
    it what it failed on), Python's standard library not counted; for an
    error raised in compiled code called from ours (OpenCV's ``cv2.error``),
    the package of its type. None where there is none: the project's own
    code failed (a bug), directly or in the standard library."""
    frames = []
    tb = error.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    ours = [i for i, frame in enumerate(frames) if is_own(frame.f_code.co_filename)]
    after = frames[ours[-1] + 1:] if ours else frames
    packages = [(frame.f_globals.get('__name__') or '').split('.')[0] for frame in after]
    packages.append(type(error).__module__.split('.')[0])
    return next((p for p in packages if p and p not in sys.stdlib_module_names
                 and p not in ('builtins', 'mmvanilla', 'mmvanilla_runtime')), None)


def keep_traceback(error: BaseException, verbose: bool, log_files: Iterable[str] = ()) -> str:
    """Write ``error``'s traceback to the first of ``log_files`` (else a file
    of its own in the temporary folder) and, with ``verbose``, to stderr;
    returns where it went."""
    text = ''.join(traceback.format_exception(type(error), error, error.__traceback__))
    if verbose:
        print(text, file=sys.stderr, end='', flush=True)
    path = next(iter(log_files), None) or osp.join(
        tempfile.gettempdir(), f'mmvanilla-error-{os.getpid()}.log')
    try:
        with open(path, 'a') as f:
            f.write(text)
    except OSError:  # (the disk may be what failed)
        return 'not written: --verbose shows it'
    return path


def run_main(main: Callable[[Optional[List[str]]], Optional[int]], argv: List[str],
             translate: Callable[[BaseException], Optional[str]],
             own_errors: tuple = (), log_files: Callable[[], Iterable[str]] = tuple,
             bugs_in_one_line: bool = False, interrupted: str = 'interrupted') -> int:
    """Run ``main(argv)``: its status; a failure that ``translate`` tells as
    a user's (a message) is one ``error:`` line and status 2, its traceback
    kept unless it is one of ``own_errors`` (whose message is the whole
    story); anything else is a bug: re-raised with its traceback, or with
    ``bugs_in_one_line`` told in one line too (its traceback kept)."""
    verbose = '--verbose' in argv
    try:
        return main(argv) or 0
    except KeyboardInterrupt:
        print(f'error: {interrupted}', file=sys.stderr, flush=True)
        return INTERRUPTED
    except UsageError as e:
        print(f'error: {e}', file=sys.stderr, flush=True)
        return USER_ERROR
    except Exception as e:  # noqa: BLE001 - told in one line, or re-raised (a bug)
        message = translate(e)
        if message is None and not bugs_in_one_line:
            raise
        if message is None:
            message = (f'unexpected failure, {describe(e)}: a bug of mmvanilla\'s, please '
                       f'report it with the traceback')
        if not isinstance(e, own_errors):
            message += f'; traceback in {keep_traceback(e, verbose, log_files())}'
        print(f'error: {message}', file=sys.stderr, flush=True)
        return USER_ERROR

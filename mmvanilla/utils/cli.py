"""Run a tool's ``main`` so that user errors print one line, not a traceback."""
import re
import sys
from typing import Callable

from mmvanilla.utils.errors import MMVanillaError

# mmengine's registry re-raises build errors as "class `X` in path.py: <msg>".
_REGISTRY_PREFIX = re.compile(r'^(class `\w+` in [^:]+: )+')


def user_message(error: BaseException) -> str:
    """The error's message without mmengine's registry prefixes."""
    return _REGISTRY_PREFIX.sub('', str(error))


def run_cli(main: Callable[[], None]) -> None:
    """Call ``main``; an :class:`MMVanillaError` exits 2 with its message."""
    try:
        main()
    except MMVanillaError as e:
        print(f'error: {user_message(e)}', file=sys.stderr)
        sys.exit(2)

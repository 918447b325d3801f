"""``--cfg-options`` as every entry point parses it (mmengine alone: a
launcher that passes the options on checks them without importing mmdet)."""
from mmengine.config import DictAction

from mmvanilla.utils.errors import ConfigError


class CfgOptionsAction(DictAction):
    """mmengine's ``--cfg-options`` parser; a value it cannot parse (an
    unclosed bracket; ``dict(...)``, on which it recurses without end) is one
    error line instead of an AssertionError or a RecursionError."""

    def __call__(self, parser, namespace, values, option_string=None):
        try:
            super().__call__(parser, namespace, values, option_string)
        except (AssertionError, ValueError, RecursionError) as e:
            detail = 'no dict(...) values: set their keys one by one, KEY.SUBKEY=VALUE, ' \
                'or put them in a config file' if isinstance(e, RecursionError) else str(e)
            raise ConfigError(f'--cfg-options {" ".join(values)!r} cannot be parsed ({detail}): '
                              f'write KEY=VALUE, lists as KEY=[a,b] with brackets closed'
                              ) from None

"""What the tools show on the console: results and progress, not mmengine's log."""
import contextlib
import io
import logging

from mmengine.dist import is_main_process
from mmengine.logging import MMLogger


def console_handlers(logger: logging.Logger):
    """The logger's handlers that write to the terminal (not to a file)."""
    return [h for h in logger.handlers
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]


class KnownThirdPartyNoise(logging.Filter):
    """Drops mmengine's own deprecation notices and one mmdet metric notice from
    the console (the log file keeps them): nothing a user of the tools can act on."""

    PREFIXES = ('"FileClient" will be deprecated', '"HardDiskBackend" is the alias',
                'The prefix is not set in metric class DumpDetResults',
                # DetInferencer builds its collate function outside mmdet's scope
                'Failed to search registry with scope "mmdet" in the "function"')

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.PREFIXES)


def quiet_handlers(logger: logging.Logger) -> None:
    """The logger's console handlers show warnings only, known noise dropped."""
    for handler in console_handlers(logger):
        handler.setLevel(max(handler.level, logging.WARNING))
        handler.addFilter(KnownThirdPartyNoise())


def announce(logger: logging.Logger, message: str) -> None:
    """Log ``message`` at INFO and make sure it reaches the console too,
    also when the tools keep mmengine's INFO log off the console."""
    logger.info(message)
    if is_main_process() and not any(h.level <= logging.INFO for h in console_handlers(logger)):
        print(message, flush=True)


def quiet_console(verbose: bool = False) -> None:
    """For tools without a Runner: mmengine's current logger (initialisation
    dumps, per-parameter info) shows warnings only unless ``verbose``."""
    if not verbose:
        quiet_handlers(MMLogger.get_current_instance())


class _ToLogAtInfo(logging.Handler):
    """Hands each record to ``target`` at INFO, naming its level and logger."""

    def __init__(self, target: logging.Logger):
        super().__init__()
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        if record.name != self.target.name:  # (not the target's own, propagated)
            self.target.info(f'{record.levelname} ({record.name}): {record.getMessage()}')


@contextlib.contextmanager
def stdout_to_log(logger: logging.Logger, root_logging: bool = False):
    """What third-party code prints meanwhile (pycocotools' index messages and
    tables) goes to ``logger`` at INFO instead of the console; with
    ``root_logging``, so do the records it logs through the root logger (ONNX
    Runtime's quantizer notes each layer it leaves in float there)."""
    buffer = io.StringIO()
    handler = _ToLogAtInfo(logger) if root_logging else None
    if handler:
        # with a handler in place, logging.warning() no longer adds its own
        # stderr handler to the root logger (logging.basicConfig)
        logging.root.addHandler(handler)
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        if handler:
            logging.root.removeHandler(handler)
        if buffer.getvalue().strip():
            logger.info('\n' + buffer.getvalue().rstrip())

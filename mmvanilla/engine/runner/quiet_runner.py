"""An mmengine Runner whose console shows warnings and a short summary only."""
from mmengine.logging import MMLogger
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmvanilla.utils.console import quiet_handlers, stdout_to_log


@RUNNERS.register_module()
class QuietRunner(Runner):
    """mmengine's Runner with its console at WARNING; the log file keeps INFO.

    The tools use it unless ``--verbose``: the config dump, environment,
    initialisation and per-iteration logs, and what pycocotools prints while
    datasets and metrics load, go to ``work_dir/<time>/<time>.log``;
    :class:`~mmvanilla.engine.hooks.ConsoleSummaryHook` prints the progress.
    """

    @staticmethod
    def build_dataloader(*args, **kwargs):
        with stdout_to_log(MMLogger.get_current_instance()):
            return Runner.build_dataloader(*args, **kwargs)

    def build_evaluator(self, evaluator):
        with stdout_to_log(self.logger):
            return super().build_evaluator(evaluator)

    def train(self):
        try:
            return super().train()
        finally:
            self._release_console()

    def val(self):
        try:
            return super().val()
        finally:
            self._release_console()

    def test(self):
        try:
            return super().test()
        finally:
            self._release_console()

    def _release_console(self) -> None:
        """A run that raised mid-evaluation leaves the summary hook's console
        capture open; close it (else its text and a second traceback follow)."""
        for hook in self.hooks:
            release = getattr(hook, 'release_console', None)
            if release is not None:
                release()

    def build_logger(self, log_level='INFO', log_file=None, **kwargs) -> MMLogger:
        logger = super().build_logger(log_level, log_file, **kwargs)
        quiet_handlers(logger)
        return logger

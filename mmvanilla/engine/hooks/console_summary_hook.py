"""Print a run's progress and results in a few lines (tools' quiet mode)."""
import time
from typing import Dict, Optional

from mmdet.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmvanilla.utils.console import stdout_to_log

_SHOWN = ('bbox_mAP', 'bbox_mAP_50', 'segm_mAP', 'segm_mAP_50')


def format_metrics(metrics: Optional[Dict[str, float]]) -> str:
    """``bbox AP 0.525  AP50 0.729`` from mmdet's ``coco/...`` metrics."""
    if not metrics:
        return 'no metrics (no detections above the score threshold?)'
    parts = []
    for key in _SHOWN:
        value = next((v for k, v in metrics.items() if k.split('/')[-1] == key), None)
        if value is not None:
            kind, name = key.split('_', 1)
            parts.append(f'{kind} {"AP" if name == "mAP" else "AP50"} {value:.3f}')
    return '  '.join(parts) or ', '.join(f'{k} {v}' for k, v in metrics.items())


@HOOKS.register_module()
class ConsoleSummaryHook(Hook):
    """One line per training epoch (mean loss, time), one per evaluation.

    What pycocotools prints during an evaluation goes to the log file instead.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self._stdout = None
        self._loss_sum, self._iters, self._start = 0.0, 0, time.time()

    def before_run(self, runner) -> None:
        log = getattr(runner.logger, 'log_file', None)
        self._print(f'{runner.experiment_name}: full log in {log}' if log else '')

    def before_train_epoch(self, runner) -> None:
        self._loss_sum, self._iters, self._start = 0.0, 0, time.time()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if outputs and 'loss' in outputs:
            loss = outputs['loss']  # a tensor with its graph: no grad needed here
            self._loss_sum += float(loss.detach() if hasattr(loss, 'detach') else loss)
            self._iters += 1

    def after_train_epoch(self, runner) -> None:
        loss = self._loss_sum / max(self._iters, 1)
        self._print(f'epoch {runner.epoch + 1:>3}/{runner.max_epochs}  loss {loss:.4f}  '
                    f'{time.time() - self._start:.0f} s')

    def _capture(self, runner) -> None:
        self._stdout = stdout_to_log(runner.logger)
        self._stdout.__enter__()

    def release_console(self) -> None:
        """End the capture of what third-party code prints (idempotent)."""
        if self._stdout is not None:
            self._stdout.__exit__(None, None, None)
            self._stdout = None

    def before_val_epoch(self, runner) -> None:
        self._capture(runner)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.release_console()
        self._print(f'  val after epoch {runner.epoch}: {format_metrics(metrics)}')

    def before_test_epoch(self, runner) -> None:
        self._capture(runner)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self.release_console()
        self._print(f'test: {format_metrics(metrics)}')

    @staticmethod
    def _print(line: str) -> None:
        if line and is_main_process():
            print(line, flush=True)

"""Run the fused model in bf16, fp16 or INT8 for testing (``tools/test.py --precision``)."""
from typing import Optional

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmvanilla.utils.console import announce
from mmvanilla.utils.errors import ConfigError


@HOOKS.register_module()
class DeployPrecisionHook(Hook):
    """After the checkpoint is loaded and the model fused (SwitchToDeployHook
    runs first), switch it to ``precision`` before testing.

    Args:
        precision: 'bf16', 'fp16' or 'int8' ('fp32' changes nothing but says so).
        int8_artefact: The INT8 artefact folder (``tools/quantize.py``), for int8:
            the runner's model becomes a :class:`DeployedDetector` around it.
    """

    priority = 'HIGH'

    def __init__(self, precision: str, int8_artefact: Optional[str] = None):
        from mmvanilla.deploy.precision import PRECISIONS
        if precision not in PRECISIONS:
            raise ConfigError(f'DeployPrecisionHook: precision must be one of '
                              f'{", ".join(PRECISIONS)}, got {precision!r}')
        self.precision = precision
        self.int8_artefact = int8_artefact

    def before_test(self, runner) -> None:
        from mmvanilla.deploy.precision import apply_precision
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        deployed, info = apply_precision(model, self.precision, self.int8_artefact)
        if deployed is not model:  # int8: the artefact, wrapped around the detector
            runner.model = deployed
        announce(runner.logger, f'precision {info["precision"]}: {info["runs"]}')

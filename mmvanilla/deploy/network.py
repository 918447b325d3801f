"""A single-stage detector's network, from image tensor to head outputs."""
from typing import Tuple

from torch import Tensor, nn

from mmvanilla.utils.errors import ConfigError


def check_single_stage(model: nn.Module, what: str) -> None:
    """Refuse detectors whose network runs NMS inside (two-stage)."""
    if not hasattr(model, 'bbox_head') or hasattr(model, 'roi_head'):
        raise ConfigError(
            f'{what} covers single-stage detectors (e.g. RetinaNet): a two-stage '
            'detector runs NMS and RoIAlign inside its network; export the backbone '
            'alone, or the whole detector with tools/deploy.py')


class DetectorNetwork(nn.Module):
    """Backbone, neck and dense head: everything before post-processing.

    Returns the head's per-level outputs flattened level-major per kind
    (RetinaNet: 5 class-score maps, then 5 box-delta maps).
    """

    def __init__(self, detector: nn.Module):
        super().__init__()
        check_single_stage(detector, 'the detector network')
        self.detector = detector

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        outs = self.detector.bbox_head(self.detector.extract_feat(x))
        return tuple(t for kind in outs for t in kind)

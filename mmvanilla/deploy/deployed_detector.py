"""An artefact folder (``tools/deploy.py``, ``tools/quantize.py``) inside
mmengine's test loop: ``tools/test.py`` and ``tools/benchmark.py`` run the
deployed model through the same runtime a deployment uses."""
from typing import List

import numpy as np
import torch
from torch import nn

from mmvanilla.deploy.end_to_end import end_to_end_inputs
from mmvanilla_runtime.detector import Detector
from mmvanilla_runtime.masks import paste_mask


class DeployedDetector(nn.Module):
    """Wraps a detector: its data preprocessor prepares the batch, the
    artefact (run by ``mmvanilla_runtime``) computes the detections, which
    come back as the detector's ``DetDataSample`` predictions.

    Args:
        detector: The detector the artefact was made from (for its data
            preprocessor; its own layers are not run).
        folder: The artefact folder.
        engine: 'openvino' or 'onnxruntime'.
    """

    def __init__(self, detector: nn.Module, folder: str, engine: str = 'openvino'):
        super().__init__()
        self.detector = detector
        self.runtime = Detector(folder, engine)

    @property
    def data_preprocessor(self) -> nn.Module:
        return self.detector.data_preprocessor

    def test_step(self, data: dict) -> List:
        from mmengine.structures import InstanceData
        batch = self.detector.data_preprocessor(data, False)
        out = self.runtime.run(end_to_end_inputs(batch))
        samples = batch['data_samples']
        for i, sample in enumerate(samples):
            keep = np.flatnonzero(out['scores'][i] > 0)
            pred = InstanceData(bboxes=torch.from_numpy(out['boxes'][i][keep]),
                                scores=torch.from_numpy(out['scores'][i][keep]),
                                labels=torch.from_numpy(out['labels'][i][keep]))
            if self.runtime.artefact.with_masks:
                height, width = sample.metainfo['ori_shape'][:2]
                masks = [paste_mask(out['masks'][i][k], out['boxes'][i][k], height, width,
                                    self.runtime.artefact.mask_threshold) for k in keep]
                pred.masks = torch.from_numpy(np.stack(masks) if masks else
                                              np.zeros((0, height, width), bool))
            sample.pred_instances = pred
        return samples

    val_step = test_step

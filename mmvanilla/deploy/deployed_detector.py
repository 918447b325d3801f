"""An artefact folder (``tools/deploy.py``, ``tools/quantize.py``) inside
mmengine's test loop: ``tools/test.py`` and ``tools/benchmark.py`` run the
deployed model through the same runtime a deployment uses."""
from typing import List

import torch
from torch import nn

from mmvanilla.deploy.end_to_end import end_to_end_inputs
from mmvanilla_runtime.detector import Detector


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
            rows = self.runtime.kept_rows(out, i)
            pred = InstanceData(bboxes=torch.from_numpy(out['boxes'][i][rows]),
                                scores=torch.from_numpy(out['scores'][i][rows]),
                                labels=torch.from_numpy(out['labels'][i][rows]))
            if self.runtime.artefact.with_masks:
                pred.masks = torch.from_numpy(self.runtime.image_masks(
                    out, i, rows, *sample.metainfo['ori_shape'][:2]))
            sample.pred_instances = pred
        return samples

    val_step = test_step

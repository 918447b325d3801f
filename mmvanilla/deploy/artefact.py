"""Write a fused detector as an artefact folder that ``mmvanilla_runtime``
runs without PyTorch or OpenMMLab: ``model.onnx`` (the end-to-end graph of
:mod:`mmvanilla.deploy.end_to_end`, INT8 QDQ for int8) and ``pipeline.json``
(pre-processing, classes, outputs). Model files and JSON only."""
import json
import os.path as osp
import tempfile
from typing import Callable, List, Optional, Sequence

import torch
from mmengine.config import Config
from torch import nn

from mmvanilla.deploy.end_to_end import EndToEndDetector, Inputs
from mmvanilla.deploy.onnx_export import IMAGE_AXES, export_onnx
from mmvanilla.deploy.precision import TABLE
from mmvanilla.utils.errors import ConfigError
from mmvanilla_runtime.artefact import (DESCRIPTION, FORMAT, FORMAT_VERSION, INPUTS,
                                        check_description, file_hashes, preprocess_problems,
                                        sha256_of)

MODEL_NAME = 'model.onnx'
#: pipeline.json last: it marks a folder complete (utils.paths.staged_folder)
ARTEFACT_FILES = (MODEL_NAME, DESCRIPTION)

def preprocess_spec(cfg: Config) -> dict:
    """What ``mmvanilla_runtime`` must do to an image before the model: the
    config's test pipeline (load, Resize) and data preprocessor, or one
    message naming the step it cannot express."""
    pipeline = cfg.test_dataloader.dataset.get('pipeline', [])
    steps = [step for step in pipeline if step['type'] not in ('LoadAnnotations',
                                                                 'PackDetInputs')]
    kinds = [step['type'] for step in steps]
    resize = steps[1] if len(steps) == 2 else None
    prep = cfg.model.data_preprocessor
    if kinds[:1] != ['LoadImageFromFile'] or resize is None or resize['type'] != 'Resize' \
            or 'scale' not in resize or resize.get('interpolation', 'bilinear') != 'bilinear' \
            or resize.get('backend', 'cv2') != 'cv2' \
            or steps[0].get('color_type', 'color') != 'color' \
            or steps[0].get('to_float32', False) \
            or steps[0].get('imdecode_backend', 'cv2') != 'cv2' \
            or prep.get('type', 'DetDataPreprocessor').split('.')[-1] != 'DetDataPreprocessor' \
            or prep.get('rgb_to_bgr', False):
        raise ConfigError(
            f'the deployed runtime prepares images as LoadImageFromFile (colour, cv2) then '
            f'Resize(scale=..., keep_ratio=..., bilinear) and DetDataPreprocessor '
            f'(mean/std, bgr_to_rgb, padding): the config\'s test pipeline is {kinds} '
            f'(with {prep.get("type", "DetDataPreprocessor")}); change '
            'test_dataloader.dataset.pipeline (or --cfg-options)')
    scale = resize['scale']
    if isinstance(scale, (int, float)) or len(scale) != 2:
        raise ConfigError(f'Resize scale must be (width, height) to deploy, got {scale!r}')
    spec = dict(resize=dict(scale=[int(s) for s in scale],
                            keep_ratio=bool(resize.get('keep_ratio', False)),
                            interpolation='bilinear'),
                to_rgb=bool(prep.get('bgr_to_rgb', False)),
                mean=[float(v) for v in prep.get('mean') or (0, 0, 0)],
                std=[float(v) for v in prep.get('std') or (1, 1, 1)],
                pad_size_divisor=int(prep.get('pad_size_divisor', 1)),
                pad_value=float(prep.get('pad_value', 0)))
    problems = preprocess_problems(spec)  # the runtime's schema, before any export
    if problems:
        raise ConfigError(f'the deployed runtime could not use this config\'s image '
                          f'preparation: {problems[0]}: set it in model.data_preprocessor or '
                          'the test pipeline\'s Resize')
    return spec


def class_names(cfg: Config) -> List[str]:
    """The test set's class names: the config's ``metainfo``, else its
    dataset class's own (``CocoDataset``: COCO's 80)."""
    dataset = cfg.test_dataloader.dataset
    classes = (dataset.get('metainfo') or {}).get('classes')
    if not classes:
        from mmdet.registry import DATASETS
        dataset_class = DATASETS.get(dataset.get('type', ''))
        classes = getattr(dataset_class, 'METAINFO', {}).get('classes', ())
    return [str(c) for c in classes]


def export_end_to_end(model: nn.Module, example: Inputs, path: str) -> EndToEndDetector:
    """The fused detector's end-to-end graph to ONNX at ``path``, batch,
    height and width dynamic."""
    network = EndToEndDetector(model).eval()
    device = next(model.parameters()).device  # a model on a GPU exports as one on the CPU
    args = tuple(torch.from_numpy(example[name]).to(device) for name in INPUTS)
    batch = {0: 'batch'}
    axes = dict(IMAGE_AXES, image_shape=batch, scale_factor=batch,
                **{name: batch for name in network.output_names})
    export_onnx(network, args, path, INPUTS, network.output_names, axes)
    return network


def write_artefact(model: nn.Module, cfg: Config, folder: str, precision: str,
                   example: Inputs, calibration: Optional[Sequence[Callable[[], Inputs]]] = None,
                   producer: Optional[dict] = None, quantizer: str = 'onnxruntime') -> dict:
    """``model.onnx`` and ``pipeline.json`` of the fused ``model`` into
    ``folder`` (a staging folder: the caller moves them into place). int8
    quantizes the graph's network on the ``calibration`` inputs with
    ``quantizer`` (:data:`~mmvanilla.deploy.quantization.QUANTIZERS`). Returns
    the description written."""
    from mmvanilla.deploy.quantization import quantize_onnx
    spec = preprocess_spec(cfg)
    classes = class_names(cfg)
    path = osp.join(folder, MODEL_NAME)
    if precision == 'int8':
        if not calibration:
            raise ConfigError('int8 needs calibration images (the config\'s training set)')
        with tempfile.TemporaryDirectory(dir=folder, prefix='.tmp-fp32-') as tmp:
            fp32 = osp.join(tmp, MODEL_NAME)
            network = export_end_to_end(model, example, fp32)
            quantize_onnx(fp32, path, calibration, [name for name, _ in model.named_children()],
                          quantizer)
    else:
        network = export_end_to_end(model, example, path)
    num_classes = (model.roi_head.bbox_head.num_classes if network.two_stage
                   else model.bbox_head.num_classes)
    if len(classes) != num_classes:
        raise ConfigError(f'the detector has {num_classes} classes and the test set names '
                          f'{len(classes)}: set test_dataloader.dataset.metainfo.classes to '
                          'its class names (the runtime reports them)')
    test_cfg = model.roi_head.test_cfg if network.two_stage else model.bbox_head.test_cfg
    producer = dict(producer or {})
    checkpoint = producer.get('checkpoint')
    producer['checkpoint_sha256'] = sha256_of(checkpoint) if checkpoint else None
    if precision == 'int8':
        producer['quantizer'] = quantizer
    description = dict(
        format=FORMAT, format_version=FORMAT_VERSION, model=MODEL_NAME,
        files=file_hashes(path), precision=precision, runs=TABLE[precision].artefact,
        inputs=list(INPUTS), outputs=list(network.output_names), classes=classes,
        preprocess=spec,
        mask_threshold=float(test_cfg.mask_thr_binary) if network.with_mask else None,
        outputs_note='boxes (B, K, 4) x1y1x2y2 in original image pixels, scores (B, K), '
                     'labels (B, K); rows with score 0 are padding; masks (B, K, M, M) '
                     'probabilities inside each box',
        producer=producer)
    write_description(folder, description)
    return description


def write_description(folder: str, description: dict) -> None:
    """``pipeline.json`` into ``folder``, after the runtime's schema check: a
    tool never writes an artefact that the runtime would refuse."""
    check_description(description, 'the deployed description',
                      'the config gives it (model.data_preprocessor, the test pipeline\'s '
                      'Resize, test_cfg, the classes): change it there')
    with open(osp.join(folder, DESCRIPTION), 'w') as f:
        json.dump(description, f, indent=2)

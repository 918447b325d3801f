"""Run an end-to-end detector made by ``tools/deploy.py`` without PyTorch or
any OpenMMLab package: numpy, OpenCV (image decoding and resizing), pycocotools
(mask RLE) and OpenVINO or ONNX Runtime.

    python -m mmvanilla_runtime OUT_DIR IMAGE_OR_FOLDER... --out results.json

or, in Python::

    from mmvanilla_runtime import Detector
    detector = Detector('work_dirs/deploy/retinanet_int8')
    detections = detector.detect_files(['a.jpg', 'b.jpg'])
"""
import importlib

__all__ = ['Artefact', 'Detector', 'RuntimeInputError']
_HOMES = dict(Artefact='artefact', Detector='detector', RuntimeInputError='errors')


def __getattr__(name: str):
    # Imported when first used: ``mmvanilla_runtime.cpu`` stays light (no numpy,
    # no OpenCV) for mmvanilla's command-line layer, which uses it.
    if name in _HOMES:
        return getattr(importlib.import_module(f'.{_HOMES[name]}', __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

"""What tools/deploy.py and tools/quantize.py share: the fused detector and
its example and calibration inputs, checked before the slow steps."""
import argparse
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np

from mmvanilla.apis.config_checks import check_datasets
from mmvanilla.apis.detector import build_detector
from mmvanilla.deploy.artefact import preprocess_spec
from mmvanilla.deploy.end_to_end import Inputs, check_end_to_end
from mmvanilla.models import switch_to_deploy
from mmvanilla.utils.errors import ConfigError


#: training images calibrated on when --calib-images is not given
CALIB_IMAGES = 300


def add_calibration_arg(parser: argparse.ArgumentParser) -> None:
    """--calib-images and --quantizer, the INT8 options."""
    from mmvanilla.deploy.quantization import QUANTIZERS
    parser.add_argument('--calib-images', type=int,
                        help=f'int8: training images to calibrate on (default {CALIB_IMAGES})')
    parser.add_argument('--quantizer', choices=QUANTIZERS, default=QUANTIZERS[0],
                        help='int8: ONNX Runtime\'s static quantization (default), or NNCF '
                        'with its PERFORMANCE (nncf) or MIXED (nncf-mixed) preset')


def example_inputs(spec: dict) -> Inputs:
    """A traced example at the config's test scale (any values do)."""
    width, height = max(spec['resize']['scale']), min(spec['resize']['scale'])
    divisor = spec['pad_size_divisor']
    padded = [-(-s // divisor) * divisor for s in (height, width)]
    return dict(input=np.random.default_rng(0).standard_normal((1, 3, *padded), np.float32),
                image_shape=np.array([[height, width]], np.float32),
                scale_factor=np.ones((1, 2), np.float32))


def deployment_inputs(cfg, model, precision: str, calib_images: int
                      ) -> Tuple[Inputs, Optional[Sequence[Callable[[], Inputs]]]]:
    """The traced example and, for int8, the calibration inputs (loaded when
    called) of the fused ``model``: the first calibration image is the example."""
    if precision != 'int8':
        return example_inputs(preprocess_spec(cfg)), None
    from mmvanilla.deploy.calibration import calibration_source
    indices, load = calibration_source(cfg, model, calib_images)
    calibration = [lambda i=i: load(i) for i in indices]
    return calibration[0](), calibration


def prepare(args, precision: str):
    """The fused detector, its config and meta, its example inputs and (int8)
    calibration inputs; every check before the slow steps."""
    calib_images = CALIB_IMAGES if args.calib_images is None else args.calib_images
    if calib_images < 1:
        raise ConfigError('--calib-images must be >= 1')
    if precision == 'int8':  # quantization needs onnx, ONNX Runtime, OpenVINO (and NNCF)
        engine_versions(names=ENGINES[:3] + (('nncf',) if args.quantizer != 'onnxruntime'
                                             else ()))
    model, cfg, meta = build_detector(args.config, args.checkpoint, args.cfg_options)
    check_end_to_end(model)
    preprocess_spec(cfg)  # (refuses a pipeline the runtime cannot reproduce)
    if precision == 'int8':
        check_datasets(cfg, ['train'])  # the calibration images, up front
    switch_to_deploy(model)
    return (model, cfg, meta) + deployment_inputs(cfg, model, precision, calib_images)


#: what deployment may use: ONNX export, its engines, and NNCF (--quantizer nncf)
ENGINES = ('onnx', 'onnxruntime', 'openvino', 'nncf')


def engine_versions(required: bool = True, names: Sequence[str] = ENGINES[:3]
                    ) -> Dict[str, str]:
    """The versions of ``names`` (INT8 quantization needs the first three);
    ``required``: one message to install a missing one, else only those
    installed."""
    import importlib
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.import_module(name).__version__
        except ImportError:
            if required:
                raise ConfigError(f'{name} is not installed: pip install -e ".[deploy]" '
                                  '(tools/setup_env.sh installs it)') from None
    return versions


#: ONNX Runtime against PyTorch, largest relative error a network-only graph may have
NETWORK_TOLERANCE = 1e-4


def export_network_checked(model, graph: str, shape: Tuple[int, int], path: str
                           ) -> Dict[str, float]:
    """The fused ``model``'s ``graph`` ('network': everything before
    post-processing, the heads' raw outputs; 'backbone': its stage outputs) to
    ONNX at ``path``, traced at batch 1 and ``shape`` (H, W); returns ONNX
    Runtime's largest relative error against PyTorch there and at batch 2 and
    3/4 of the shape, after refusing any above :data:`NETWORK_TOLERANCE`."""
    import torch
    from torch import nn

    from mmvanilla.deploy import DetectorNetwork
    from mmvanilla.deploy.onnx_export import IMAGE_AXES, export_onnx
    from mmvanilla.utils.numerics import max_rel_err

    class Backbone(nn.Module):
        def __init__(self, backbone):
            super().__init__()
            self.backbone = backbone

        def forward(self, x):
            return tuple(self.backbone(x))

    import onnxruntime as ort  # (tools/deploy.py checked it is there: engine_versions)
    if graph == 'network' and hasattr(model, 'roi_head'):
        raise ConfigError('--graph network: a two-stage detector runs NMS and RoIAlign inside '
                          'its network; deploy it end to end (the default --graph), or export '
                          '--graph backbone')
    network = (Backbone(model.backbone) if graph == 'backbone' else DetectorNetwork(model)).eval()
    height, width = shape
    smaller = [max(32, s * 3 // 4 // 32 * 32) for s in shape]
    rng = np.random.default_rng(0)
    samples = [rng.standard_normal(s, np.float32) for s in
               ((1, 3, height, width), (2, 3, *smaller))]
    export_onnx(network, (torch.from_numpy(samples[0]),), path, ['input'],
                dynamic_axes=IMAGE_AXES)
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    errors = {}
    for sample in samples:
        with torch.no_grad():
            expected = list(network(torch.from_numpy(sample)))
        got = [torch.from_numpy(g) for g in session.run(None, {'input': sample})]
        errors['x'.join(map(str, sample.shape))] = max_rel_err(got, expected)
    worst = max(errors.values())
    if not worst <= NETWORK_TOLERANCE:
        raise ConfigError(f'ONNX Runtime differs from PyTorch by {worst:.2e} > '
                          f'{NETWORK_TOLERANCE:g} on the exported {graph}: nothing written')
    return errors


"""INT8 post-training quantization of a fused detector's end-to-end graph into
a standard QDQ ONNX model, which OpenVINO and ONNX Runtime run: by ONNX
Runtime's static quantization (the default) or by NNCF's presets."""
import logging
from typing import Callable, Dict, List, Sequence

import numpy as np

from mmvanilla.utils.errors import ConfigError


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


#: --quantizer: ONNX Runtime's static quantization, or NNCF (OpenVINO's
#: post-training quantization, its ONNX backend) with its PERFORMANCE preset
#: (symmetric activations) or its MIXED preset (asymmetric activations)
QUANTIZERS = ('onnxruntime', 'nncf', 'nncf-mixed')
Loader = Callable[[], Dict[str, np.ndarray]]


def quantize_onnx(fp32_path: str, int8_path: str, calibration: Sequence[Loader],
                  scopes: Sequence[str], quantizer: str = 'onnxruntime') -> None:
    """Quantize the end-to-end ONNX model at ``fp32_path`` to INT8 QDQ at
    ``int8_path``, calibrated on ``calibration`` (each call loads one
    example's inputs: one in memory at a time). Only the detector's own
    layers are quantized: the nodes the exporter names after the modules in
    ``scopes`` (``/backbone/...``, ``/neck/...``, the heads); anchors, box
    decoding, NMS and RoIAlign stay fp32, so boxes keep their precision.

    ``quantizer`` (:data:`QUANTIZERS`): 'onnxruntime' is
    ``onnxruntime.quantization.quantize_static``, INT8 weights per output
    channel, activation ranges from each tensor's min/max. Its weights use 7
    of their 8 bits (``reduce_range``): CPUs without VNNI (AVX2, early
    AVX-512) multiply u8 x s8 pairs with ``vpmaddubsw``, whose int16 sums
    saturate with full-range weights (measured on an AVX2 EPYC: 0.25
    relative error instead of 0.04 on the tiny test detector). 'nncf' and
    'nncf-mixed' are ``nncf.quantize`` with its PERFORMANCE and MIXED presets
    (its defaults otherwise: bias correction, OpenVINO's CPU rules)."""
    if quantizer not in QUANTIZERS:
        raise ConfigError(f'quantizer must be one of {", ".join(QUANTIZERS)}, got {quantizer!r}')
    nodes = _nodes_in(fp32_path, scopes)
    if quantizer == 'onnxruntime':
        _onnxruntime_quantize(fp32_path, int8_path, calibration, nodes)
    else:
        _nncf_quantize(fp32_path, int8_path, calibration, nodes, quantizer == 'nncf-mixed')


def _onnxruntime_quantize(fp32_path: str, int8_path: str, calibration: Sequence[Loader],
                          nodes: List[str]) -> None:
    try:
        from onnxruntime.quantization import (
            CalibrationDataReader,
            QuantFormat,
            quantize_static,
        )
    except ImportError:
        raise ConfigError('onnxruntime is not installed: pip install -e ".[deploy]" '
                          '(tools/setup_env.sh installs it)') from None

    class Inputs(CalibrationDataReader):
        def __init__(self):
            self.remaining = iter(calibration)

        def get_next(self):
            load = next(self.remaining, None)
            return None if load is None else load()

    # Its advice to run `quant_pre_process` first (shape inference, graph
    # optimisation): OpenVINO optimises the graph itself when it loads it.
    advice = _DropMessage('Please consider')
    logging.getLogger().addFilter(advice)
    try:
        quantize_static(fp32_path, int8_path, Inputs(), quant_format=QuantFormat.QDQ,
                        per_channel=True, reduce_range=True, nodes_to_quantize=nodes,
                        # a layer's output is quantized only as the next
                        # quantized layer's input: the heads' scores and box
                        # deltas reach post-processing in fp32
                        extra_options=dict(OpTypesToExcludeOutputQuantization=[
                            'Conv', 'ConvTranspose', 'Gemm', 'MatMul']))
    finally:
        logging.getLogger().removeFilter(advice)


def _nncf_quantize(fp32_path: str, int8_path: str, calibration: Sequence[Loader],
                   nodes: List[str], mixed: bool) -> None:
    try:
        import nncf
    except ImportError:
        raise ConfigError('NNCF is not installed: pip install -e ".[deploy]" '
                          '(tools/setup_env.sh installs it)') from None
    import onnx
    model = onnx.load(fp32_path)
    keep = set(nodes)
    # (validate=False: NNCF folds some of the post-processing's casts away)
    ignored = nncf.IgnoredScope(names=[n.name for n in model.graph.node if n.name not in keep],
                                validate=False)
    preset = nncf.QuantizationPreset.MIXED if mixed else nncf.QuantizationPreset.PERFORMANCE
    quantized = nncf.quantize(model, nncf.Dataset(calibration, lambda load: load()),
                              subset_size=len(calibration), preset=preset,
                              ignored_scope=ignored)
    onnx.save(quantized, int8_path)


def _nodes_in(path: str, scopes: Sequence[str]) -> List[str]:
    import onnx
    graph = onnx.load(path, load_external_data=False).graph
    nodes = [node.name for node in graph.node if node.name.split('/')[1:2] != []
             and node.name.split('/')[1] in scopes and node.name.count('/') > 1]
    if not nodes:  # (quantize_static would then quantize every node)
        raise RuntimeError(f'no node of {path!r} is named after {list(scopes)}: the '
                           'exporter\'s node names changed; quantization needs them')
    return nodes

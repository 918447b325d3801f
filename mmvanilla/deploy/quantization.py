"""INT8 post-training quantization of a fused detector's end-to-end graph:
ONNX Runtime's static quantization writes a standard QDQ ONNX model, which
OpenVINO runs (why these two: docs/benchmarks.md, "bf16 and INT8")."""
import logging
from typing import Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

from mmvanilla.utils.errors import ConfigError


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def quantize_onnx(fp32_path: str, int8_path: str,
                  inputs: Iterable[Union[Dict[str, np.ndarray], np.ndarray]],
                  scopes: Optional[Sequence[str]] = None) -> None:
    """Quantize the ONNX model at ``fp32_path`` to INT8 QDQ at ``int8_path``
    with ``onnxruntime.quantization.quantize_static``: INT8 weights per output
    channel, INT8 activations with ranges from the min/max of each tensor over
    ``inputs`` (dicts of the model's inputs, or arrays for its one input
    ``input``; read one at a time).

    With ``scopes``, only the detector's own layers are quantized: the nodes
    the exporter names after the modules in ``scopes`` (``/backbone/...``, ``/neck/...``,
    the heads); anchors, box decoding, NMS and RoIAlign stay fp32, so boxes
    keep their precision.

    Weights use 7 of their 8 bits (``reduce_range``): CPUs without VNNI (AVX2,
    early AVX-512) multiply u8 x s8 pairs with ``vpmaddubsw``, whose int16
    sums saturate with full-range weights (measured on an AVX2 EPYC: 0.25
    relative error instead of 0.04 on the tiny test detector). The model then
    runs correctly on every x86 CPU, whichever one quantized it."""
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
            self.remaining = iter(inputs)

        def get_next(self):
            x = next(self.remaining, None)
            return x if x is None or isinstance(x, dict) else {'input': x}

    # Its advice to run `quant_pre_process` first (shape inference, graph
    # optimisation): OpenVINO optimises the graph itself when it loads it.
    advice = _DropMessage('Please consider')
    logging.getLogger().addFilter(advice)
    try:
        quantize_static(fp32_path, int8_path, Inputs(), quant_format=QuantFormat.QDQ,
                        per_channel=True, reduce_range=True,
                        nodes_to_quantize=_nodes_in(fp32_path, scopes) if scopes else None,
                        # a layer's output is quantized only as the next
                        # quantized layer's input: the heads' scores and box
                        # deltas reach post-processing in fp32
                        extra_options=dict(OpTypesToExcludeOutputQuantization=[
                            'Conv', 'ConvTranspose', 'Gemm', 'MatMul']))
    finally:
        logging.getLogger().removeFilter(advice)


def _nodes_in(path: str, scopes: Sequence[str]) -> List[str]:
    import onnx
    graph = onnx.load(path, load_external_data=False).graph
    nodes = [node.name for node in graph.node if node.name.split('/')[1:2] != []
             and node.name.split('/')[1] in scopes and node.name.count('/') > 1]
    if not nodes:  # (quantize_static would then quantize every node)
        raise RuntimeError(f'no node of {path!r} is named after {list(scopes)}: the '
                           'exporter\'s node names changed; quantization needs them')
    return nodes

"""INT8 post-training quantization of a fused single-stage detector's network:
ONNX Runtime's static quantization writes a standard QDQ ONNX model, which
OpenVINO runs (why these two: docs/benchmarks.md, "bf16 and INT8")."""
import logging
import os
import os.path as osp
import tempfile
from typing import Callable, Iterable, Sequence

import numpy as np
from torch import Tensor, nn

from mmvanilla.deploy.network import DetectorNetwork
from mmvanilla.deploy.onnx_export import export_onnx
from mmvanilla.utils.errors import ConfigError


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def quantize_onnx(fp32_path: str, int8_path: str, inputs: Iterable[np.ndarray]) -> None:
    """Quantize the ONNX model at ``fp32_path`` (one input, ``input``) to INT8
    QDQ at ``int8_path`` with ``onnxruntime.quantization.quantize_static``:
    INT8 weights per output channel, INT8 activations with ranges from the
    min/max of each tensor over ``inputs`` (read one at a time).

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
            return None if x is None else {'input': x}

    # Its advice to run `quant_pre_process` first (shape inference, graph
    # optimisation): OpenVINO optimises the graph itself when it loads it.
    advice = _DropMessage('Please consider')
    logging.getLogger().addFilter(advice)
    try:
        quantize_static(fp32_path, int8_path, Inputs(), quant_format=QuantFormat.QDQ,
                        per_channel=True, reduce_range=True)
    finally:
        logging.getLogger().removeFilter(advice)


def quantize_detector(model: nn.Module, indices: Sequence[int],
                      load: Callable[[int], Tensor], onnx_path: str) -> None:
    """Quantize ``model``'s network (fused detector, up to post-processing)
    to INT8 (:func:`quantize_onnx`, calibrated on the ``indices`` inputs that
    ``load`` makes) and write it as a QDQ ONNX model at ``onnx_path``."""
    directory = osp.dirname(osp.abspath(onnx_path))
    with tempfile.TemporaryDirectory(dir=directory, prefix='.tmp-') as tmp:
        fp32_path, staged = osp.join(tmp, 'network_fp32.onnx'), osp.join(tmp, 'int8.onnx')
        export_onnx(DetectorNetwork(model), load(indices[0]), fp32_path)
        quantize_onnx(fp32_path, staged, (load(i).numpy() for i in indices))
        os.replace(staged, onnx_path)  # never a half-written model at onnx_path

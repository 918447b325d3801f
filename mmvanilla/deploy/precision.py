"""Which numeric precision a deployed detector runs in, and where it can."""
import argparse
import os
from typing import Optional

from mmvanilla.utils import cpu
from mmvanilla.utils.errors import ConfigError
from mmvanilla_runtime.engines import EMULATED_BF16_ENV

PRECISIONS = ('fp32', 'bf16', 'int8', 'fp16')
# What runs in which precision, as the tools print it and write it to JSON.
DESCRIPTIONS = {
    'fp32': 'backbone, neck and head in fp32; post-processing in fp32',
    'bf16': 'backbone, neck and dense head in bf16 (on CPU: the backbone\'s oneDNN '
            'plan where oneDNN has bf16, channels-last convs); RoI heads and '
            'post-processing in fp32',
    'fp16': 'backbone, neck and dense head in fp16 (CUDA); RoI heads and '
            'post-processing in fp32',
    'int8': 'the end-to-end graph (tools/deploy.py): backbone, neck and heads in INT8 '
            '(QDQ ONNX from ONNX Runtime static quantization), anchors, box decoding, '
            'NMS and RoIAlign in fp32, run by OpenVINO',
}


def resolve_precision(precision: str, device: str = 'cpu',
                      notice=print) -> str:
    """The precision to run: ``precision`` itself, or fp32 with one message
    (through ``notice``) where a CPU lacks native bf16. Impossible requests
    raise :class:`ConfigError`."""
    if precision not in PRECISIONS:
        raise ConfigError(f'precision must be one of {", ".join(PRECISIONS)}, '
                          f'got {precision!r}')
    cuda = device.startswith('cuda')
    if precision == 'fp16' and not cuda:
        raise ConfigError('--precision fp16 is for CUDA devices; on CPU use '
                          '--precision bf16 (or int8)')
    if precision == 'int8' and cuda:
        raise ConfigError('--precision int8 runs on CPU (OpenVINO): hide the GPU '
                          '(CUDA_VISIBLE_DEVICES= , or --device cpu where a tool has it), '
                          'or use --precision fp16 on CUDA')
    if precision == 'bf16' and not cuda and not cpu.cpu_has_native_bf16():
        if os.environ.get(EMULATED_BF16_ENV) == '1':
            notice(f'note: {EMULATED_BF16_ENV}=1: bf16 emulated on a CPU without native '
                   'bf16 (slower than fp32; the rounding, and so the accuracy, is bf16\'s)')
            return precision
        notice('note: this CPU has no native bf16 (neither avx512_bf16 nor amx_bf16 '
               'in /proc/cpuinfo), where bf16 is emulated and slower than fp32: '
               f'running fp32 instead ({EMULATED_BF16_ENV}=1 runs it anyway, to check '
               'its accuracy)')
        return 'fp32'
    return precision


def add_precision_arg(parser: argparse.ArgumentParser,
                      default: Optional[str] = 'fp32') -> None:
    """--precision fp32|bf16|int8|fp16."""
    parser.add_argument(
        '--precision', choices=PRECISIONS, default=default,
        help='run the fused detector in this precision (post-processing stays fp32): '
        'bf16 needs a CPU with avx512_bf16 or AMX (else fp32 with a note); int8 '
        'needs the artefact made by tools/quantize.py; fp16 is CUDA only (untested)')

"""The precisions a deployed detector runs in: one table says each one's
name, what runs in which number format, where it may run and how it is
applied; :func:`resolve_precision` and :func:`apply_precision` read it."""
import argparse
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from mmengine.config import Config
from torch import nn

from mmvanilla.utils import cpu
from mmvanilla.utils.errors import ConfigError
from mmvanilla_runtime.engines import bf16_note


@dataclass(frozen=True)
class Precision:
    """One row of the table.

    Args:
        name: As ``--precision`` takes it.
        runs: What runs in which precision (the tools print it and write it
            to their JSON).
        devices: Where it may run: 'cpu', 'cuda'.
        applied: How: 'as is' (fp32), 'cast' (the fused torch modules cast
            in place, :func:`to_reduced_precision`), or 'artefact' (the
            end-to-end INT8 artefact of tools/quantize.py, wrapped around the
            detector by :class:`DeployedDetector`).
        refusal: The message where it may not run, by device.
        artefact: What ``tools/deploy.py --precision`` makes of it ('' where it
            makes none): the artefact's own precision rule, written into its
            ``pipeline.json``.
    """
    name: str
    runs: str
    devices: Tuple[str, ...]
    applied: str
    refusal: str = ''
    artefact: str = ''


TABLE: Dict[str, Precision] = {p.name: p for p in (
    Precision('fp32', 'backbone, neck and head in fp32; post-processing in fp32',
              ('cpu', 'cuda'), 'as is',
              artefact='the fp32 graph; OpenVINO with INFERENCE_PRECISION_HINT=f32, or ONNX '
              'Runtime'),
    Precision('bf16', 'backbone, neck and dense head in bf16 (on CPU: the backbone\'s '
              'oneDNN plan where oneDNN has bf16, channels-last convs); RoI heads and '
              'post-processing in fp32', ('cpu', 'cuda'), 'cast',
              artefact='the fp32 graph compiled by OpenVINO with INFERENCE_PRECISION_HINT='
              'bf16: every layer in bf16, RoI heads included (CPUs with avx512_bf16 or '
              'AMX)'),
    Precision('int8', 'the end-to-end graph (tools/deploy.py): backbone, neck and heads in '
              'INT8 (QDQ ONNX from ONNX Runtime\'s static quantization or NNCF, as '
              'tools/quantize.py --quantizer chose), anchors, box decoding, NMS and RoIAlign '
              'in fp32, run by OpenVINO on the CPU (on a GPU machine too: '
              'the GPU only prepares the images)', ('cpu', 'cuda'), 'artefact',
              artefact='the QDQ graph: backbone, neck and heads INT8, post-processing fp32; '
              'OpenVINO (f32 elsewhere) or ONNX Runtime'),
    Precision('fp16', 'backbone, neck and dense head in fp16 (CUDA); RoI heads and '
              'post-processing in fp32', ('cuda',), 'cast',
              refusal='--precision fp16 is for CUDA devices; on CPU use --precision bf16 '
              '(or int8)'),
)}
PRECISIONS = tuple(TABLE)
DESCRIPTIONS = {name: p.runs for name, p in TABLE.items()}
#: Set to 1 to run bf16 (PyTorch) where the CPU lacks it (emulated, slow): to
#: measure the accuracy of a bf16 deployment on a machine that cannot run it fast.
EMULATED_BF16_ENV = 'MMVANILLA_EMULATED_BF16'
#: Config key, written by tools/quantize.py: the INT8 artefact folder
#: (model.onnx and pipeline.json), relative to the config file.
INT8_ARTEFACT_KEY = 'int8_artefact'


#: why bf16 does not run on this CPU (resolve_precision runs fp32 instead)
NO_NATIVE_BF16 = ('this CPU has no native bf16 (neither avx512_bf16 nor amx_bf16 in '
                  '/proc/cpuinfo), where bf16 is emulated and slower than fp32')


def resolve_precision(precision: str, device: str = 'cpu', notice=print) -> str:
    """The precision to run: ``precision`` itself, or fp32 with one message
    (through ``notice``) where a CPU lacks native bf16. Impossible requests
    raise :class:`ConfigError`."""
    if precision not in TABLE:
        raise ConfigError(f'precision must be one of {", ".join(PRECISIONS)}, '
                          f'got {precision!r}')
    kind = 'cuda' if device.startswith('cuda') else 'cpu'
    if kind not in TABLE[precision].devices:
        raise ConfigError(TABLE[precision].refusal)
    if precision == 'int8' and kind == 'cuda':
        notice('note: --precision int8 runs its artefact on the CPU (OpenVINO); the GPU '
               'only prepares the images')
    if precision == 'bf16' and kind == 'cpu' and not cpu.cpu_has_native_bf16():
        if os.environ.get(EMULATED_BF16_ENV) == '1':
            notice(f'note: {EMULATED_BF16_ENV}=1: bf16 emulated on a CPU without native '
                   'bf16 (slower than fp32; the rounding, and so the accuracy, is bf16\'s)')
            return precision
        notice(f'note: {NO_NATIVE_BF16}: running fp32 instead ({EMULATED_BF16_ENV}=1 '
               'runs it anyway, to check its accuracy)')
        return 'fp32'
    note = bf16_note(precision, cpu.cpu_flags(), cpu.cpu_vendor()) if kind == 'cpu' else None
    if note:
        notice(f'{note}: running bf16 as asked')
    return precision


def int8_artefact_path(cfg: Config, checkpoint: Optional[str]) -> str:
    """The config's INT8 artefact folder, checked to be an INT8 artefact made
    from ``checkpoint`` (or from the fused checkpoint tools/quantize.py wrote
    from it), or one message saying how to make one."""
    from mmvanilla_runtime.artefact import read_description, sha256_of
    path = cfg.get(INT8_ARTEFACT_KEY)
    if not path:
        older = ' (its int8_model key is from an older tools/quantize.py)' \
            if cfg.get('int8_model') else ''
        raise ConfigError(
            f'--precision int8 runs the INT8 artefact that tools/quantize.py makes{older}: '
            'run tools/quantize.py CONFIG CHECKPOINT OUT_DIR, then use OUT_DIR/config.py '
            'and OUT_DIR/fused.pth')
    base = osp.dirname(osp.abspath(cfg.filename)) if cfg.filename else '.'
    full = osp.normpath(osp.join(base, path))
    if not osp.isdir(full):
        raise ConfigError(f'the config\'s INT8 artefact {INT8_ARTEFACT_KEY}={path!r} (relative '
                          f'to the config\'s folder) is not at {full!r}: keep '
                          'tools/quantize.py\'s output folder together, or run it again')
    description = read_description(full)
    if description['precision'] != 'int8':
        raise ConfigError(f'{INT8_ARTEFACT_KEY}={path!r} is a {description["precision"]} '
                          'artefact: --precision int8 runs an INT8 one; make it with '
                          'tools/quantize.py (or tools/deploy.py --precision int8)')
    producer = description['producer']
    made_from = {producer.get('checkpoint_sha256'), producer.get('fused_checkpoint_sha256')}
    if not checkpoint or sha256_of(checkpoint) not in made_from - {None}:
        raise ConfigError(
            f'the INT8 artefact {full!r} was made from {producer.get("checkpoint")!r}, not from '
            f'the checkpoint given ({checkpoint!r}): its detections would be another model\'s; '
            'give the checkpoint it was made from, or quantize this one with tools/quantize.py')
    return full


def apply_precision(model: nn.Module, precision: str,
                    int8_artefact: Optional[str] = None) -> Tuple[nn.Module, Dict[str, str]]:
    """``model`` (fused) to run in ``precision``, as the table says: (the
    model to run, what runs in which precision, for logs and JSON)."""
    row = TABLE[precision]
    info = dict(precision=precision, runs=row.runs)
    if row.applied == 'cast':
        import torch

        from mmvanilla.deploy.reduced_precision import to_reduced_precision
        to_reduced_precision(model, torch.bfloat16 if precision == 'bf16' else torch.float16)
    elif row.applied == 'artefact':
        from mmvanilla.deploy.deployed_detector import DeployedDetector
        if not int8_artefact:
            raise ConfigError('--precision int8 needs the INT8 artefact of tools/quantize.py')
        model = DeployedDetector(model, int8_artefact)
        info.update(int8_artefact=int8_artefact)
    return model, info


def add_precision_arg(parser: argparse.ArgumentParser,
                      default: Optional[str] = 'fp32') -> None:
    """--precision fp32|bf16|int8|fp16."""
    parser.add_argument(
        '--precision', choices=PRECISIONS, default=default,
        help='run the fused detector in this precision (post-processing stays fp32): '
        'bf16 needs a CPU with avx512_bf16 or AMX (else fp32 with a note); int8 '
        'needs the artefact made by tools/quantize.py; fp16 is CUDA only (untested)')

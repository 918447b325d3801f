"""mmvanilla's fp32 / bf16 / INT8 against ONNX Runtime and OpenVINO on the
project's own ONNX export: fused VN-11 RetinaNet, 1x3x800x1280, batch 1, CPU.

    python benchmarks/peer_engines.py CONFIG --out FILE.json [--rounds 7]

Two networks: the backbone alone, and the detector's network up to
post-processing (backbone, FPN, head; mmdet's post-processing then adds the
same few milliseconds whatever ran the network). Every engine is timed in
one process, round-robin (one call each per round), so host drift hits all
alike; medians. Engines:
  mmvanilla fp32   the fused model (oneDNN plan)
  mmvanilla bf16   tools' --precision bf16 (the fused backbone's oneDNN plan and
                   channels-last convs, in bf16); left out on a CPU without native
                   bf16, where the tools run fp32
  mmvanilla int8   tools/quantize.py's recipe: onnxruntime's quantize_static
                   (QDQ, per-channel weights), run by OpenVINO
  ORT fp32 / int8  onnxruntime, default session; INT8 = the same QDQ model
  OV fp32 / default OpenVINO CPU with f32 forced; with its default inference
                   precision (bf16 on CPUs that have it)
  OV int8 (NNCF)   OpenVINO's own post-training quantization (nncf.quantize,
                   default preset), OpenVINO runtime
  mmvanilla int8 is "OpenVINO running ORT's QDQ model": it is timed once.
Weights are the config's initialisation (speed does not depend on them); the
INT8 models calibrate on --calib generated images. Accuracy is measured
elsewhere, on trained weights (docs/benchmarks.md). Relative errors against
mmvanilla fp32 are reported as a sanity check only.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import sys
import tempfile
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch
from torch import Tensor, nn

import mmvanilla.plugin  # noqa: F401  (registers modules, safe checkpoint loading)
from mmvanilla.apis.detector import build_detector
from mmvanilla.utils.timing import time_calls
from mmvanilla.deploy import DetectorNetwork, to_reduced_precision
from mmvanilla.deploy.onnx_export import IMAGE_AXES, export_onnx
from mmvanilla.deploy.quantization import quantize_onnx
from mmvanilla.models import switch_to_deploy
from mmvanilla.runtime import reexec_with_tuned_runtime, runtime_description
from mmvanilla.utils.console import quiet_console
from mmvanilla.utils.cpu import cpu_has_native_bf16
from mmvanilla.utils.errors import ConfigError


def import_openvino():
    """``openvino``, or one message saying how to install it."""
    try:
        import openvino
    except ImportError:
        raise ConfigError('OpenVINO is not installed: pip install -e ".[deploy]" '
                          '(tools/setup_env.sh installs it)') from None
    return openvino


class OpenVINONetwork(nn.Module):
    """A model file OpenVINO reads (ONNX, or IR ``.xml``) as a module: image
    batch in, the flat tuple of :class:`DetectorNetwork`'s head outputs out,
    on CPU, with OpenVINO's default settings."""

    def __init__(self, path: str):
        super().__init__()
        if not osp.isfile(path):
            raise ConfigError(f'network {path!r} not found')
        ov = import_openvino()
        self.path = path
        self.compiled = ov.Core().compile_model(path, 'CPU')
        self.request = self.compiled.create_infer_request()

    def inference_precision(self) -> str:
        """What OpenVINO runs the non-quantized operations in on this CPU."""
        return self.compiled.get_property('INFERENCE_PRECISION_HINT').to_string()

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        results = self.request.infer([np.ascontiguousarray(x.detach().float().numpy())])
        return tuple(torch.from_numpy(np.array(results[out]))
                     for out in self.compiled.outputs)


class _Backbone(torch.nn.Module):
    def __init__(self, detector):
        super().__init__()
        self.backbone = detector.backbone

    def forward(self, x):
        return tuple(self.backbone(x))


def nncf_int8(fp32_path: str, samples: List[np.ndarray], **options):
    """OpenVINO's own INT8 model of ``fp32_path`` (``nncf.quantize``, its default
    preset unless ``options`` say otherwise), calibrated on ``samples``."""
    import nncf
    ov = import_openvino()
    return nncf.quantize(ov.Core().read_model(fp32_path), nncf.Dataset(samples),
                         subset_size=len(samples), **options)


def engines(model, network: torch.nn.Module, backbone_only: bool, x: torch.Tensor,
            tmp: str, calib: List[np.ndarray]) -> Dict[str, Callable]:
    """name -> zero-argument call running ``network`` on ``x`` in that engine."""
    import copy

    import onnxruntime as ort
    ov = import_openvino()
    core = ov.Core()
    name = 'backbone' if backbone_only else 'network'
    fp32_onnx, int8_onnx = osp.join(tmp, f'{name}.onnx'), osp.join(tmp, f'{name}_qdq.onnx')
    export_onnx(network, (x,), fp32_onnx, ['input'], dynamic_axes=IMAGE_AXES)
    quantize_onnx(fp32_onnx, int8_onnx, calib)
    x_np = x.numpy()
    runs = {'mmvanilla fp32': lambda: network(x)}
    if cpu_has_native_bf16():  # else the tools run fp32 (emulated bf16 is far slower)
        bf16 = copy.deepcopy(model)
        to_reduced_precision(bf16, torch.bfloat16)
        bf16_net = _Backbone(bf16) if backbone_only else DetectorNetwork(bf16)
        runs['mmvanilla bf16'] = lambda: bf16_net(x)
    int8 = OpenVINONetwork(int8_onnx)
    runs['mmvanilla int8'] = lambda: int8(x)
    for label, path in (('fp32', fp32_onnx), ('int8', int8_onnx)):
        session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
        runs[f'ORT {label}'] = lambda s=session: s.run(None, {'input': x_np})
    ov_fp32 = core.compile_model(fp32_onnx, 'CPU', {'INFERENCE_PRECISION_HINT': 'f32'})
    ov_default = core.compile_model(fp32_onnx, 'CPU')
    ov_int8 = core.compile_model(nncf_int8(fp32_onnx, calib), 'CPU')
    runs['OV fp32'] = lambda: ov_fp32([x_np])
    runs[f'OV default ({ov_default.get_property("INFERENCE_PRECISION_HINT").to_string()})'] = \
        lambda: ov_default([x_np])
    runs['OV int8 (NNCF)'] = lambda: ov_int8([x_np])
    return runs


def as_arrays(out) -> List[np.ndarray]:
    if isinstance(out, dict) or hasattr(out, 'values'):
        out = list(out.values())
    return [np.asarray(o.float() if isinstance(o, torch.Tensor) else o, dtype=np.float32)
            for o in out]


def time_round_robin(runs: Dict[str, Callable], rounds: int, warmup: int,
                     reference: str = 'mmvanilla fp32') -> Dict[str, dict]:
    """Median time of each run, one call each per round; errors against ``reference``."""
    times, outputs = time_calls(runs, rounds, warmup)
    ref = as_arrays(outputs[reference])
    result = {}
    for k, ts in times.items():
        got = as_arrays(outputs[k])
        err = max(float(np.abs(g - r).max() / max(np.abs(r).max(), 1e-12))
                  for g, r in zip(got, ref))
        result[k] = dict(median_s=statistics.median(ts), times_s=ts, max_rel_err=err)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', nargs='?', default='configs/retinanet_vanillanet11.py')
    parser.add_argument('--out', default='peer_engines.json')
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1280], metavar=('H', 'W'))
    parser.add_argument('--rounds', type=int, default=7)
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed rounds first (>= 1: they also keep the outputs)')
    parser.add_argument('--calib', type=int, default=4)
    parser.add_argument('--parts', nargs='+', default=['backbone', 'network'],
                        choices=['backbone', 'network'])
    args = parser.parse_args()
    if args.warmup < 1 or args.rounds < 1:
        parser.error('--warmup and --rounds must be >= 1')
    reexec_with_tuned_runtime()
    quiet_console()
    model, _, _ = build_detector(args.config)
    switch_to_deploy(model)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 3, *args.shape, generator=gen)
    calib = [torch.randn(1, 3, *args.shape, generator=gen).numpy() for _ in range(args.calib)]
    report = dict(config=args.config, input_shape=[1, 3, *args.shape],
                  native_bf16=cpu_has_native_bf16(), rounds=args.rounds,
                  runtime=runtime_description(), results={},
                  command=' '.join([osp.relpath(sys.executable)] + sys.argv))
    import onnxruntime
    import openvino
    report['versions'] = dict(onnxruntime=onnxruntime.__version__,
                              openvino=openvino.__version__)
    with tempfile.TemporaryDirectory() as tmp:
        for part in args.parts:
            network = (_Backbone(model) if part == 'backbone' else DetectorNetwork(model)).eval()
            runs = engines(model, network, part == 'backbone', x, tmp, calib)
            results = time_round_robin(runs, args.rounds, args.warmup)
            base = results['mmvanilla fp32']['median_s']
            for k, r in results.items():
                r['speedup_vs_mmvanilla_fp32'] = base / r['median_s']
                print(f'{part:>8}  {k:<28} {r["median_s"]:.3f} s  '
                      f'{r["speedup_vs_mmvanilla_fp32"]:.2f}x  rel.err {r["max_rel_err"]:.1e}',
                      flush=True)
            report['results'][part] = results
            del runs
    with open(args.out, 'w') as f:
        json.dump(report, f, indent=2)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    os.environ.setdefault('PYTHONWARNINGS', 'ignore')
    main()

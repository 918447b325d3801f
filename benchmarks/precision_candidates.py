"""The candidates weighed for --precision bf16 and int8, on the fused VN-11 trunk.

    python benchmarks/precision_candidates.py --out FILE.json [--rounds 7]

bf16: the backbone's oneDNN plan in bf16 (kept), channels-last nn.Conv2d in
bf16 (MMVANILLA_ONEDNN=0) and torch.compile (inductor, freezing) of the
latter, whose first call is reported apart. INT8, all run by OpenVINO: ONNX
Runtime's quantize_static QDQ model (kept) and NNCF's model with its default
preset, with preset=MIXED and without fast bias correction. 1x3x800x1280,
batch 1, initialised weights, 4 random calibration inputs; one process,
round-robin, medians. The bf16 candidates are left out on a CPU without
native bf16.
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
import tempfile
import time

import torch

import mmvanilla.plugin  # noqa: F401  (registers modules, safe checkpoint loading)
from mmvanilla.apis.detector import build_detector
from mmvanilla.deploy import to_reduced_precision
from mmvanilla.deploy.onnx_export import export_onnx
from mmvanilla.deploy.openvino_network import OpenVINONetwork, import_openvino
from mmvanilla.deploy.quantization import quantize_onnx
from mmvanilla.models import switch_to_deploy
from mmvanilla.runtime import reexec_with_tuned_runtime, runtime_description
from mmvanilla.utils.console import quiet_console
from mmvanilla.utils.cpu import cpu_has_native_bf16

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from peer_engines import _Backbone, nncf_int8, time_round_robin  # noqa: E402


def with_plan(enabled: bool, fn):
    def run():
        os.environ['MMVANILLA_ONEDNN'] = '1' if enabled else '0'
        return fn()
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', nargs='?', default='configs/retinanet_vanillanet11.py')
    parser.add_argument('--out', default='precision_candidates.json')
    parser.add_argument('--rounds', type=int, default=7)
    args = parser.parse_args()
    reexec_with_tuned_runtime()
    quiet_console()
    import nncf
    ov = import_openvino()
    model, _, _ = build_detector(args.config)
    switch_to_deploy(model)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 3, 800, 1280, generator=gen)
    calib = [torch.randn(1, 3, 800, 1280, generator=gen).numpy() for _ in range(4)]
    fp32 = _Backbone(model).eval()
    runs = {'fp32 plan': with_plan(True, lambda: fp32(x))}
    compile_s = None
    if cpu_has_native_bf16():  # else bf16 is emulated: no candidate to weigh
        bf16 = _Backbone(to_reduced_precision(copy.deepcopy(model), torch.bfloat16)).eval()
        compiled = torch.compile(bf16, options={'freezing': True})
        runs.update({'bf16 plan': with_plan(True, lambda: bf16(x)),
                     'bf16 channels-last nn.Conv2d': with_plan(False, lambda: bf16(x)),
                     'bf16 torch.compile': with_plan(False, lambda: compiled(x))})
        start = time.perf_counter()
        with torch.no_grad():
            runs['bf16 torch.compile']()
        compile_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        fp32_onnx, qdq = osp.join(tmp, 'trunk.onnx'), osp.join(tmp, 'trunk_qdq.onnx')
        export_onnx(fp32, x, fp32_onnx)
        quantize_onnx(fp32_onnx, qdq, calib)
        qdq_net = OpenVINONetwork(qdq)
        runs['int8 ORT QDQ in OpenVINO'] = lambda: qdq_net(x)
        core, x_np = ov.Core(), x.numpy()
        for name, kwargs in (('default', {}),
                             ('preset=MIXED', dict(preset=nncf.QuantizationPreset.MIXED)),
                             ('fast_bias_correction=False', dict(fast_bias_correction=False))):
            q = nncf_int8(fp32_onnx, calib, **kwargs)
            runs[f'int8 NNCF {name} in OpenVINO'] = \
                lambda c=core.compile_model(q, 'CPU'): c([x_np])
        results = time_round_robin(runs, args.rounds, warmup=2, reference='fp32 plan')
    for k, r in results.items():
        print(f'{k:<44} {r["median_s"]:.3f} s', flush=True)
    if compile_s is not None:
        print(f'bf16 torch.compile first call: {compile_s:.1f} s')
    report = dict(config=args.config, input_shape=[1, 3, 800, 1280], rounds=args.rounds,
                  compile_first_call_s=compile_s, results=results,
                  runtime=runtime_description(),
                  command=' '.join([osp.relpath(sys.executable)] + sys.argv))
    with open(args.out, 'w') as f:
        json.dump(report, f, indent=2)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    os.environ.setdefault('PYTHONWARNINGS', 'ignore')
    main()

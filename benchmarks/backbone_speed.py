"""CPU speed of the fused VanillaNet backbone against the machine's fp32 peak.

    python benchmarks/backbone_speed.py --arch vanillanet_11 --out FILE.json

Times, at 1x3x800x1280, batch 1, fp32, interleaved in one process: two fp32
reference kernels, the fused backbone and the unfused one. The references are
a 4096x4096 ``torch.mm`` into a preallocated output (MKL in torch's CPU wheel)
and a 2048->2048 1x1 convolution at 100x160 with packed weights, run through
the oneDNN calls the fused backbone's plan uses. The faster of the two is the
peak (MKL runs a slow fp32 path on AMD CPUs: oneDNN was 1.4x to 2.2x faster
there), so an efficiency is never measured against a library's slow path. ``plain_s`` times the same fused network as plain PyTorch
runs it (nn.Conv2d layers, torch.no_grad, default allocator) in a child process.
Runs with mmvanilla's runtime settings unless --no-tuned-runtime.
"""
import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
from typing import Callable, Dict, List

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mmvanilla.apis.detector import max_rel_err
from mmvanilla.utils.timing import timed
from mmvanilla.models.backbones.onednn_plan import pack_conv_weight
from mmvanilla.runtime import (
    default_runtime_env,
    reexec_with_tuned_runtime,
    runtime_description,
)
from mmvanilla.utils.console import quiet_console

GEMM_N = 4096
CONV_CHANNELS, CONV_HW = 2048, (100, 160)  # VN-11's widest stride-16 layers, /8 map


class PlainFusedVanillaNet(nn.Module):
    """The fused network written plainly, as the official code runs it."""

    def __init__(self, fused: nn.Module):
        super().__init__()
        self.stem = copy.deepcopy(fused.stem[0])
        self.convs = nn.ModuleList(copy.deepcopy(b.conv) for b in fused.stages)
        self.pools = nn.ModuleList(copy.deepcopy(b.pool) for b in fused.stages)
        acts = [fused.stem[1]] + [b.act for b in fused.stages]
        self.act_weights = nn.ParameterList(copy.deepcopy(a.weight) for a in acts)
        self.act_biases = nn.ParameterList(copy.deepcopy(a.bias) for a in acts)
        self.act_num = acts[0].act_num
        self.out_indices = fused.out_indices

    def act(self, x, i):
        w = self.act_weights[i]
        return F.conv2d(F.relu(x), w, self.act_biases[i], padding=self.act_num,
                        groups=w.shape[0])

    def forward(self, x):
        x = self.act(self.stem(x), 0)
        outs = []
        for i, (conv, pool) in enumerate(zip(self.convs, self.pools)):
            x = self.act(pool(conv(x)), i + 1)
            if i in self.out_indices:
                outs.append(x)
        return outs


def mkl_gemm_rate(n: int = GEMM_N) -> Callable[[], float]:
    """GFLOP/s of an n x n (4096) fp32 ``torch.mm`` (MKL in torch's CPU wheel)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = torch.empty(n, n)
    return lambda: 2 * n ** 3 / timed(lambda: torch.mm(a, b, out=out))[0] / 1e9


def onednn_conv_rate(c: int = CONV_CHANNELS) -> Callable[[], float]:
    """GFLOP/s of a large fp32 1x1 conv, packed weights, blocked activations."""
    h, w = CONV_HW
    weight = pack_conv_weight(torch.randn(c, c, 1, 1), (0, 0), (1, 1), 1)
    bias, x = torch.zeros(c), torch.randn(1, c, h, w).to_mkldnn()
    flop = 2 * c * c * h * w
    return lambda: flop / timed(lambda: torch.mkldnn_convolution(
        x, weight, bias, [0, 0], [1, 1], [1, 1], 1))[0] / 1e9


def gflop(model: nn.Module, x: torch.Tensor) -> float:
    # Counted on the nn.Conv2d path (autograd on); the oneDNN plan runs the
    # same arithmetic through ops the counter does not see.
    with torch.enable_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() / 1e9


def build(arch: str):
    from mmvanilla.models import VanillaNet
    torch.manual_seed(0)
    unfused = VanillaNet(arch)
    unfused.init_weights()
    gen = torch.Generator().manual_seed(0)
    for m in unfused.modules():  # non-trivial BN statistics
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = torch.rand(n, generator=gen) + 0.5
            m.bias.data = (torch.rand(n, generator=gen) - 0.5) * 0.1
            m.running_mean = (torch.rand(n, generator=gen) - 0.5) * 0.1
            m.running_var = torch.rand(n, generator=gen) + 0.5
    unfused.eval().requires_grad_(False)
    fused = copy.deepcopy(unfused)
    fused.switch_to_deploy()
    return unfused, fused


def plain_child(weights: str, size: List[int], repeats: int) -> None:
    """Child process: time PlainFusedVanillaNet under the default runtime."""
    from mmvanilla.models import VanillaNet
    saved = torch.load(weights, weights_only=True)
    fused = VanillaNet(saved['arch'], deploy=True).eval()
    fused.load_state_dict(saved['state_dict'])
    plain = PlainFusedVanillaNet(fused).eval()
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        plain(x)
        times = [timed(lambda: plain(x))[0] for _ in range(repeats)]
    print(json.dumps(dict(plain_s=statistics.median(times), plain_runs=times,
                          runtime=runtime_description())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--arch', default='vanillanet_11')
    parser.add_argument('--out', default='backbone_speed.json')
    parser.add_argument('--size', type=int, nargs=2, default=[800, 1280], metavar=('H', 'W'))
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--no-tuned-runtime', action='store_true',
                        help='keep the default allocator settings')
    parser.add_argument('--quick', action='store_true',
                        help='reference kernels at 1/4 size: a smoke run, not for figures')
    parser.add_argument('--plain-child', metavar='WEIGHTS', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_child:
        return plain_child(args.plain_child, args.size, args.repeats)
    if args.no_tuned_runtime:
        os.environ['MMVANILLA_TUNED_RUNTIME'] = '0'
    reexec_with_tuned_runtime()
    quiet_console()  # no per-parameter initialisation dump

    unfused, fused = build(args.arch)
    x = torch.randn(1, 3, *args.size)
    shrink = 4 if args.quick else 1
    references = dict(gemm_gflops_mkl=mkl_gemm_rate(GEMM_N // shrink),
                      gemm_gflops_onednn=onednn_conv_rate(CONV_CHANNELS // shrink))
    fused_gflop, unfused_gflop = gflop(fused, x), gflop(unfused, x)
    runs: Dict[str, List[float]] = dict(gemm_gflops_mkl=[], gemm_gflops_onednn=[],
                                        fused_s=[], unfused_s=[])
    with torch.no_grad():
        err = max_rel_err(fused(x), unfused(x))  # also the warm-up
        for rate in references.values():
            rate()
        for i in range(args.repeats):
            for name, rate in references.items():
                runs[name].append(statistics.median(rate() for _ in range(3)))
            runs['fused_s'].append(timed(lambda: fused(x))[0])
            runs['unfused_s'].append(timed(lambda: unfused(x))[0])
            print(f'[{i + 1}/{args.repeats}] mkl mm {runs["gemm_gflops_mkl"][-1]:.0f}, '
                  f'onednn conv {runs["gemm_gflops_onednn"][-1]:.0f} GFLOP/s  '
                  f'fused {runs["fused_s"][-1]:.3f} s  unfused {runs["unfused_s"][-1]:.3f} s',
                  flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'fused.pth')
        torch.save(dict(arch=args.arch, state_dict=fused.state_dict()), path)
        child = subprocess.run(
            [sys.executable, __file__, '--plain-child', path, '--size', *map(str, args.size),
             '--repeats', str(args.repeats)],
            env=default_runtime_env(), capture_output=True, text=True, check=True)
    plain = json.loads(child.stdout.strip().splitlines()[-1])

    med = {k: statistics.median(v) for k, v in runs.items()}
    peak = max(med['gemm_gflops_mkl'], med['gemm_gflops_onednn'])
    result = dict(
        arch=args.arch, input=[1, 3, *args.size], dtype='float32',
        gemm_gflops_mkl=med['gemm_gflops_mkl'], gemm_gflops_onednn=med['gemm_gflops_onednn'],
        peak_gflops=peak,
        peak_reference='onednn 1x1 conv' if peak == med['gemm_gflops_onednn'] else 'mkl mm',
        fused_s=med['fused_s'], unfused_s=med['unfused_s'],
        fused_gflop=fused_gflop, unfused_gflop=unfused_gflop, max_rel_err=err,
        plain_s=plain['plain_s'],
        fused_efficiency=fused_gflop / med['fused_s'] / peak,
        unfused_efficiency=unfused_gflop / med['unfused_s'] / peak,
        fused_speedup_vs_plain=plain['plain_s'] / med['fused_s'],
        fused_speedup_vs_unfused=med['unfused_s'] / med['fused_s'],
        runtime=dict(runtime_description(),
                     onednn_plan=os.environ.get('MMVANILLA_ONEDNN', '1') != '0'),
        plain_runtime=plain['runtime'],
        runs=dict(runs, plain_s=plain['plain_runs']),
        command=' '.join([os.path.relpath(sys.executable)] + sys.argv))
    if result['fused_efficiency'] > 1.0:
        print(f'warning: efficiency {result["fused_efficiency"]:.3f} > 1: the fp32 references '
              f'are not this CPU\'s fastest kernels, so the figure is no bound here')
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=2)
    keys = ('gemm_gflops_mkl', 'gemm_gflops_onednn', 'peak_gflops', 'fused_s', 'unfused_s', 'plain_s', 'fused_gflop',
            'unfused_gflop', 'fused_efficiency', 'fused_speedup_vs_plain', 'max_rel_err')
    for k in keys:
        print(f'{k:>24}: {result[k]:.4g}')
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()

"""CPU speed of the fused VanillaNet backbone against the machine's fp32 peak.

    python benchmarks/backbone_speed.py --arch vanillanet_11 --out FILE.json

Times, at 1x3x800x1280, batch 1, fp32, interleaved in one process: fp32
reference kernels, the fused backbone and the unfused one. The references are
``torch.mm`` at 4096 and 2048 into a preallocated output (MKL in torch's CPU
wheel) and 1x1 convolutions with packed weights at VanillaNet's own widths
(1024 at 200x320, 2048 at 100x160, 4096 at 50x80), run through the oneDNN calls
the fused backbone's plan uses. Each round's peak is the best of them (MKL runs
a slow fp32 path on AMD CPUs), and each efficiency is the median over rounds of
the model's rate over that round's peak (mmvanilla.utils.timing.paired_efficiency):
never above 1; where the model beats the peak, the JSON says the reference is wrong. ``plain_s`` times the same fused network as plain PyTorch
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

from mmvanilla.runtime import default_runtime_env, runtime_description, start_program

if __name__ == '__main__':  # (glibc reads its settings at start-up: before the imports)
    start_program(sys.argv[1:])

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from mmvanilla.models.backbones.onednn_plan import pack_conv_weight  # noqa: E402
from mmvanilla.utils.console import quiet_console  # noqa: E402
from mmvanilla.utils.numerics import max_rel_err  # noqa: E402
from mmvanilla.utils.timing import paired_efficiency, timed  # noqa: E402

GEMM_SIZES = (4096, 2048)
#: (channels, (h, w)) of the 1x1 references: VanillaNet's widths at 1280x800's maps
CONV_SHAPES = ((1024, (200, 320)), (2048, (100, 160)), (4096, (50, 80)))


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


def mkl_gemm_rate(n: int) -> Callable[[], float]:
    """GFLOP/s of an n x n fp32 ``torch.mm`` (MKL in torch's CPU wheel)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = torch.empty(n, n)
    return lambda: 2 * n ** 3 / timed(lambda: torch.mm(a, b, out=out))[0] / 1e9


def onednn_conv_rate(c: int, hw) -> Callable[[], float]:
    """GFLOP/s of an fp32 1x1 conv (c -> c at ``hw``), packed weights, blocked activations."""
    h, w = hw
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
    # (allow_abbrev=False: --no-tuned-runtime is read in full before the imports)
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False,
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
    quiet_console()  # no per-parameter initialisation dump

    unfused, fused = build(args.arch)
    x = torch.randn(1, 3, *args.size)
    shrink = 4 if args.quick else 1
    references = {f'mkl_mm_{n}': mkl_gemm_rate(n // shrink) for n in GEMM_SIZES}
    references.update({f'onednn_conv1x1_{c}': onednn_conv_rate(c // shrink, hw)
                       for c, hw in CONV_SHAPES})
    fused_gflop, unfused_gflop = gflop(fused, x), gflop(unfused, x)
    runs: Dict[str, List[float]] = {k: [] for k in references}
    runs.update(peak_gflops=[], fused_s=[], unfused_s=[])
    with torch.no_grad():
        err = max_rel_err(fused(x), unfused(x))  # also the warm-up
        for rate in references.values():
            rate()
        for i in range(args.repeats):
            for name, rate in references.items():
                runs[name].append(statistics.median(rate() for _ in range(3)))
            runs['peak_gflops'].append(max(runs[name][-1] for name in references))
            runs['fused_s'].append(timed(lambda: fused(x))[0])
            runs['unfused_s'].append(timed(lambda: unfused(x))[0])
            print(f'[{i + 1}/{args.repeats}] peak {runs["peak_gflops"][-1]:.0f} GFLOP/s  '
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
    fused_eff, fused_why = paired_efficiency([fused_gflop / t for t in runs['fused_s']],
                                             runs['peak_gflops'])
    unfused_eff, unfused_why = paired_efficiency(
        [unfused_gflop / t for t in runs['unfused_s']], runs['peak_gflops'])
    result = dict(
        arch=args.arch, input=[1, 3, *args.size], dtype='float32',
        reference_gflops={k: med[k] for k in references}, peak_gflops=med['peak_gflops'],
        peak_reference=max(references, key=lambda k: med[k]),
        fused_s=med['fused_s'], unfused_s=med['unfused_s'],
        fused_gflop=fused_gflop, unfused_gflop=unfused_gflop, max_rel_err=err,
        plain_s=plain['plain_s'],
        fused_efficiency=fused_eff, unfused_efficiency=unfused_eff,
        efficiency_note=fused_why or unfused_why,
        fused_speedup_vs_plain=plain['plain_s'] / med['fused_s'],
        fused_speedup_vs_unfused=med['unfused_s'] / med['fused_s'],
        runtime=dict(runtime_description(),
                     onednn_plan=os.environ.get('MMVANILLA_ONEDNN', '1') != '0'),
        plain_runtime=plain['runtime'],
        runs=dict(runs, plain_s=plain['plain_runs']),
        command=' '.join([os.path.relpath(sys.executable)] + sys.argv))
    if result['efficiency_note']:
        print(f'note: {result["efficiency_note"]}')
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=2)
    keys = ('peak_gflops', 'fused_s', 'unfused_s', 'plain_s', 'fused_gflop',
            'unfused_gflop', 'fused_efficiency', 'fused_speedup_vs_plain', 'max_rel_err')
    for k in keys:
        print(f'{k:>24}: ' + ('-' if result[k] is None else f'{result[k]:.4g}'))
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()

"""The one timing loop of the tools and benchmarks: wall-clock seconds per call."""
import contextlib
import statistics
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

import torch


def cuda_device(device: Union[str, torch.device, None]) -> Optional[torch.device]:
    """``device`` if it is a CUDA device (with its index: 'cuda' is the
    current one), else None: what timing waits for and measures memory on."""
    if device is None or torch.device(device).type != 'cuda':
        return None
    device = torch.device(device)
    return device if device.index is not None else torch.device(
        'cuda', torch.cuda.current_device())


def timed(fn: Callable[[], Any], device: Union[str, torch.device, None] = None
          ) -> Tuple[float, Any]:
    """Seconds one call of ``fn`` takes, and what it returned; on a CUDA
    ``device``, waits for that device's kernels before and after."""
    wait = cuda_device(device)
    if wait is not None:
        torch.cuda.synchronize(wait)
    start = time.perf_counter()
    out = fn()
    if wait is not None:
        torch.cuda.synchronize(wait)
    return time.perf_counter() - start, out


def time_calls(runs: Dict[str, Callable[[], Any]], rounds: int, warmup: int = 0,
               device: Union[str, torch.device, None] = None
               ) -> Tuple[Dict[str, List[float]], Dict[str, Any]]:
    """Round-robin timing, without autograd: each run is called ``warmup``
    times, then once per round, runs interleaved so that a slow spell of the
    machine falls on all of them. Returns each run's times and last output."""
    times: Dict[str, List[float]] = {k: [] for k in runs}
    outputs: Dict[str, Any] = {}
    with torch.no_grad():
        for k, fn in runs.items():
            for _ in range(warmup):
                outputs[k] = fn()
        for _ in range(rounds):
            for k, fn in runs.items():
                seconds, outputs[k] = timed(fn, device)
                times[k].append(seconds)
    return times, outputs


@contextlib.contextmanager
def cuda_fp32_math(tf32: bool) -> Iterator[None]:
    """fp32 matmuls and cuDNN convolutions on CUDA in TF32 (``tf32``) or in
    full fp32, for the block, whatever the process had set. PyTorch's own
    defaults differ (matmuls fp32, convolutions TF32 on Ampere and later), so
    an fp32 timing would otherwise be part TF32 without saying so."""
    backends = torch.backends
    if hasattr(getattr(backends.cudnn, 'conv', None), 'fp32_precision'):  # torch >= 2.9
        wanted = 'tf32' if tf32 else 'ieee'
        settings = [(backends.cuda.matmul, 'fp32_precision', wanted),
                    (backends.cudnn.conv, 'fp32_precision', wanted)]
    else:
        settings = [(backends.cuda.matmul, 'allow_tf32', tf32),
                    (backends.cudnn, 'allow_tf32', tf32)]
    old = [getattr(place, name) for place, name, _ in settings]
    for place, name, value in settings:
        setattr(place, name, value)
    try:
        yield
    finally:
        for (place, name, _), value in zip(settings, old):
            setattr(place, name, value)


def paired_efficiency(rates: List[float], peaks: List[float]) -> Tuple[Optional[float], str]:
    """The share of a peak a model reaches, from rounds that each timed the
    model (``rates``) and the reference (``peaks``, the best of its kernels in
    that round) back to back: the median of the per-round ratios, so that a
    slow spell of a shared machine falls on both sides of a ratio. Never above
    1: where the model beats its reference, the reference is not this
    machine's peak, and the figure is (None, why) instead."""
    if not rates or len(rates) != len(peaks):
        raise ValueError('one reference round per model round')
    ratio = statistics.median(r / p for r, p in zip(rates, peaks))
    if ratio > 1:
        return None, (f'the model ran at {ratio:.2f}x its reference: the reference kernels '
                      f'are not this machine\'s peak, so no efficiency is given')
    return ratio, ''

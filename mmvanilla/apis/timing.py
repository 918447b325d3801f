"""The one timing loop of the tools and benchmarks: wall-clock seconds per call."""
import time
from typing import Any, Callable, Dict, List, Tuple

import torch


def timed(fn: Callable[[], Any], sync: bool = False) -> Tuple[float, Any]:
    """Seconds one call of ``fn`` takes, and what it returned; ``sync``
    waits for CUDA before and after (asynchronous kernels)."""
    if sync:
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if sync:
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


def time_calls(runs: Dict[str, Callable[[], Any]], rounds: int, warmup: int = 0,
               sync: bool = False) -> Tuple[Dict[str, List[float]], Dict[str, Any]]:
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
                seconds, outputs[k] = timed(fn, sync)
                times[k].append(seconds)
    return times, outputs

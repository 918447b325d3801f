"""What this CPU can do: the one place that probes it.

Light: reads ``/proc/cpuinfo``; torch is imported only by
:func:`onednn_runs_bf16`, which asks torch itself.
"""
import functools
import os
from typing import Set

#: CPU flags of native bf16 arithmetic (what ``--precision bf16`` needs to be fast).
BF16_CPU_FLAGS = ('avx512_bf16', 'amx_bf16')


def _cpuinfo_field(name: str) -> str:
    """The first ``name : value`` line of /proc/cpuinfo ('' where unreadable)."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith(name):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return ''


def cpu_flags() -> Set[str]:
    """The CPU feature flags in /proc/cpuinfo (empty where it is unreadable)."""
    return set(_cpuinfo_field('flags').split())


def cpu_model() -> str:
    """e.g. ``'AMD EPYC 9R14, 2 cores, avx512f'``."""
    name = _cpuinfo_field('model name') or 'unknown'
    flags = cpu_flags()
    isa = next((f for f in ('avx512f', 'avx2', 'avx') if f in flags), 'no avx')
    return f'{name}, {os.cpu_count()} cores, {isa}'


def cpu_has_native_bf16() -> bool:
    """True where the CPU computes bf16 natively (AVX512-BF16 or AMX)."""
    return any(flag in cpu_flags() for flag in BF16_CPU_FLAGS)


@functools.lru_cache(maxsize=None)
def onednn_runs_bf16() -> bool:
    """Can oneDNN run bf16 convolutions here? (AVX-512 BW/VL/DQ or
    AVX-NE-CONVERT: torch refuses bf16 oneDNN tensors elsewhere, e.g. on AVX2.)
    torch's own check; should it go away, bf16 takes the plain nn.Conv2d path."""
    import torch
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False

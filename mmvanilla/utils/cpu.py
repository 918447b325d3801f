"""What this CPU can do: the one place that probes it.

Light: ``/proc/cpuinfo`` is read by :mod:`mmvanilla_runtime.cpu` (the
deployed runtime's own probe, below mmvanilla); torch is imported only by
:func:`onednn_runs_bf16`, which asks torch itself.
"""
import functools
import os
from typing import Set

from mmvanilla_runtime import cpu as runtime_cpu


def cpu_flags() -> Set[str]:
    """The CPU feature flags in /proc/cpuinfo (empty where it is unreadable)."""
    return runtime_cpu.cpu_flags()


#: The extensions that choose the engines' INT8 and bf16 kernels. Two CPUs of
#: one name can differ in them (a Xeon whose hypervisor hides AMX), and INT8
#: accuracy on OpenVINO did (docs/benchmarks.md), so a result names them.
KERNEL_FLAGS = ('avx512_vnni', 'avx_vnni', 'avx512_bf16', 'amx_bf16', 'amx_int8')


def cpu_model() -> str:
    """The CPU as a result file names it, e.g. ``'Intel(R) Xeon(R) Processor
    (family 6 model 207), 2 cores, avx512f avx512_vnni avx_vnni avx512_bf16'``:
    the widest vector ISA, then the INT8/bf16 extensions present."""
    field = runtime_cpu.cpuinfo_field
    name = field('model name') or 'unknown'
    family, model = field('cpu family'), field('model')
    if family and model:
        name += f' (family {family} model {model})'
    flags = cpu_flags()
    isa = next((f for f in ('avx512f', 'avx2', 'avx') if f in flags), 'no avx')
    return ' '.join([f'{name}, {os.cpu_count()} cores, {isa}']
                    + [f for f in KERNEL_FLAGS if f in flags])


def cpu_vendor() -> str:
    """/proc/cpuinfo's vendor_id ('GenuineIntel', 'AuthenticAMD'; '' if unreadable)."""
    return runtime_cpu.cpu_vendor()


def cpu_has_native_bf16() -> bool:
    """True where the CPU computes bf16 natively (AVX512-BF16 or AMX)."""
    return runtime_cpu.cpu_has_native_bf16(cpu_flags())


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

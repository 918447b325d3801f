"""What this CPU can do, from ``/proc/cpuinfo`` (the one place that reads it)."""
from typing import Set

#: CPU flags of native bf16 arithmetic.
BF16_CPU_FLAGS = ('avx512_bf16', 'amx_bf16')
CPUINFO = '/proc/cpuinfo'


def cpuinfo_field(name: str) -> str:
    """The value of the first ``name : value`` line of /proc/cpuinfo whose key
    is ``name`` exactly ('' where unreadable): 'model' is not 'model name'."""
    try:
        with open(CPUINFO) as f:
            for line in f:
                key, colon, value = line.partition(':')
                if colon and key.strip() == name:
                    return value.strip()
    except OSError:
        pass
    return ''


def cpu_flags() -> Set[str]:
    """The CPU feature flags in /proc/cpuinfo (empty where it is unreadable)."""
    return set(cpuinfo_field('flags').split())


def cpu_vendor() -> str:
    """/proc/cpuinfo's vendor_id, e.g. 'GenuineIntel', 'AuthenticAMD'."""
    return cpuinfo_field('vendor_id')


def bf16_slower_than_fp32(flags: Set[str] = None, vendor: str = None) -> bool:
    """True on an Intel CPU with avx512_bf16 but no AMX, where bf16 is likely
    slower than fp32: measured on one such Xeon (its hypervisor hides AMX;
    docs/benchmarks.md). AMD CPUs with the same flag are not flagged."""
    flags = cpu_flags() if flags is None else flags
    vendor = cpu_vendor() if vendor is None else vendor
    return vendor == 'GenuineIntel' and 'avx512_bf16' in flags and 'amx_bf16' not in flags


def cpu_has_native_bf16(flags: Set[str] = None) -> bool:
    """True where the CPU computes bf16 natively (AVX512-BF16 or AMX)."""
    flags = cpu_flags() if flags is None else flags
    return any(flag in flags for flag in BF16_CPU_FLAGS)

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


def cpu_has_native_bf16(flags: Set[str] = None) -> bool:
    """True where the CPU computes bf16 natively (AVX512-BF16 or AMX)."""
    flags = cpu_flags() if flags is None else flags
    return any(flag in flags for flag in BF16_CPU_FLAGS)

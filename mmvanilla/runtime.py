"""Process-level runtime settings that make large CPU tensors cheap.

Most intermediates of a VanillaNet at 1280x800 are 30-260 MB. Under glibc's
defaults every allocation over 32 MB is a fresh ``mmap`` that is page-faulted on
each forward pass, which costs more than the convolutions' arithmetic on CPU.
Keeping freed memory in the heap (``MALLOC_MMAP_MAX_=0`` and a large
``MALLOC_TRIM_THRESHOLD_``) removes that cost. glibc reads these variables only
at start-up, so a tool re-executes itself once with them set.

The price: freed memory is kept by the process instead of being returned to the
system, so its resident size stays at its peak. Turn it off with
``MMVANILLA_TUNED_RUNTIME=0`` (or a tool's ``--no-tuned-runtime``).
"""
import os
import sys
from typing import Dict, List, Optional

from mmvanilla.utils.cpu import cpu_model

TUNED_ENV = {
    'MALLOC_MMAP_MAX_': '0',
    'MALLOC_TRIM_THRESHOLD_': str(1 << 40),
}
_MARKER = 'MMVANILLA_TUNED_RUNTIME'


def tuning_enabled(environ: Optional[Dict[str, str]] = None) -> bool:
    """False if ``MMVANILLA_TUNED_RUNTIME=0`` asks for the default runtime."""
    return (environ or os.environ).get(_MARKER, '1') != '0'


def runtime_description() -> Dict[str, object]:
    """What this process runs with: allocator settings, threads, versions."""
    import torch
    applied = {k: os.environ[k] for k in TUNED_ENV if k in os.environ}
    preload = os.environ.get('LD_PRELOAD', '')
    if applied:
        allocator = 'glibc malloc, mmap off, no trim (' + ', '.join(
            f'{k}={v}' for k, v in applied.items()) + ')'
    else:
        allocator = 'glibc malloc defaults'
    if preload:
        allocator += f'; LD_PRELOAD={preload}'
    return dict(allocator=allocator, cpu=cpu_model(), torch=torch.__version__,
                threads=torch.get_num_threads(),
                mkldnn=torch.backends.mkldnn.is_available(),
                python=sys.version.split()[0])


def default_runtime_env() -> Dict[str, str]:
    """This environment with the tuning removed (for comparisons)."""
    env = {k: v for k, v in os.environ.items() if k not in TUNED_ENV}
    env[_MARKER] = '0'
    return env


def start_program(argv: List[str]) -> None:
    """A program's start, before its heavy imports: ``--no-tuned-runtime`` in
    ``argv`` turns the tuning off (for it and the processes it starts);
    otherwise :func:`reexec_with_tuned_runtime`."""
    if '--no-tuned-runtime' in argv:
        os.environ[_MARKER] = '0'
    reexec_with_tuned_runtime()


def reexec_with_tuned_runtime(argv: Optional[List[str]] = None) -> None:
    """Re-execute this Python program once with :data:`TUNED_ENV` set.

    Does nothing if tuning is off, if the settings are already in place, on
    systems other than Linux (the variables are glibc's) or on machines with an
    NVIDIA GPU. Interpreter options (``-u``, ``-W``, ``-X``) are kept.
    """
    if not tuning_enabled() or not sys.platform.startswith('linux'):
        return
    if os.path.exists('/dev/nvidiactl'):  # a GPU machine: host memory is not the bottleneck
        return
    if all(os.environ.get(k) == v for k, v in TUNED_ENV.items()):
        return
    env = dict(os.environ, **TUNED_ENV)
    sys.stdout.flush()
    sys.stderr.flush()
    args = argv if argv is not None else sys.orig_argv[1:]
    os.execve(sys.executable, [sys.executable] + list(args), env)

"""What tools/setup_env.sh builds for mmcv on this machine, and why; and the
check of an installed mmcv.

    python tools/setup_plan.py plan      KEY=value lines for setup_env.sh
    python tools/setup_plan.py explain   the same, for a person (--plan)
    python tools/setup_plan.py check     mmcv's ops fit the plan and run on
                                         every device torch sees

Reads the environment as setup_env.sh passes it: FORCE_CUDA (unset: CUDA ops
when torch sees a GPU, as mmcv's own build decides; 1: CUDA ops; 0: CPU ops),
TORCH_CUDA_ARCH_LIST, CUDA_HOME, TORCH_SPEC. Standard library, and torch where
it is installed. A problem is one ``error:`` line, exit status 2.
"""
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
from typing import Dict, List, Optional

#: The GPU architectures a CUDA build targets when none is visible and
#: TORCH_CUDA_ARCH_LIST is unset: A100 (8.0), RTX 30xx / A10 / A40 (8.6),
#: L4 / L40 / RTX 40xx (8.9), H100 / H200 (9.0).
DEFAULT_ARCHS = '8.0;8.6;8.9;9.0'
_STANDARDS = {'2014': 'c++14', '2017': 'c++17', '2020': 'c++20', '2023': 'c++23'}


class SetupError(Exception):
    """A set-up that cannot work as asked: what is wrong and what to do."""


def torch_facts() -> Optional[Dict]:
    """The installed torch's version, CUDA version, visible GPUs' compute
    capabilities and include folder; None when torch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    gpus = []
    if torch.cuda.is_available():
        gpus = ['%d.%d' % torch.cuda.get_device_capability(i)
                for i in range(torch.cuda.device_count())]
    return dict(version=torch.__version__, cuda=torch.version.cuda, gpus=gpus,
                include=osp.join(osp.dirname(torch.__file__), 'include'))


def cxx_standard(include: str) -> str:
    """The C++ standard torch's own headers require (their ``__cplusplus``
    guard), not one guessed from torch's version."""
    header = osp.join(include, 'torch', 'csrc', 'api', 'include', 'torch', 'all.h')
    text = open(header).read() if osp.isfile(header) else ''
    found = re.search(r'__cplusplus\s*<\s*(\d{4})\d\dL', text)
    return _STANDARDS.get(found.group(1), 'c++17') if found else 'c++17'


def nvcc_version() -> Optional[str]:
    """'major.minor' of the nvcc torch's build would use ($CUDA_HOME, PATH,
    /usr/local/cuda), or None."""
    home = os.environ.get('CUDA_HOME') or os.environ.get('CUDA_PATH')
    nvcc = osp.join(home, 'bin', 'nvcc') if home else (
        shutil.which('nvcc') or '/usr/local/cuda/bin/nvcc')  # torch's own search order
    if not nvcc or not osp.isfile(nvcc):
        return None
    out = subprocess.run([nvcc, '--version'], capture_output=True, text=True).stdout
    found = re.search(r'release (\d+\.\d+)', out)
    return found.group(1) if found else None


def plan(env=os.environ, facts: Optional[Dict] = None, nvcc: Optional[str] = None) -> Dict:
    """The mmcv build for this machine: ops (cpu or cuda), archs, C++ standard,
    the wheel cache key, and the reasons. Raises :class:`SetupError`."""
    force = env.get('FORCE_CUDA', '')
    if force not in ('', '0', '1'):
        raise SetupError(f'FORCE_CUDA={force!r}: use 1 (CUDA ops), 0 (CPU ops) or leave it '
                         f'unset (CUDA ops when torch sees a GPU)')
    python = 'py%d%d' % sys.version_info[:2]
    if facts is None:
        return dict(OPS='unknown', KEY='', WHY='torch is not installed yet: the build is '
                    'decided once it is (FORCE_CUDA=1 or a visible GPU: CUDA ops; else CPU ops)')
    ops = 'cuda' if force == '1' or (force == '' and facts['gpus']) else 'cpu'
    why = ('FORCE_CUDA=1' if force == '1' else 'FORCE_CUDA=0' if force == '0'
           else f'torch sees {len(facts["gpus"])} GPU(s)' if facts['gpus']
           else 'torch sees no GPU and FORCE_CUDA is unset')
    result = dict(OPS=ops, WHY=why, CXX_STD=cxx_standard(facts['include']), ARCHS='',
                  NVCC='', TORCH=facts['version'], TORCH_CUDA=facts['cuda'] or 'none',
                  BUILD_PROBLEM='')
    key = f'{python}-torch{facts["version"]}-cuda{facts["cuda"] or "none"}-{ops}ops'
    if ops == 'cuda':
        if not facts['cuda']:
            raise SetupError(f'CUDA ops asked for ({why}) but torch {facts["version"]} is a CPU '
                             f'build: choose a CUDA build of torch with TORCH_SPEC (README, '
                             f'Set-up), or set FORCE_CUDA=0')
        version = nvcc if nvcc is not None else nvcc_version()
        if not version:
            result['BUILD_PROBLEM'] = (
                f'CUDA ops asked for ({why}) and no cached wheel fits, but no nvcc was found '
                f'(CUDA_HOME={env.get("CUDA_HOME", "unset")}, not on PATH): install the CUDA '
                f'{facts["cuda"]} toolkit and set CUDA_HOME to it, or set FORCE_CUDA=0 for '
                f'CPU ops')
        elif version.split('.')[0] != facts['cuda'].split('.')[0]:
            result['BUILD_PROBLEM'] = (
                f'nvcc is CUDA {version} but torch {facts["version"]} was built with CUDA '
                f'{facts["cuda"]}: set CUDA_HOME to a CUDA {facts["cuda"].split(".")[0]}.x '
                f'toolkit, or choose the torch build for CUDA {version} with TORCH_SPEC')
        archs = env.get('TORCH_CUDA_ARCH_LIST', '').strip()
        source = 'TORCH_CUDA_ARCH_LIST'
        if not archs:
            archs, source = ((';'.join(sorted(set(facts['gpus']))), 'the visible GPUs')
                             if facts['gpus'] else (DEFAULT_ARCHS, 'the default list'))
        if not re.fullmatch(r'\d+\.\d+(\+PTX)?([; ]\d+\.\d+(\+PTX)?)*', archs):
            raise SetupError(f'TORCH_CUDA_ARCH_LIST={archs!r} is not a list of compute '
                             f'capabilities: write e.g. "8.0;9.0" (9.0 for H100/H200)')
        result.update(ARCHS=archs, NVCC=version or '', WHY=f'{why}; architectures '
                      f'{archs} ({source}); nvcc {version or "not found"}')
        key += '-sm' + re.sub(r'[^0-9A-Za-z]+', '_', archs)
    result['KEY'] = key
    return result


def explain(found: Dict, env=os.environ) -> List[str]:
    """The plan in sentences, for ``setup_env.sh --plan``."""
    spec = env.get('TORCH_SPEC', '')
    lines = [f'torch: {spec} (TORCH_SPEC)'
             + (f'; installed now: {found["TORCH"]}, CUDA {found["TORCH_CUDA"]}'
                if 'TORCH' in found else '')]
    asked = re.search(r'torch==([^\s+]+)', spec)
    if 'TORCH' in found and asked and found['TORCH'].split('+')[0] != asked.group(1):
        lines.append(f'torch {asked.group(1)} replaces the installed {found["TORCH"]}: what '
                     f'follows is for the installed one, and is decided again after')
    if found['OPS'] == 'unknown':
        return lines + [f'mmcv 2.1.0: {found["WHY"]}']
    lines.append(f'mmcv 2.1.0 with {found["OPS"].upper()} ops, because {found["WHY"]}')
    lines.append(f'mmcv wheel: one cached under the key {found["KEY"]}'
                 + (', or a shared one that passes the check below'
                    if found['OPS'] == 'cpu' else '')
                 + f'; else built from source with -std={found["CXX_STD"]} (read from '
                 f'torch\'s headers), ninja, MAX_JOBS={env.get("MAX_JOBS") or os.cpu_count()}')
    if found['BUILD_PROBLEM']:
        lines.append(f'a build would stop: {found["BUILD_PROBLEM"]}')
    lines.append('after install: mmcv.ops nms and roi_align on the CPU'
                 + (' and on every GPU torch sees' if found['OPS'] == 'cuda' else ''))
    return lines


def check(found: Dict) -> None:
    """mmcv's compiled ops are the kind planned and run on every device torch
    sees (nms, roi_align). Raises :class:`SetupError`."""
    import torch
    try:
        from mmcv.ops import get_compiling_cuda_version, nms, roi_align
    except ImportError as e:  # built for another torch or Python
        raise SetupError(f'mmcv.ops does not import ({e}): the wheel was built for another '
                         f'torch or Python') from None
    compiled = get_compiling_cuda_version()
    if found['OPS'] == 'cuda' and compiled == 'not available':
        raise SetupError('mmcv has CPU ops only, but CUDA ops were planned')
    if found['OPS'] == 'cpu' and compiled != 'not available':
        raise SetupError(f'mmcv has CUDA {compiled} ops, but CPU ops were planned')
    devices = ['cpu'] + ([f'cuda:{i}' for i in range(torch.cuda.device_count())]
                         if found['OPS'] == 'cuda' else [])
    for device in devices:
        boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]], device=device)
        scores = torch.tensor([0.9, 0.8], device=device)
        feats = torch.arange(16., device=device).reshape(1, 1, 4, 4)
        rois = torch.tensor([[0., 0., 0., 3., 3.]], device=device)
        try:
            kept = nms(boxes, scores, 0.5)[1].tolist()
            pooled = tuple(roi_align(feats, rois, (2, 2), 1.0, 0, 'avg', True).shape)
        except RuntimeError as e:
            raise SetupError(f'mmcv ops fail on {device}: {str(e).splitlines()[0]} (a wheel '
                             f'without ops for this device or architecture)') from None
        if kept != [0] or pooled != (1, 1, 2, 2):
            raise SetupError(f'mmcv ops give wrong results on {device}')
    print(f'[setup] mmcv ops run on {", ".join(devices)}')


def main(argv: List[str]) -> int:
    if len(argv) != 1 or argv[0] not in ('plan', 'explain', 'check'):
        print('error: usage: setup_plan.py plan|explain|check', file=sys.stderr)
        return 2
    try:
        found = plan(facts=torch_facts())
        if argv[0] == 'plan':
            print('\n'.join(f'{k}={v}' for k, v in found.items() if k != 'WHY'))
        elif argv[0] == 'explain':
            print('\n'.join(f'[plan] {line}' for line in explain(found)))
        else:
            check(found)
    except SetupError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

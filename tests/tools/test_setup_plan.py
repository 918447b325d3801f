"""tools/setup_plan.py and tools/setup_env.sh --plan: the mmcv build fits the
machine and torch, wheels are found by what they were built against, and a
set-up that cannot work is one line. No GPU needed: torch's facts are given."""
import importlib.util
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ORIGINAL_CUDA_VISIBLE_DEVICES, REPO

_spec = importlib.util.spec_from_file_location('setup_plan', REPO / 'tools' / 'setup_plan.py')
setup_plan = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(setup_plan)


def as_started() -> dict:
    """The environment with the devices the suite was started with (conftest
    hides them from the tests), as setup_env.sh saw them."""
    env = {k: v for k, v in os.environ.items() if k != 'CUDA_VISIBLE_DEVICES'}
    if ORIGINAL_CUDA_VISIBLE_DEVICES is not None:
        env['CUDA_VISIBLE_DEVICES'] = ORIGINAL_CUDA_VISIBLE_DEVICES
    return env


def facts(cuda='13.0', gpus=(), version='2.14.1+cu130'):
    import torch
    return dict(version=version, cuda=cuda, gpus=list(gpus),
                include=os.path.join(os.path.dirname(torch.__file__), 'include'))


def test_ops_follow_force_cuda_and_the_visible_gpus():
    assert setup_plan.plan({}, facts(), nvcc='13.0')['OPS'] == 'cpu'
    assert setup_plan.plan({}, facts(gpus=['9.0']), nvcc='13.0')['OPS'] == 'cuda'
    assert setup_plan.plan({'FORCE_CUDA': '0'}, facts(gpus=['9.0']), nvcc='13.0')['OPS'] == 'cpu'
    with pytest.raises(setup_plan.SetupError, match='FORCE_CUDA=.yes.: use 1'):
        setup_plan.plan({'FORCE_CUDA': 'yes'}, facts())


def test_force_cuda_without_a_gpu_builds_for_the_arch_list_or_the_default():
    found = setup_plan.plan({'FORCE_CUDA': '1'}, facts(), nvcc='13.0')
    assert found['ARCHS'] == setup_plan.DEFAULT_ARCHS and '9.0' in found['ARCHS']
    given = setup_plan.plan({'FORCE_CUDA': '1', 'TORCH_CUDA_ARCH_LIST': '9.0'}, facts(),
                            nvcc='13.0')
    assert given['ARCHS'] == '9.0'
    visible = setup_plan.plan({}, facts(gpus=['8.6', '8.6']), nvcc='13.0')
    assert visible['ARCHS'] == '8.6'
    with pytest.raises(setup_plan.SetupError, match='not a list of compute capabilities'):
        setup_plan.plan({'FORCE_CUDA': '1', 'TORCH_CUDA_ARCH_LIST': 'hopper'}, facts(),
                        nvcc='13.0')


def test_a_wheel_key_names_everything_it_was_built_against():
    keys = {setup_plan.plan(env, f, nvcc='13.0')['KEY'] for env, f in [
        ({}, facts()),                                              # CPU ops
        ({'FORCE_CUDA': '1'}, facts()),                             # CUDA ops, default archs
        ({'FORCE_CUDA': '1', 'TORCH_CUDA_ARCH_LIST': '9.0'}, facts()),
        ({}, facts(version='2.11.0+cu130')),                        # another torch
        ({}, facts(cuda='12.8', version='2.14.1+cu128')),           # another CUDA
        ({}, facts(cuda=None, version='2.14.1+cpu')),               # a CPU torch
    ]}
    assert len(keys) == 6, keys
    assert all(k.startswith('py%d%d-' % sys.version_info[:2]) for k in keys)


def test_a_cuda_build_that_cannot_work_says_what_to_do():
    with pytest.raises(setup_plan.SetupError, match='is a CPU build: choose a CUDA build'):
        setup_plan.plan({'FORCE_CUDA': '1'}, facts(cuda=None, version='2.14.1+cpu'))
    missing = setup_plan.plan({'FORCE_CUDA': '1'}, facts(), nvcc='')['BUILD_PROBLEM']
    assert 'no nvcc was found' in missing and 'CUDA_HOME' in missing
    other = setup_plan.plan({'FORCE_CUDA': '1'}, facts(), nvcc='12.4')['BUILD_PROBLEM']
    assert 'nvcc is CUDA 12.4 but torch' in other
    assert setup_plan.plan({'FORCE_CUDA': '1'}, facts(), nvcc='13.1')['BUILD_PROBLEM'] == ''


def test_the_cxx_standard_is_read_from_torchs_headers(tmp_path):
    import torch.utils.cpp_extension
    found = setup_plan.cxx_standard(facts()['include'])
    assert f"'-std={found}'" in open(torch.utils.cpp_extension.__file__).read()
    header = tmp_path / 'torch' / 'csrc' / 'api' / 'include' / 'torch' / 'all.h'
    header.parent.mkdir(parents=True)
    header.write_text('#if !defined(_MSC_VER) && __cplusplus < 201703L\n#error\n#endif\n')
    assert setup_plan.cxx_standard(str(tmp_path)) == 'c++17'


def test_the_installed_mmcv_passes_its_ops_check():
    """As setup_env.sh runs it, on the devices the suite was started with; and
    a plan for the other kind of ops is refused."""
    from mmcv.ops import get_compiling_cuda_version
    proc = subprocess.run([sys.executable, str(REPO / 'tools' / 'setup_plan.py'), 'check'],
                          env=as_started(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and 'mmcv ops run on cpu' in proc.stdout, proc.stderr
    installed = 'cpu' if get_compiling_cuda_version() == 'not available' else 'cuda'
    found = setup_plan.plan({}, setup_plan.torch_facts(), nvcc='13.0')
    with pytest.raises(setup_plan.SetupError, match='ops were planned'):
        setup_plan.check(dict(found, OPS='cuda' if installed == 'cpu' else 'cpu'))


def test_setup_env_plan_changes_nothing_and_sees_changed_settings():
    def plan(**env):
        proc = subprocess.run(['bash', str(REPO / 'tools' / 'setup_env.sh'), '--plan'],
                              env={**as_started(), 'VENV': sys.prefix, **env},
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout
    stamp = os.path.join(sys.prefix, '.mmvanilla-setup')
    before = open(stamp).read() if os.path.exists(stamp) else None
    unchanged = plan()
    assert 'is complete for these settings' in unchanged, \
        f'{unchanged}\n(run bash tools/setup_env.sh first: the venv is not the set-up of these files)'
    assert re.search(r'mmcv 2\.1\.0 with (CPU|CUDA) ops, because', unchanged)
    assert 'a run installs again' in plan(TORCH_SPEC='torch==2.11.0 torchvision==0.26.0')
    cuda = plan(FORCE_CUDA='1', TORCH_CUDA_ARCH_LIST='9.0')  # on a host without a GPU
    assert 'a run installs again' in cuda
    assert 'with CUDA ops, because FORCE_CUDA=1; architectures 9.0' in cuda
    assert '-cudaops-sm9_0' in cuda and 'shared' not in cuda  # never the CPU wheel
    assert (open(stamp).read() if os.path.exists(stamp) else None) == before
    bad = subprocess.run(['bash', str(REPO / 'tools' / 'setup_env.sh'), '--nope'],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith('error: unknown argument')


def test_setup_env_stops_in_one_line_when_the_disk_is_too_full(tmp_path):
    """A disk without room for torch stops before pip starts, and creates nothing."""
    def setup(min_free_gb):
        return subprocess.run(['bash', str(REPO / 'tools' / 'setup_env.sh')],
                              env={**as_started(), 'VENV': str(tmp_path / 'deep' / 'venv'),
                                   'MIN_FREE_GB': min_free_gb},
                              capture_output=True, text=True, timeout=120)
    proc = setup('100000000')
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count('\n') == 1 and 'MB free on the disk of' in proc.stderr
    assert 'set VENV=' in proc.stderr and 'Traceback' not in proc.stderr
    proc = setup('7.5')
    assert proc.returncode == 2 and proc.stderr.count('\n') == 1
    assert "MIN_FREE_GB must be a whole number of GB, got '7.5'" in proc.stderr
    assert not (tmp_path / 'deep').exists()


def test_setup_env_stops_in_one_line_where_the_venv_cannot_be_made(tmp_path):
    """A VENV under a file stops at the pre-flight, before pip starts."""
    (tmp_path / 'file').write_text('')
    proc = subprocess.run(['bash', str(REPO / 'tools' / 'setup_env.sh')],
                          env={**as_started(), 'VENV': str(tmp_path / 'file' / 'venv')},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count('\n') == 1, proc.stdout + proc.stderr
    assert 'is a file, not a directory; set VENV=' in proc.stderr

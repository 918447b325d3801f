"""The tools' entry point: one process set-up, one error line, light imports."""
import os
import subprocess
import sys
import textwrap

from mmvanilla.cli import USER_ERROR, call
from mmvanilla.utils.errors import ConfigError
from tests.conftest import REPO

PROBE_TOOL = '''
import gc, os, sys
heavy = sorted(m for m in ('torch', 'mmdet', 'mmengine', 'mmcv') if m in sys.modules)
made_by_the_import = ['probe']  # (a list: tracked by the collector, unless frozen)
def main(argv):
    frozen = not any(o is made_by_the_import for o in gc.get_objects())
    print('argv', argv, 'malloc', os.environ.get('MALLOC_MMAP_MAX_'), 'heavy', heavy,
          'frozen', frozen)
    if argv == ['bug']:  # a bug of mmvanilla's own: a traceback
        from mmvanilla.utils.paths import check_outputs
        check_outputs(None)
    if argv == ['bug-in-stdlib']:  # mmvanilla's own code failing inside the stdlib
        from mmvanilla.utils.paths import atomic_output
        atomic_output(None).__enter__()
    if argv == ['third-party']:  # what a library fails on: one line
        import json
        json.loads('{"unclosed": ')
'''


def run_probe(tmp_path, *args, env=None):
    (tmp_path / 'probe_tool.py').write_text(PROBE_TOOL)
    code = textwrap.dedent(f'''
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from mmvanilla.cli import run_as_program
        run_as_program('probe_tool')
    ''')
    return subprocess.run([sys.executable, '-c', code, *args], capture_output=True,
                          text=True, env=env, timeout=60)


def test_program_reexecutes_with_the_tuned_runtime_before_any_heavy_import(tmp_path):
    proc = run_probe(tmp_path, '--x', '1')
    assert proc.returncode == 0, proc.stderr
    # and what the tool's import made is out of the garbage collector's sight
    # (mmengine collects at every dataset build)
    assert "argv ['--x', '1'] malloc 0 heavy [] frozen True" in proc.stdout


def test_no_tuned_runtime_keeps_the_default_allocator(tmp_path):
    proc = run_probe(tmp_path, '--no-tuned-runtime')
    assert proc.returncode == 0, proc.stderr
    assert 'malloc None' in proc.stdout


def test_a_bug_is_a_traceback_not_a_user_error(tmp_path):
    proc = run_probe(tmp_path, 'bug')
    assert proc.returncode == 1 and 'Traceback' in proc.stderr
    assert "AttributeError: 'NoneType'" in proc.stderr
    proc = run_probe(tmp_path, 'bug-in-stdlib')
    assert proc.returncode == 1 and 'Traceback' in proc.stderr and 'TypeError' in proc.stderr


def test_a_third_party_failure_is_one_line_with_its_traceback_kept(tmp_path):
    proc = run_probe(tmp_path, 'third-party')
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith('error: probe_tool raised JSONDecodeError: Expecting value')
    log = line.split('traceback in ')[1]
    assert 'json.loads' in open(log).read()


def test_user_error_is_one_line_and_status_2(capsys):
    def main(argv):
        raise ConfigError('class `VanillaNet` in vanillanet.py: out_indices wrong: fix it')
    assert call(main, []) == USER_ERROR
    err = capsys.readouterr().err
    assert err == 'error: out_indices wrong: fix it\n'


def test_ctrl_c_is_one_line_and_status_130(capsys):
    def main(argv):
        raise KeyboardInterrupt
    assert call(main, []) == 130
    assert capsys.readouterr().err.startswith('error: interrupted: checkpoints and outputs')


def test_light_modules_import_without_torch_or_mmdet():
    code = ('import sys, mmvanilla, mmvanilla.cli, mmvanilla.runtime, mmvanilla.utils.errors, '
            'mmvanilla.utils.cpu, mmvanilla.utils.paths\n'
            "print(sorted(m for m in ('torch', 'mmdet', 'mmcv', 'mmpretrain') if m in sys.modules))")
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert proc.stdout.strip() == '[]', proc.stderr


def test_importing_a_tool_module_runs_nothing(tmp_path):
    """tools/<name>.py does nothing on import (no re-execution, no warning
    filter); mmvanilla.tools.<name> only imports, whatever the tool."""
    tools = sorted(p.stem for p in (REPO / 'mmvanilla' / 'tools').glob('[a-z]*.py'))
    code = ('import os, runpy, sys, warnings; sys.argv = ["x", "--help"]\n'
            f"runpy.run_path({str(REPO / 'tools' / 'train.py')!r}, run_name='not_main')\n"
            f'for tool in {tools!r}:\n'
            "    __import__('mmvanilla.tools.' + tool)\n"
            "ours = [f for f in warnings.filters if f[1] and 'pkg_resources' in f[1].pattern]\n"
            "print(os.environ.get('MALLOC_MMAP_MAX_'), ours == [])")
    env = {k: v for k, v in os.environ.items() if not k.startswith('MALLOC_')}
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ['None', 'True'], proc.stdout

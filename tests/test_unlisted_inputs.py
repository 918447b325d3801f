"""Every case of tests/unlisted_inputs.py (docs/bad_inputs.md rows 139 on), run
in this process: one error line and nothing lost, or the documented result."""
import contextlib
import io
import subprocess

import pytest

from tests.conftest import REPO, call_tool
from tests.runtime.test_runtime import deployed  # noqa: F401 - the fp32 artefact fixture
from tests.unlisted_inputs import CASES, Context, held, sha


def execute(run):
    """(exit status, stderr) of ``run`` as its program gives them."""
    program, args = run.argv[0], run.argv[1:]
    if program.endswith('.sh'):
        proc = subprocess.run(['bash', str(REPO / program), *args], cwd=REPO,
                              capture_output=True, text=True, timeout=120,
                              env={**__import__('os').environ, **run.env})
        return proc.returncode, proc.stderr
    if program == 'runtime':
        from mmvanilla_runtime.__main__ import run as runtime
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = runtime(args)
            except SystemExit as e:  # --help
                code = e.code
        return code, err.getvalue()
    result = call_tool(program, *args, env=run.env)
    return result.returncode, result.stderr


@pytest.mark.parametrize('name', sorted(CASES))
def test_unlisted_input(name, shapes_root, trained_retinanet, deployed, tmp_path):  # noqa: F811
    _, checkpoint, options = trained_retinanet
    import pathlib
    run = CASES[name](Context(tmp_path, pathlib.Path(shapes_root), checkpoint, options,
                              deployed))
    before = {p: sha(p) for p in run.protected}
    code, stderr = execute(run)
    assert held(run, code, stderr, before) is None, held(run, code, stderr, before)

"""docs/benchmarks.md's generated tables match their raw files."""
from tests.conftest import REPO, run_program


def test_the_tables_of_the_docs_are_their_raw_files():
    proc = run_program(REPO / 'benchmarks' / 'results_tables.py', '--check')
    assert proc.returncode == 0, proc.stderr

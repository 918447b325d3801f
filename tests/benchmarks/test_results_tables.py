"""docs/benchmarks.md's generated tables match their raw files."""
from tests.conftest import REPO, run_program


def test_the_tables_of_the_docs_are_their_raw_files():
    proc = run_program(REPO / 'benchmarks' / 'results_tables.py', '--check')
    assert proc.returncode == 0, proc.stderr


def test_a_raw_file_no_page_names_fails_the_check(tmp_path, monkeypatch, capsys):
    import benchmarks.results_tables as tables
    (tmp_path / 'docs' / 'results').mkdir(parents=True)
    (tmp_path / 'docs' / 'results' / 'cited.json').write_text('{}')
    (tmp_path / 'docs' / 'results' / 'stale.json').write_text('{}')
    (tmp_path / 'docs' / 'benchmarks.md').write_text('see results/cited.json\n')
    (tmp_path / 'README.md').write_text('')
    monkeypatch.setattr(tables, 'REPO', str(tmp_path))
    monkeypatch.setattr(tables, 'DOC', str(tmp_path / 'docs' / 'benchmarks.md'))
    monkeypatch.setattr(tables, 'RESULTS', str(tmp_path / 'docs' / 'results'))
    assert tables.main(['--check']) == 1
    assert 'no page names stale.json' in capsys.readouterr().err
    for other in ('old_stale.json', 'stale.json.bak'):  # another file's name holds it
        (tmp_path / 'README.md').write_text(f'[x](docs/results/{other})\n')
        assert tables.main(['--check']) == 1
    capsys.readouterr()
    (tmp_path / 'README.md').write_text('Its file is docs/results/stale.json.\n')
    assert tables.main(['--check']) == 0

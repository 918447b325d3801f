"""The package's import rules (README, "The package"), read from the code."""
import ast
import pathlib

from tests.conftest import REPO

PACKAGE = REPO / 'mmvanilla'
#: Each layer and what it must not import (the layers above it).
FORBIDDEN = {
    'utils': ('models', 'engine', 'deploy', 'apis', 'tools', 'plugin', 'cli', 'datasets'),
    'models': ('engine', 'deploy', 'apis', 'tools', 'plugin', 'cli'),
    'engine': ('apis', 'tools', 'plugin', 'cli'),
    'deploy': ('apis', 'tools', 'plugin', 'cli'),
    'apis': ('tools', 'cli'),
}
#: What changes a third-party library: only mmvanilla/patches.py may do it.
PATCH_MARKERS = ('register_scheme(', 'register_backend(', 'load_url =', 'force=True')


def imports_of(path: pathlib.Path):
    """The mmvanilla modules a file imports, as dotted names (relative ones resolved)."""
    package = '.'.join(path.relative_to(REPO).with_suffix('').parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith('mmvanilla'))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                base = '.'.join(package.split('.')[:len(package.split('.')) - node.level + 1]
                                + ([base] if base else []))
            if base.startswith('mmvanilla'):
                yield base
                yield from (f'{base}.{a.name}' for a in node.names)


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(REPO).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def graph():
    files = {module_name(p): p for p in PACKAGE.rglob('*.py')}
    return {name: {i for i in imports_of(path) if i in files and i != name}
            for name, path in files.items()}


def test_lower_layers_import_nothing_above_them():
    wrong = [(name, target) for name, targets in graph().items() for target in targets
             for layer, above in FORBIDDEN.items()
             if name.startswith(f'mmvanilla.{layer}')
             and target.split('.')[1] in above]
    assert wrong == []


def test_no_import_cycle():
    edges = graph()
    # package faces (__init__) re-export their children: the arrows that count
    # are between modules
    edges = {n: {t for t in ts if not n.startswith(t + '.') and not t.startswith(n + '.')}
             for n, ts in edges.items()}
    state, cycle = {}, []

    def visit(node, stack):
        state[node] = 'open'
        for target in edges.get(node, ()):
            if state.get(target) == 'open':
                cycle.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[node] = 'done'
    for node in edges:
        if node not in state:
            visit(node, [node])
    assert cycle == []


def test_only_patches_changes_third_party_libraries():
    changing = sorted(str(p.relative_to(REPO)) for p in PACKAGE.rglob('*.py')
                      if any(m in p.read_text() for m in PATCH_MARKERS))
    assert changing == ['mmvanilla/patches.py']


def test_the_runtime_imports_nothing_of_torch_openmmlab_or_mmvanilla():
    forbidden = ('torch', 'torchvision', 'mmengine', 'mmcv', 'mmdet', 'mmpretrain', 'mmvanilla')
    wrong = []
    for path in (REPO / 'mmvanilla_runtime').rglob('*.py'):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ''] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            wrong += [(path.name, n) for n in names if n.split('.')[0] in forbidden]
    assert wrong == []

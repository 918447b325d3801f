"""The tables of docs/benchmarks.md, written from their raw files
(``tools/benchmark.py --formats``, ``tools/get_flops.py --out``,
``benchmarks/backbone_speed.py``, ``benchmarks/train_step_cost.py``).

    python benchmarks/results_tables.py           rewrite the tables in place
    python benchmarks/results_tables.py --check   exit 1 where a table differs from its file

A table is the block between ``<!-- table: NAME.json -->`` and ``<!-- end table -->``;
NAME.json is in docs/results/. The block states the CPU, the command and the figures,
as the file has them. The suite runs --check, so a table cannot drift from its
raw file, and it fails on a file in docs/results/ that neither README.md nor a
page of docs/ names: a raw result nobody reads goes, so nothing stale stays.
"""
import glob
import json
import os
import os.path as osp
import re
import sys
from typing import List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DOC = osp.join(REPO, 'docs', 'benchmarks.md')
RESULTS = osp.join(REPO, 'docs', 'results')
BLOCK = re.compile(r'(<!-- table: (\S+\.json) -->\n)(.*?)(<!-- end table -->)', re.S)


def _ap(ap: dict, kind: str) -> str:
    return f'{ap[kind]:.3f}' if kind in ap else '–'


def formats_table(result: dict) -> str:
    """Markdown of one ``--formats`` JSON: its machine, its command, its rows."""
    runtime = result['runtime']
    models = '; '.join(
        f'{name}: {m["params_m"]:.2f} M parameters, {m["gmac"]:.2f} GMAC at {m["shape"][1]}×'
        f'{m["shape"][0]}' + ('' if m['trained'] else ' (initialised weights: no AP)')
        for name, m in result['models'].items())
    images = (f'{result["images"]} images' if result.get('ann_file') else
              f'{result["images"]} generated images (no test set on the machine: no AP)')
    engines = ''.join(f', {name} {version}' for name, version in
                      result.get('engines', {}).items())  # (not in files before 2026-12-03)
    lines = [f'{runtime["cpu"]}, {runtime["threads"]} threads, torch {runtime["torch"]}{engines}; '
             f'{images}, {result["rounds"]} round(s), latency at batch 1, '
             f'throughput at batch {result["batch"]}. Fused models: {models}.', '',
             f'`{result["command"]}`', '',
             '| model | form | engine | bbox AP | bbox AP50 | segm AP | p50 ms | p90 ms | images/s '
             '| peak MB | cold start s |',
             '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    for row in result['rows']:
        head = f'| {row["model"]} | {row["form"]} | {row.get("engine") or "PyTorch"} |'
        if 'error' in row:
            lines.append(f'{head} not run: {row["error"]} |||||||')
            continue
        ap = row.get('ap', {})
        lines.append(f'{head} {_ap(ap, "bbox")} | {_ap(ap, "bbox_50")} | {_ap(ap, "segm")} | '
                     f'{row["latency_ms_p50"]:.1f} | {row["latency_ms_p90"]:.1f} | '
                     f'{row["throughput_images_per_s"]:.1f} | {row["peak_rss_mb"]:.0f} | '
                     f'{row["cold_start_s"]:.1f} |')
    return '\n'.join(lines) + '\n'


def flops_table(result: dict) -> str:
    """Markdown of one ``tools/get_flops.py --out`` JSON."""
    lines = [f'`{result["command"]}`', '',
             f'| {result["config"]} at {"×".join(map(str, result["input"]))} | detector GMAC '
             f'| params M | backbone GMAC | activations\' depthwise GMAC | detector GMAC '
             f'without them |', '|---|---:|---:|---:|---:|---:|']
    for form in ('fused', 'unfused'):
        r = result[form]
        lines.append(f'| {form} | {r["detector_gmac"]:.1f} | {r["detector_params_m"]:.2f} | '
                     f'{r["backbone_gmac"]:.1f} | {r["activation_dw_gmac"]:.1f} | '
                     f'{r["detector_gmac"] - r["activation_dw_gmac"]:.1f} |')
    return '\n'.join(lines) + '\n'


def backbone_table(result: dict) -> str:
    """Markdown of one ``benchmarks/backbone_speed.py`` JSON."""
    runtime = result['runtime']
    eff = result['fused_efficiency']
    lines = [f'{runtime["cpu"]}, {runtime["threads"]} threads, torch {runtime["torch"]}; '
             f'{result["arch"]} at {"×".join(map(str, result["input"]))}, fp32, '
             f'{len(result["runs"]["fused_s"])} paired rounds.', '',
             f'`{result["command"]}`', '',
             '| peak (best reference, median) | fused | unfused | plain PyTorch (fused '
             'weights) | fused efficiency | fused vs unfused | fused vs plain |',
             '|---:|---:|---:|---:|---:|---:|---:|',
             f'| {result["peak_gflops"]:.0f} GFLOP/s ({result["peak_reference"]}) | '
             f'{result["fused_s"]:.3f} s | {result["unfused_s"]:.3f} s | {result["plain_s"]:.3f} s | '
             + (f'{eff:.2f}' if eff is not None else f'none: {result["efficiency_note"]}')
             + f' | {result["fused_speedup_vs_unfused"]:.2f}× | '
             f'{result["fused_speedup_vs_plain"]:.2f}× |']
    return '\n'.join(lines) + '\n'


def train_cost_table(result: dict) -> str:
    """Markdown of one ``benchmarks/train_step_cost.py`` JSON."""
    runtime, runs = result['runtime'], result['results']
    sizes = sorted({(r['batch'], *r['size']) for r in runs})
    lines = [f'{runtime["cpu"]}, {runtime["threads"]} threads, torch {runtime["torch"]}; '
             + ', '.join(f'batch {b} at {w}×{h}' for b, h, w in sizes)
             + f', median of {runs[0]["steps"]} step(s) after a warm-up.', '',
             f'`{result["command"]}`', '',
             '| case | config | params M | `with_cp` | step s | peak GB |',
             '|---|---|---:|---|---:|---:|']
    for r in runs:
        peak = (f'{r["peak_cuda_mb"] / 1024:.2f} (CUDA)' if 'peak_cuda_mb' in r
                else f'{r["peak_rss_mb"] / 1024:.2f}')
        lines.append(f'| {r["case"]} | `{r["config"]}` | {r["params_m"]:.1f} | '
                     f'{"yes" if r["with_cp"] else "no"} | {r["step_s_median"]:.1f} | {peak} |')
    return '\n'.join(lines) + '\n'


def table_of(result: dict) -> str:
    """The table of a raw file, by what kind of file it is."""
    if 'results' in result:
        return train_cost_table(result)
    if 'rows' in result:
        return formats_table(result)
    if 'fused_efficiency' in result:
        return backbone_table(result)
    return flops_table(result)


def rendered(text: str) -> str:
    """``text`` with every table block written from its raw file."""
    def block(match):
        path = osp.join(RESULTS, match.group(2))
        if not osp.isfile(path):
            raise SystemExit(f'error: {DOC} names {match.group(2)}, which is not in '
                             f'docs/results/: run the command that makes it, or drop the table')
        with open(path) as f:
            return match.group(1) + table_of(json.load(f)) + match.group(4)
    return BLOCK.sub(block, text)


def unreferenced() -> List[str]:
    """The files of docs/results/ that README.md and docs/*.md never name. A
    table's JSON and plot are named by its marker and its command line."""
    text = ''
    for page in [osp.join(REPO, 'README.md')] + glob.glob(osp.join(osp.dirname(DOC), '*.md')):
        with open(page) as f:
            text += f.read()
    return sorted(name for name in os.listdir(RESULTS) if not re.search(
        rf'(?<![\w.-]){re.escape(name)}(?![\w-]|\.\w)', text))  # 'old_a.json' is not 'a.json'


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with open(DOC) as f:
        text = f.read()
    new = rendered(text)
    if argv == ['--check']:
        if new != text:
            print(f'error: a table in {DOC} differs from its raw file: run python '
                  f'benchmarks/results_tables.py', file=sys.stderr)
            return 1
        unread = unreferenced()
        if unread:
            print(f'error: no page names {", ".join(unread)} (docs/results/): cite each '
                  'beside its table or claim, or delete it', file=sys.stderr)
            return 1
        return 0
    if argv:
        print('error: usage: results_tables.py [--check]', file=sys.stderr)
        return 2
    with open(DOC, 'w') as f:
        f.write(new)
    print(f'wrote {DOC}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""COCO AP of the deployed artefact (``python -m mmvanilla_runtime``) against
``tools/test.py`` in the same precision, on a config's test set.

    python benchmarks/deployed_ap.py CONFIG CHECKPOINT WORK_DIR OUT.json
        [--precisions fp32 bf16 int8] [--calib-images 160]

fp32 and bf16: ``tools/deploy.py`` makes the artefact and ``tools/test.py
--deploy --precision P`` evaluates the PyTorch model. int8: ``tools/quantize.py``
makes the artefact (the same one ``tools/deploy.py --precision int8`` makes) and
``tools/test.py OUT/config.py OUT/fused.pth --precision int8`` evaluates it
through mmdet's pipeline. Each tool runs as its own process, as a user runs it.
"""
import argparse
import json
import os.path as osp
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def run(*args) -> str:
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=REPO, capture_output=True,
                          text=True)
    if proc.returncode:
        sys.exit(f'{" ".join(map(str, args))} failed:\n{proc.stderr[-3000:]}')
    return proc.stdout


def test_metrics(work_dir: Path) -> dict:
    """The last ``coco/<kind>_mAP: value`` figures of tools/test.py's log."""
    text = '\n'.join(p.read_text() for p in sorted(work_dir.rglob('*.log')))
    return {f'{kind}': float(v) for kind, v in re.findall(r'coco/(bbox|segm)_mAP: ([\d.]+)',
                                                           text)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('work_dir', type=Path)
    parser.add_argument('out')
    parser.add_argument('--precisions', nargs='+', default=['fp32', 'bf16', 'int8'])
    parser.add_argument('--calib-images', type=int, default=160)
    args = parser.parse_args()
    from mmengine.config import Config

    from mmvanilla.deploy.evaluation import runtime_results_ap
    cfg = Config.fromfile(args.config)
    data = cfg.test_dataloader.dataset
    images = osp.join(data.data_root, data.data_prefix.img)
    ann_file = osp.join(data.data_root, data.ann_file)
    results = {}
    for precision in args.precisions:
        art = args.work_dir / precision
        test_dir = args.work_dir / f'test_{precision}'
        if precision == 'int8':
            run('tools/quantize.py', args.config, args.checkpoint, art,
                '--calib-images', args.calib_images)
            run('tools/test.py', art / 'config.py', art / 'fused.pth', '--precision', 'int8',
                '--work-dir', test_dir)
        else:
            run('tools/deploy.py', args.config, args.checkpoint, art, '--precision', precision)
            run('tools/test.py', args.config, args.checkpoint, '--deploy', '--precision',
                precision, '--work-dir', test_dir)
        out = args.work_dir / f'runtime_{precision}.json'
        run('-m', 'mmvanilla_runtime', art, images, '--out', out)
        deployed = runtime_results_ap(json.loads(out.read_text()), ann_file)
        tested = test_metrics(test_dir)
        results[precision] = dict(
            test_py=tested, runtime=deployed,
            difference={k: deployed[k] - tested[k] for k in deployed if k in tested})
        print(precision, json.dumps(results[precision]))
    from mmvanilla.runtime import runtime_description
    with open(args.out, 'w') as f:
        json.dump(dict(config=args.config, checkpoint=args.checkpoint, results=results,
                       runtime=runtime_description(),
                       command=' '.join(['python'] + sys.argv)), f, indent=2)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()

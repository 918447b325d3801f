"""Per-image latency of the deployed artefact (mmvanilla_runtime: decode to
results) against ``tools/benchmark.py``'s ``test_step`` in the same precision,
for a config at its test scale (1280x800), on images of the shapes dataset.

    python benchmarks/deployed_latency.py CONFIG OUT.json [--data data/shapes]
        [--precisions fp32 int8] [--rounds 5] [--calib-images 8] [--checkpoint CKPT]

Both sides run the same fused detector: ``test_step`` is the PyTorch model
(bf16: cast; int8: the INT8 artefact wrapped by DeployedDetector, as
``tools/test.py --precision int8`` runs it) on an already decoded and resized
image, the artefact run is ``Detector.detect_files`` on the image file (decode,
resize, normalise, the end-to-end model, masks pasted and RLE-encoded where
the model has masks). Runs are interleaved round by round; medians.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmvanilla.plugin  # noqa: E402,F401
from mmvanilla.apis.deployment import deployment_inputs  # noqa: E402
from mmvanilla.apis.detector import build_detector  # noqa: E402
from mmvanilla.utils.timing import time_calls  # noqa: E402
from mmvanilla.deploy.artefact import write_artefact  # noqa: E402
from mmvanilla.deploy.precision import apply_precision  # noqa: E402
from mmvanilla.models import switch_to_deploy  # noqa: E402
from mmvanilla.runtime import runtime_description  # noqa: E402
from mmvanilla_runtime.detector import Detector, coco_entries  # noqa: E402
from mmvanilla_runtime.errors import RuntimeInputError  # noqa: E402


def shapes_options(data: str) -> dict:
    """The config's datasets pointed at the shapes images (its own test scale).
    The test set keeps the config's classes (the head's: COCO's 80); the
    training set, which only lends calibration images, names the shapes'."""
    opts = {}
    for split, folder in (('train', 'train'), ('test', 'val')):
        prefix = f'{split}_dataloader.dataset.'
        opts.update({prefix + 'data_root': data.rstrip('/') + '/',
                     prefix + 'ann_file': f'annotations/instances_{folder}.json',
                     prefix + 'data_prefix': dict(img=f'{folder}/')})
    opts['train_dataloader.dataset.metainfo'] = dict(classes=('circle', 'square', 'triangle'))
    return opts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('out')
    parser.add_argument('--checkpoint')
    parser.add_argument('--data', default='data/shapes')
    parser.add_argument('--precisions', nargs='+', default=['fp32', 'int8'])
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--calib-images', type=int, default=8)
    args = parser.parse_args()
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate
    model, cfg, _ = build_detector(args.config, args.checkpoint, shapes_options(args.data))
    switch_to_deploy(model)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    item = dataset[0]
    path = item['data_samples'].img_path
    runs, info = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for precision in args.precisions:
            folder = osp.join(tmp, precision)
            os.makedirs(folder)
            start = time.perf_counter()
            example, calibration = deployment_inputs(cfg, model, precision,
                                                     args.calib_images)
            write_artefact(model, cfg, folder, precision, example, calibration)
            info[precision] = dict(deploy_s=round(time.perf_counter() - start, 1),
                                   model_mb=round(os.path.getsize(
                                       osp.join(folder, 'model.onnx')) / 2**20, 1))
            import copy
            try:
                torch_model, _ = apply_precision(copy.deepcopy(model) if precision == 'bf16'
                                                 else model, precision, folder)
                detector = Detector(folder)
            except RuntimeInputError as e:  # an engine that cannot load the artefact
                info[precision]['not_measured'] = str(e)
                print(f'{precision}: not measured: {e}')
                continue
            batch = pseudo_collate([item])
            runs[f'test_step {precision}'] = lambda m=torch_model, b=batch: m.test_step(b)
            runs[f'artefact {precision}'] = lambda d=detector: [
                coco_entries(osp.basename(p), dets) for p, dets in d.detect_files([path])]
        times, outputs = time_calls(runs, args.rounds, warmup=1)
    result = dict(config=args.config, checkpoint=args.checkpoint, image=path,
                  input_shape=list(item['inputs'].shape), rounds=args.rounds,
                  median_ms={k: statistics.median(v) * 1000 for k, v in times.items()},
                  times_s=times, deploy=info, runtime=runtime_description(),
                  command=' '.join(['python'] + sys.argv))
    for precision in args.precisions:
        if f'artefact {precision}' not in result['median_ms']:
            continue
        a = result['median_ms'][f'artefact {precision}']
        t = result['median_ms'][f'test_step {precision}']
        result[f'artefact_over_test_step_{precision}'] = a / t
        print(f'{precision}: artefact {a:.0f} ms, test_step {t:.0f} ms, ratio {a / t:.3f}')
    if {'test_step fp32', 'test_step int8'} <= set(result['median_ms']):
        result['int8_speedup_test_step'] = (result['median_ms']['test_step fp32']
                                            / result['median_ms']['test_step int8'])
        result['int8_speedup_over_fp32_test_step'] = (result['median_ms']['test_step fp32']
                                                      / result['median_ms']['artefact int8'])
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=2)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()

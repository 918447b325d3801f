"""One form of a detector, measured in a process of its own (by
``tools/benchmark.py --formats``): its detections of every image, batch 1,
timed from the decoded image to the detections; throughput at batch N; its
process's peak memory; when its first detections came.

    python -m mmvanilla.tools.measure_form SPEC.json OUT.json

Imports only what its form needs: an artefact's process loads
``mmvanilla_runtime`` (no torch), so its cold start is a deployment's.
"""
import json
import os.path as osp
import resource
import sys
import time
from typing import Callable, Dict, List


def torch_detector(spec: dict) -> Callable[[list], List[List[dict]]]:
    """The fused PyTorch model in ``spec['precision']`` on ``spec['device']``:
    BGR images in, the runtime's detection dicts out."""
    import numpy as np
    import torch
    from mmengine.dataset import pseudo_collate

    from mmvanilla.apis.config_checks import dataset_classes
    from mmvanilla.apis.detector import array_test_pipeline, build_detector
    from mmvanilla.deploy.precision import apply_precision
    from mmvanilla.models import switch_to_deploy
    model, cfg, _ = build_detector(spec['config'], spec['checkpoint'])
    switch_to_deploy(model)
    model, _ = apply_precision(model, spec['precision'])
    model = model.to(spec['device'])
    pipeline = array_test_pipeline(cfg)
    classes = dataset_classes(cfg.test_dataloader.dataset)

    def detect(images: list) -> List[List[dict]]:
        batch = pseudo_collate([pipeline(dict(img=image, img_id=i))
                                for i, image in enumerate(images)])
        with torch.no_grad():
            samples = model.test_step(batch)
        results = []
        for sample in samples:
            pred = sample.pred_instances
            boxes, scores = pred.bboxes.float().cpu().numpy(), pred.scores.float().cpu().numpy()
            labels = pred.labels.cpu().numpy()
            masks = pred.masks.cpu().numpy().astype(bool) if 'masks' in pred else None
            dets = []
            for k in np.argsort(-scores, kind='stable'):
                det = dict(box=boxes[k].tolist(), score=float(scores[k]), label=int(labels[k]),
                           category=classes[int(labels[k])])
                if masks is not None:
                    det['mask'] = masks[k]
                dets.append(det)
            results.append(dets)
        return results
    return detect


def measure(spec: dict) -> dict:
    """The figures of one form (see the module's doc)."""
    loading = time.perf_counter()
    if spec['kind'] == 'artefact':
        from mmvanilla_runtime import Detector
        detect = Detector(spec['folder'], spec['engine']).detect
        wait = None
    else:
        detect = torch_detector(spec)
        wait = spec['device'] if spec['device'].startswith('cuda') else None
    if wait is not None:  # fp32 is fp32 on CUDA (cuDNN's convolutions default to TF32)
        from mmvanilla.utils.timing import cuda_fp32_math
        with cuda_fp32_math(False):
            return run_images(detect, spec, loading, wait)
    return run_images(detect, spec, loading, wait)


def run_images(detect, spec: dict, loading: float, wait) -> dict:
    """The measurements of :func:`measure` on a loaded form."""
    from mmvanilla_runtime.detector import coco_entries
    from mmvanilla_runtime.preprocess import read_image
    paths = spec['images']
    first = read_image(paths[0])  # (the others are decoded as they are run: a form's
    load_s = time.perf_counter() - loading  # peak memory is the form's, not the set's)
    detect([first])
    first_at = time.time()
    timed = _timer(wait)
    entries, latency = [], []
    for path in paths:  # batch 1, from the decoded image
        image = read_image(path)
        seconds, dets = timed(lambda: detect([image]))
        latency.append(seconds)
        entries += coco_entries(osp.basename(path), dets[0])
    batch = spec['batch']
    batches = [paths[i:i + batch] for i in range(0, len(paths), batch)]
    detect([read_image(p) for p in batches[0]])  # (a new batch shape: its warm-up)
    throughput_s = 0.0
    for chunk in batches:
        images = [read_image(p) for p in chunk]
        throughput_s += timed(lambda: detect(images))[0]
    report = dict(entries=entries, latency_s=latency, load_s=load_s, first_detection_at=first_at,
                  throughput_images_per_s=len(paths) / throughput_s,
                  peak_rss_mb=peak_rss_mb())
    if wait is not None:
        import torch
        report['peak_gpu_memory_mb'] = torch.cuda.max_memory_allocated(wait) / 2**20
    return report


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started: VmHWM, which a
    new program starts afresh (``ru_maxrss`` keeps the launching process's
    size across the exec: every form read about 1 GB from its parent)."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timer(device):
    if device is None:  # (an artefact's process has no torch)
        def timed(fn):
            start = time.perf_counter()
            out = fn()
            return time.perf_counter() - start, out
        return timed
    from mmvanilla.utils.timing import timed as torch_timed
    return lambda fn: torch_timed(fn, device)


def main(argv: List[str]) -> int:
    """Measure the form SPEC.json describes; write its figures (or its error) to OUT.json."""
    spec_file, out_file = argv
    with open(spec_file) as f:
        spec: Dict = json.load(f)
    try:
        report = measure(spec)
    except Exception as e:  # noqa: BLE001 - the form's row says why it did not run
        from mmvanilla.utils.errors import describe
        report = dict(error=describe(e))
    with open(out_file, 'w') as f:
        json.dump(report, f)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

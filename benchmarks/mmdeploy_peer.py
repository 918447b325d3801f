"""mmdeploy 1.3.1's end-to-end RetinaNet ONNX as a peer of our own artefact:
COCO bbox AP and per-image latency with ONNX Runtime and OpenVINO (fp32).

    python benchmarks/mmdeploy_peer.py CONFIG CHECKPOINT WORK_DIR OUT.json
        [--images N] [--rounds R] [--threads T] [--mmdeploy-path DIR]

Export: the detector is built from CONFIG + CHECKPOINT and fused (VanillaNet's
``switch_to_deploy``), then goes through mmdeploy's own export,
``mmdeploy.apis.onnx.export`` (its rewriters: the fused post-processing with
NMS), called exactly as ``mmdeploy.apis.torch2onnx`` calls it, but on our fused
model object (torch2onnx would build the unfused model from the config).
The deploy config is built inline: it equals mmdeploy's
``configs/mmdet/detection/detection_onnxruntime_dynamic.py`` (the configs ship
in its repository, not in the wheel). Writes WORK_DIR/end2end.onnx (outputs
``dets`` [1, K, 5] and ``labels`` [1, K], K <= keep_top_k = 100).

TorchScript exporter: mmdeploy 1.3.1 calls ``torch.onnx.export`` without
``dynamo=``, and on torch >= 2.9 that means the dynamo exporter, which fails
(``No module named 'onnxscript'``) and would not run mmdeploy's TorchScript
rewriters anyway. While exporting, ``torch.onnx.export`` is replaced by a
wrapper forcing ``dynamo=False`` (see ``torchscript_exporter``).

Measurement: the test set images (the first N with --images; AP then counts
those images only) through the config's test pipeline and the model's data
preprocessor; boxes come back in the resized image's frame and are divided by
``scale_factor``, zero-score padding rows dropped, as mmdeploy's End2EndModel
does. Per engine: ``network_ms`` = the ``dets, labels`` call alone,
``end_to_end_ms`` = image file to boxes in original pixels. Each round runs
every image once per engine (engines interleaved); a round's figure is the
mean per image; reported: the median over rounds.

mmdeploy is imported from --mmdeploy-path (default /tmp/mmdeploy_pkgs),
installed there without dependencies (its metadata pins protobuf<=3.20.2,
which must not replace the venv's protobuf):
    python -m pip install --no-deps --target /tmp/mmdeploy_pkgs mmdeploy==1.3.1 aenum
"""
import argparse
import contextlib
import copy
import io
import json
import os
import os.path as osp
import shlex
import statistics
import sys
import time
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

INSTALL = 'python -m pip install --no-deps --target {} mmdeploy==1.3.1 aenum'

# = mmdeploy configs/mmdet/detection/detection_onnxruntime_dynamic.py with its _base_
# (_base_/onnx_config.py, mmdet/_base_/base_static.py, base_dynamic.py, backends/onnxruntime.py)
DEPLOY_CFG = dict(
    onnx_config=dict(
        type='onnx', export_params=True, keep_initializers_as_inputs=False,
        opset_version=11, save_file='end2end.onnx', input_names=['input'],
        output_names=['dets', 'labels'], input_shape=None, optimize=True,
        dynamic_axes={'input': {0: 'batch', 2: 'height', 3: 'width'},
                      'dets': {0: 'batch', 1: 'num_dets'},
                      'labels': {0: 'batch', 1: 'num_dets'}}),
    codebase_config=dict(
        type='mmdet', task='ObjectDetection', model_type='end2end',
        post_processing=dict(score_threshold=0.05, confidence_threshold=0.005,
                             iou_threshold=0.5, max_output_boxes_per_class=200,
                             pre_top_k=5000, keep_top_k=100, background_label_id=-1)),
    backend_config=dict(type='onnxruntime'))

Engine = Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray]]


def add_mmdeploy_path(path: str) -> str:
    """Put the folder holding mmdeploy first on ``sys.path``; mmdeploy's version."""
    if not osp.isfile(osp.join(path, 'mmdeploy', '__init__.py')):
        sys.exit(f'mmdeploy not found in {path}; install it with: {INSTALL.format(path)}')
    sys.path.insert(0, path)
    import mmdeploy
    return mmdeploy.__version__


@contextlib.contextmanager
def torchscript_exporter() -> Iterator[None]:
    """Meanwhile ``torch.onnx.export`` always runs with ``dynamo=False``."""
    import torch
    original = torch.onnx.export

    def export(*args, **kwargs):
        kwargs['dynamo'] = False
        return original(*args, **kwargs)

    torch.onnx.export = export
    try:
        yield
    finally:
        torch.onnx.export = original


def export_end2end(model, cfg, image: str, work_dir: str) -> str:
    """mmdeploy's end2end.onnx of the (fused) ``model`` in ``work_dir``, with
    ``image`` as the example input: the body of ``mmdeploy.apis.torch2onnx``
    with our model object instead of one built from the config."""
    from mmdeploy.apis import build_task_processor
    from mmdeploy.apis.core.pipeline_manager import no_mp
    from mmdeploy.apis.onnx import export
    from mmengine.config import Config
    deploy_cfg = Config(copy.deepcopy(DEPLOY_CFG))
    onnx_cfg = deploy_cfg.onnx_config
    os.makedirs(work_dir, exist_ok=True)
    task = build_task_processor(cfg, deploy_cfg, 'cpu')
    data, inputs = task.create_input(image, onnx_cfg.input_shape, model.data_preprocessor)
    prefix = osp.join(work_dir, osp.splitext(onnx_cfg.save_file)[0])
    with no_mp(), torchscript_exporter():
        export(model, inputs, prefix, backend=deploy_cfg.backend_config.type,
               input_metas=dict(data_samples=data['data_samples'], mode='predict'),
               context_info=dict(deploy_cfg=deploy_cfg),
               input_names=onnx_cfg.input_names, output_names=onnx_cfg.output_names,
               opset_version=onnx_cfg.opset_version, dynamic_axes=onnx_cfg.dynamic_axes,
               keep_initializers_as_inputs=onnx_cfg.keep_initializers_as_inputs,
               optimize=onnx_cfg.optimize)
    return prefix + '.onnx'


def load_engines(path: str, threads: int = 0) -> Dict[str, Engine]:
    """``x -> (dets, labels)`` of the ONNX model in ONNX Runtime (default CPU
    session) and OpenVINO (CPU, f32 forced); ``threads`` > 0 limits both."""
    import onnxruntime as ort
    import openvino as ov
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
    config = {'INFERENCE_PRECISION_HINT': 'f32'}
    if threads:
        config['INFERENCE_NUM_THREADS'] = threads
    compiled = ov.Core().compile_model(path, 'CPU', config)
    outputs = [compiled.output(name) for name in ('dets', 'labels')]

    def run_openvino(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        result = compiled([x])
        return result[outputs[0]], result[outputs[1]]

    return {'onnxruntime': lambda x: tuple(session.run(['dets', 'labels'], {'input': x})),
            'openvino': run_openvino}


def test_set(cfg, images: Optional[int], work_dir: str):
    """The config's test dataset (without annotation loading), the COCO
    annotation file to score it against (limited to its first ``images``
    images, written to ``work_dir``, if given) and the class names."""
    from mmdet.registry import DATASETS
    data_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    data_cfg.pipeline = [t for t in data_cfg.pipeline if t['type'] != 'LoadAnnotations']
    ann_file = osp.join(data_cfg.data_root, data_cfg.ann_file)
    if images is not None:
        data_cfg.indices = images
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools' index messages
        dataset = DATASETS.build(data_cfg)
    if images is not None:
        with open(ann_file) as f:
            coco = json.load(f)
        ids = {dataset.get_data_info(i)['img_id'] for i in range(len(dataset))}
        coco['images'] = [im for im in coco['images'] if im['id'] in ids]
        coco['annotations'] = [a for a in coco['annotations'] if a['image_id'] in ids]
        ann_file = osp.join(work_dir, f'annotations_first{images}.json')
        with open(ann_file, 'w') as f:
            json.dump(coco, f)
    return dataset, ann_file, list(dataset.metainfo['classes'])


def benchmark(engines: Dict[str, Engine], dataset, preprocessor, classes: List[str],
              rounds: int) -> Tuple[Dict[str, dict], Dict[str, List[dict]]]:
    """Per engine: the median over rounds of the mean per-image network and end
    to end milliseconds; and its COCO result entries (from the last round)."""
    import torch
    from mmengine.dataset import pseudo_collate

    def detect(engine: Engine, index: int) -> Tuple[float, float, str, np.ndarray, np.ndarray]:
        start = time.perf_counter()
        item = dataset[index]  # decode, resize, pack
        with torch.no_grad():
            x = preprocessor(pseudo_collate([item]), False)['inputs'].numpy()
        net_start = time.perf_counter()
        dets, labels = engine(x)
        net_s = time.perf_counter() - net_start
        keep = dets[0, :, 4] > 0  # mmdeploy pads to keep_top_k with zero scores
        dets, labels = dets[0][keep], labels[0][keep]
        scale = np.tile(np.asarray(item['data_samples'].scale_factor, np.float32), 2)
        boxes = dets[:, :4] / scale
        return net_s, time.perf_counter() - start, item['data_samples'].img_path, \
            np.concatenate([boxes, dets[:, 4:]], 1), labels

    for engine in engines.values():
        detect(engine, 0)  # warm-up
    net = {k: [] for k in engines}
    e2e = {k: [] for k in engines}
    entries: Dict[str, List[dict]] = {}
    for _ in range(rounds):
        for name, engine in engines.items():
            runs = [detect(engine, i) for i in range(len(dataset))]
            net[name].append(1000 * statistics.mean(r[0] for r in runs))
            e2e[name].append(1000 * statistics.mean(r[1] for r in runs))
            entries[name] = [
                dict(file_name=osp.basename(path), category=classes[int(label)],
                     bbox=[float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                     score=float(score))
                for _, _, path, dets, labels in runs
                for (x1, y1, x2, y2, score), label in zip(dets.tolist(), labels)]
    timing = {k: dict(network_ms=statistics.median(net[k]),
                      end_to_end_ms=statistics.median(e2e[k]),
                      network_ms_rounds=net[k], end_to_end_ms_rounds=e2e[k]) for k in engines}
    return timing, entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('work_dir')
    parser.add_argument('out')
    parser.add_argument('--images', type=int, help='the first N test images (default: all)')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--threads', type=int, default=0,
                        help='threads of each engine and of preprocessing (0: their defaults)')
    parser.add_argument('--mmdeploy-path', default='/tmp/mmdeploy_pkgs')
    args = parser.parse_args()
    if args.rounds < 1 or (args.images is not None and args.images < 1):
        parser.error('--rounds and --images must be >= 1')
    mmdeploy_version = add_mmdeploy_path(args.mmdeploy_path)

    import mmvanilla.plugin  # noqa: F401  (registers modules, safe checkpoint loading)
    import mmcv
    import mmdet
    import onnxruntime
    import openvino
    import torch
    from mmvanilla.apis.detector import build_detector
    from mmvanilla.deploy.evaluation import runtime_results_ap
    from mmvanilla.models import switch_to_deploy
    from mmvanilla.runtime import runtime_description
    from mmvanilla.utils.console import quiet_console
    if args.threads:
        torch.set_num_threads(args.threads)
    quiet_console()
    model, cfg, _ = build_detector(args.config, args.checkpoint)
    switch_to_deploy(model)
    os.makedirs(args.work_dir, exist_ok=True)
    dataset, ann_file, classes = test_set(cfg, args.images, args.work_dir)
    start = time.perf_counter()
    onnx_path = export_end2end(model, cfg, dataset.get_data_info(0)['img_path'], args.work_dir)
    export_s = time.perf_counter() - start
    engines = load_engines(onnx_path, args.threads)
    timing, entries = benchmark(engines, dataset, model.data_preprocessor, classes, args.rounds)
    results = {k: dict(bbox_ap=runtime_results_ap(entries[k], ann_file)['bbox'],
                       detections=len(entries[k]), **timing[k]) for k in engines}
    report = dict(
        config=args.config, checkpoint=args.checkpoint, onnx=onnx_path,
        onnx_mb=round(osp.getsize(onnx_path) / 2**20, 2), export_s=round(export_s, 1),
        deploy_cfg=DEPLOY_CFG, images=len(dataset), ann_file=ann_file,
        input_shape=list(dataset[0]['inputs'].shape), rounds=args.rounds,
        threads=args.threads or 'engine defaults', results=results,
        versions=dict(mmdeploy=mmdeploy_version, torch=torch.__version__,
                      onnxruntime=onnxruntime.__version__, openvino=openvino.__version__,
                      mmdet=mmdet.__version__, mmcv=mmcv.__version__),
        runtime=runtime_description(), command=shlex.join(['python'] + sys.argv))
    with open(args.out, 'w') as f:
        json.dump(report, f, indent=2)
    print(f'mmdeploy {mmdeploy_version} end2end.onnx ({report["onnx_mb"]} MB), '
          f'{len(dataset)} images, median of {args.rounds} rounds:')
    for name, r in results.items():
        print(f'  {name:<12} bbox AP {r["bbox_ap"]:.3f}  network {r["network_ms"]:.1f} ms/img  '
              f'end to end {r["end_to_end_ms"]:.1f} ms/img')
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()

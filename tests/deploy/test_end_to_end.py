"""The end-to-end graph of tools/deploy.py, run by ONNX Runtime, against
mmdet's own predictions for the same tiny detectors and images."""
import numpy as np
import pytest
import torch

from mmvanilla.apis.deployment import example_inputs
from mmvanilla.apis.detector import build_detector
from mmvanilla.deploy.artefact import export_end_to_end, preprocess_spec
from mmvanilla.deploy.end_to_end import batched_nms, check_end_to_end, end_to_end_inputs
from mmvanilla.models import switch_to_deploy
from mmvanilla.utils.errors import ConfigError
from mmvanilla_runtime.masks import paste_mask
from tests.conftest import REPO, cli_options, randomize_norms
from tests.detection_options import tiny_detector_options


def tiny_detector(shapes_root, kind, extra=()):
    """A fused tiny detector with non-trivial norms (features of order 1: the
    scores spread, instead of tying at their initial prior)."""
    model, cfg, _ = build_detector(
        str(REPO / 'configs' / f'{kind}_vanillanet11.py'),
        cfg_options=cli_options(tiny_detector_options(shapes_root, kind) + list(extra)))
    randomize_norms(model)
    if kind == 'retinanet':  # spread the class scores: ~hundreds above 0.05
        gen = torch.Generator().manual_seed(0)
        cls = model.bbox_head.retina_cls
        cls.weight.data = torch.randn(cls.weight.shape, generator=gen)
        cls.bias.data.fill_(-3.0)
    else:  # and the RPN's and RoI heads' outputs
        gen = torch.Generator().manual_seed(0)
        roi_head = model.roi_head
        for layer in (model.rpn_head.rpn_cls, model.rpn_head.rpn_reg, roi_head.bbox_head.fc_cls,
                      roi_head.bbox_head.fc_reg, roi_head.mask_head.conv_logits):
            layer.weight.data = torch.randn(layer.weight.shape, generator=gen) * 3
    switch_to_deploy(model)
    return model.eval(), cfg


def val_batch(model, cfg, indices):
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    return model.data_preprocessor(pseudo_collate([dataset[i] for i in indices]), False)


def run_onnx(path, inputs):
    import onnxruntime as ort
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs)))


@pytest.fixture(scope='module', params=['retinanet', 'mask_rcnn'])
def exported(request, shapes_root, tmp_path_factory):
    """(kind, model, batch of 2 val images, mmdet's predictions, ONNX path)."""
    # max_per_img: no cut among the many near-equal scores of random weights;
    # 320x256 images resized to 375x300 (scale factor 1.17), padded to 384x384:
    # anchors wholly in the padding clip to empty boxes, which mmdet drops
    model, cfg = tiny_detector(shapes_root, request.param, [
        'model.test_cfg.max_per_img=1000' if request.param == 'retinanet'
        else 'model.test_cfg.rcnn.max_per_img=100',
        'test_dataloader.dataset.pipeline.1.scale=(400,300)',
        'model.data_preprocessor.pad_size_divisor=128'])
    batch = val_batch(model, cfg, [0, 1])
    assert batch['inputs'].shape[-2:] == (384, 384)
    assert batch['data_samples'][0].metainfo['img_shape'] == (300, 375)
    with torch.no_grad():
        expected = [s.pred_instances for s in
                    model.predict(batch['inputs'], batch['data_samples'], rescale=True)]
    path = tmp_path_factory.mktemp(request.param) / 'model.onnx'
    # traced as tools/deploy.py does: at the config's scale (400x300, padded 512x384)
    export_end_to_end(model, example_inputs(preprocess_spec(cfg)), str(path))
    return request.param, model, batch, expected, path


def matched(expected, boxes, scores, labels):
    """For each of mmdet's detections, the index of its twin in the graph's
    (same label, score within 1e-4, box within 0.5 px), or -1."""
    keep = scores > 0
    index = np.flatnonzero(keep)
    same = ((expected.labels.numpy()[:, None] == labels[keep][None])
            & (np.abs(expected.scores.numpy()[:, None] - scores[keep][None]) <= 1e-4))
    err = np.abs(expected.bboxes.numpy()[:, None] - boxes[keep][None]).max(-1)
    err = np.where(same, err, np.inf)
    best = err.argmin(1)
    return np.where(err[np.arange(len(err)), best] <= 0.5, index[best], -1)


def test_graph_detects_as_mmdet(exported):
    kind, model, batch, expected, path = exported
    out = run_onnx(path, end_to_end_inputs(batch))
    for i, pred in enumerate(expected):
        assert 20 <= len(pred) < 1000, len(pred)
        count = (out['scores'][i] > 0).sum()
        twins = matched(pred, out['boxes'][i], out['scores'][i], out['labels'][i])
        # NMS may keep the other of two boxes whose scores tie to float rounding
        # (ONNX Runtime's convolutions round unlike PyTorch's): nearly all match
        assert (twins >= 0).mean() >= 0.9 and abs(count - len(pred)) <= len(pred) // 10, \
            ((twins >= 0).mean(), count, len(pred))
        if kind == 'mask_rcnn':
            height, width = batch['data_samples'][i].metainfo['ori_shape'][:2]
            for k, twin in enumerate(twins[:20]):
                if twin < 0:
                    continue
                mine = paste_mask(out['masks'][i][twin], out['boxes'][i][twin], height,
                                  width, model.roi_head.test_cfg.mask_thr_binary)
                theirs = pred.masks[k].numpy()
                union = (mine | theirs).sum()
                assert union == 0 or (mine & theirs).sum() / union >= 0.95


def test_batch_dimension_is_dynamic(exported):
    _, _, batch, _, path = exported
    inputs = end_to_end_inputs(batch)
    both = run_onnx(path, inputs)
    first = run_onnx(path, {k: v[:1] for k, v in inputs.items()})
    assert first['boxes'].shape[0] == 1 and both['boxes'].shape[0] == 2
    keep = first['scores'][0] > 0
    # same image, same padding: the same detections, to float rounding
    assert np.abs(np.sort(first['scores'][0][keep]) - np.sort(both['scores'][0][keep])).max() < 1e-4


def test_graph_holds_standard_operators_only(exported):
    import onnx
    kind, _, _, _, path = exported
    graph = onnx.load(str(path)).graph
    assert {node.domain for node in graph.node} <= {'', 'ai.onnx'}
    ops = {node.op_type for node in graph.node}
    assert {'NonMaxSuppression', 'TopK'} <= ops
    assert ('RoiAlign' in ops) == (kind == 'mask_rcnn')


def test_batched_nms_suppresses_as_mmdet(tmp_path):
    from mmcv.ops import batched_nms as mmcv_batched_nms
    gen = torch.Generator().manual_seed(0)
    xy = torch.rand(1, 300, 2, generator=gen) * 200
    boxes = torch.cat([xy, xy + 20 + torch.rand(1, 300, 2, generator=gen) * 60], -1)
    scores = torch.rand(1, 300, generator=gen)
    labels = torch.randint(0, 3, (1, 300), generator=gen)

    class NMS(torch.nn.Module):
        def forward(self, b, s, lab):
            return batched_nms(b, s, lab, 0.5, 0.3, 50)
    torch.onnx.export(NMS(), (boxes, scores, labels), str(tmp_path / 'nms.onnx'), dynamo=False,
                      opset_version=17, input_names=['b', 's', 'l'],
                      output_names=['boxes', 'scores', 'labels'])
    got = run_onnx(tmp_path / 'nms.onnx', dict(b=boxes.numpy(), s=scores.numpy(),
                                               l=labels.numpy()))
    keep = scores[0] > 0.3
    dets, kept = mmcv_batched_nms(boxes[0][keep], scores[0][keep], labels[0][keep],
                                  dict(type='nms', iou_threshold=0.5))
    got_scores = sorted(v for v in got['scores'][0].tolist() if v > 0)
    assert len(got_scores) == min(50, len(kept)) > 10  # (pairs overlap: some suppressed)
    assert len(kept) < int(keep.sum())
    np.testing.assert_allclose(got_scores, sorted(dets[:50, -1].tolist()), rtol=1e-6)


def test_detectors_the_graph_cannot_express_are_refused(shapes_root):
    model, _ = tiny_detector(shapes_root, 'retinanet', ['model.test_cfg.nms_pre=-1',
                                                        'model.bbox_head.bbox_coder.add_ctr_clamp=True'])
    with pytest.raises(ConfigError, match=r'RetinaNet-style and \(Mask/Faster\) R-CNN.*'
                       'only DeltaXYWHBBoxCoder without add_ctr_clamp.*nms_pre must be > 0'):
        check_end_to_end(model)


def test_no_detection_runs_no_mask_head_and_breaks_no_engine(shapes_root, tmp_path):
    # the mask head runs on the real detections only: here none (score_thr 1)
    import openvino as ov
    model, cfg = tiny_detector(shapes_root, 'mask_rcnn', ['model.test_cfg.rcnn.score_thr=1.0'])
    inputs = end_to_end_inputs(val_batch(model, cfg, [0, 1]))
    export_end_to_end(model, inputs, str(tmp_path / 'model.onnx'))
    compiled = ov.Core().compile_model(str(tmp_path / 'model.onnx'), 'CPU',
                                       {'INFERENCE_PRECISION_HINT': 'f32'})
    by_openvino = {out.get_any_name(): np.array(v) for out, v in compiled(inputs).items()}
    for out in (run_onnx(tmp_path / 'model.onnx', inputs), by_openvino):
        assert out['masks'].shape == (2, 100, 28, 28)
        assert not out['scores'].any() and not out['masks'].any()


@pytest.mark.parametrize('kind', ['retinanet', 'mask_rcnn'])
def test_the_graph_makes_its_tensors_on_its_inputs_device(shapes_root, kind):
    """A detector on a GPU runs and exports as one on the CPU: every tensor
    the graph's own code makes names its device (no GPU needed: each factory
    call from end_to_end.py is recorded)."""
    import inspect

    import mmvanilla.deploy.end_to_end as e2e
    from mmvanilla.deploy.end_to_end import EndToEndDetector
    from torch.overrides import TorchFunctionMode
    factories = {torch.arange, torch.zeros, torch.ones, torch.full, torch.empty, torch.tensor,
                 torch.linspace, torch.eye, torch.as_tensor, torch.randn, torch.rand}
    undeviced = []

    class Record(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            caller = inspect.currentframe().f_back
            if (func in factories and 'device' not in (kwargs or {})
                    and caller.f_code.co_filename == e2e.__file__):
                undeviced.append(f'{func.__name__} at line {caller.f_lineno}')
            return func(*args, **(kwargs or {}))
    model, cfg = tiny_detector(shapes_root, kind)
    inputs = end_to_end_inputs(val_batch(model, cfg, [0]))
    with torch.no_grad(), Record():
        EndToEndDetector(model).eval()(*(torch.from_numpy(inputs[n]) for n in
                                         ('input', 'image_shape', 'scale_factor')))
    assert not undeviced, undeviced

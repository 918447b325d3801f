"""A fused detector as one end-to-end graph: network, anchors, box decoding,
per-class NMS and, for Mask R-CNN, RoIAlign and the RoI heads, in standard
ONNX operators (NonMaxSuppression, RoiAlign, TopK, ...).

It wraps the detector (its modules run unchanged) and re-expresses mmdet's
test-time post-processing for a batch with static candidate counts:

- per level, the ``nms_pre`` best (anchor, class) scores (padded with -1
  where a level has fewer), as mmdet's ``filter_scores_and_topk`` / RPN sort;
- boxes decoded as ``DeltaXYWHBBoxCoder`` does, clipped to each image;
- NMS per class with mmdet's ``batched_nms`` coordinate offsets, then the
  best ``max_per_img``;
- RoIs mapped to FPN levels as ``SingleRoIExtractor`` does, RoIAlign with
  half-pixel centres (mmcv's ``aligned=True``).

Inputs: ``input`` (B, 3, H, W) normalised and padded images,
``image_shape`` (B, 2) each resized image's (height, width) inside the
padding, ``scale_factor`` (B, 2) each resize's (w_scale, h_scale).
Outputs, in original image pixels, a fixed ``max_per_img`` rows per image
(rows with score 0 are padding): ``boxes`` (B, K, 4) x1y1x2y2, ``scores``
(B, K), ``labels`` (B, K) and, for Mask R-CNN, ``masks`` (B, K, M, M), each
box's mask probabilities at the mask head's resolution.
"""
import math
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
import torchvision
from torch import Tensor, nn

from mmvanilla.utils.errors import ConfigError

INPUT_NAMES = ('input', 'image_shape', 'scale_factor')
Inputs = Dict[str, np.ndarray]


def end_to_end_inputs(batch: dict) -> Inputs:
    """The end-to-end model's inputs from a data preprocessor's output."""
    metas = [s.metainfo for s in batch['data_samples']]
    return dict(input=batch['inputs'].float().cpu().numpy(),
                image_shape=np.array([m['img_shape'][:2] for m in metas], np.float32),
                scale_factor=np.array([m['scale_factor'] for m in metas], np.float32))


class _NonMaxSuppression(torch.autograd.Function):
    """ONNX ``NonMaxSuppression``: boxes (B, N, 4), scores (B, C, N) to the
    kept (batch, class, box) index triples, best first per (batch, class)."""

    @staticmethod
    def forward(ctx, boxes: Tensor, scores: Tensor, max_per_class: int, iou: float,
                score_thr: float) -> Tensor:
        rows = []
        for b in range(scores.shape[0]):
            for c in range(scores.shape[1]):
                candidates = torch.nonzero(scores[b, c] > score_thr)[:, 0]
                keep = torchvision.ops.nms(boxes[b, candidates], scores[b, c, candidates], iou)
                kept = candidates[keep[:max_per_class]]
                rows.append(torch.stack([torch.full_like(kept, b), torch.full_like(kept, c),
                                         kept], 1))
        return torch.cat(rows)

    @staticmethod
    def symbolic(g, boxes, scores, max_per_class, iou, score_thr):
        return g.op('NonMaxSuppression', boxes, scores,
                    g.op('Constant', value_t=torch.tensor([max_per_class], dtype=torch.long)),
                    g.op('Constant', value_t=torch.tensor([iou], dtype=torch.float)),
                    g.op('Constant', value_t=torch.tensor([score_thr], dtype=torch.float)))


def batched_nms(boxes: Tensor, scores: Tensor, labels: Tensor, iou: float, score_thr: float,
                max_num: int) -> Tuple[Tensor, Tensor, Tensor]:
    """mmdet's ``batched_nms`` for a batch, keeping the best ``max_num``:
    (boxes, scores, labels), each (B, max_num, ...); score 0 rows are padding.

    Candidates with score <= ``score_thr`` are ignored. As in mmdet, each
    label's boxes are shifted by ``label * (max coordinate + 1)`` so that one
    NMS keeps the labels apart.
    """
    valid = scores > score_thr
    largest = torch.where(valid[..., None], boxes, _filled(boxes, 0)).amax(dim=(1, 2))
    shifted = boxes + (labels.to(boxes.dtype) * (largest[:, None] + 1))[..., None]
    kept = _NonMaxSuppression.apply(shifted, scores[:, None, :], max_num, iou, score_thr)
    image, index = kept[:, 0], kept[:, 2]
    dense = _filled(scores, 0).index_put((image, index), scores[image, index])
    top_scores, top = dense.topk(max_num, dim=1)
    top_boxes = torch.gather(boxes, 1, top[..., None].expand(-1, -1, 4))
    return top_boxes, top_scores, torch.gather(labels, 1, top)


def _filled(t: Tensor, value: float) -> Tensor:
    """``t``'s shape filled with ``value``, sized at run time (``full_like``
    would be traced as a constant of the export's shape)."""
    return t * 0 + value


def _arange(t: Tensor, dim: int) -> Tensor:
    """0, 1, ... along ``t``'s ``dim`` (float), sized by the tensor at run time
    (the exporter traces ``shape`` reads as graph inputs' shapes)."""
    return torch.arange(t.shape[dim], dtype=torch.float, device=t.device)


def grid_anchors(prior_generator, feats: Sequence[Tensor]) -> List[Tensor]:
    """``AnchorGenerator.grid_priors`` for maps of any size: per level
    (H * W * A, 4), in the (y, x, anchor) order of the head's outputs."""
    anchors = []
    for level, feat in enumerate(feats):
        stride_w, stride_h = prior_generator.strides[level]
        xs, ys = _arange(feat, 3) * stride_w, _arange(feat, 2) * stride_h
        shift_x = xs[None, :].expand(ys.shape[0], -1).reshape(-1)
        shift_y = ys[:, None].expand(-1, xs.shape[0]).reshape(-1)
        shifts = torch.stack([shift_x, shift_y, shift_x, shift_y], dim=1)
        base = prior_generator.base_anchors[level].to(feat.device)
        anchors.append((shifts[:, None, :] + base[None]).reshape(-1, 4))
    return anchors


def decode_boxes(coder, priors: Tensor, deltas: Tensor, image_shape: Tensor) -> Tensor:
    """``DeltaXYWHBBoxCoder.decode`` (mmdet's ``delta2bbox`` arithmetic) for
    (B, N, 4) priors and deltas, clipped to each image's (h, w)."""
    means, stds = deltas.new_tensor(coder.means), deltas.new_tensor(coder.stds)
    deltas = deltas * stds + means
    centres = (priors[..., :2] + priors[..., 2:]) * 0.5
    sizes = priors[..., 2:] - priors[..., :2]
    max_ratio = abs(math.log(16 / 1000))
    centres = centres + sizes * deltas[..., :2]
    sizes = sizes * deltas[..., 2:].clamp(min=-max_ratio, max=max_ratio).exp()
    boxes = torch.cat([centres - sizes * 0.5, centres + sizes * 0.5], dim=-1)
    if coder.clip_border:
        limit = image_shape.flip(-1).repeat(1, 2)[:, None, :].to(boxes.dtype)
        boxes = torch.minimum(boxes.clamp(min=0), limit)
    return boxes


def _flatten_level(t: Tensor, per_anchor: int) -> Tensor:
    """(B, A * K, H, W) head map to (B, H * W * A, K)."""
    return t.permute(0, 2, 3, 1).flatten(1, 2).unflatten(-1, (-1, per_anchor)).flatten(1, 2)


def dense_candidates(head, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                     anchors: Sequence[Tensor], nms_pre: int, image_shape: Tensor,
                     level_labels: bool = False) -> Tuple[Tensor, Tensor, Tensor]:
    """Each level's ``nms_pre`` best (anchor, class) pairs, decoded: boxes
    (B, N, 4), scores (B, N) (-1 where a level had fewer), labels (B, N)
    (the class, or with ``level_labels`` the level: RPN's NMS groups)."""
    num_classes = head.cls_out_channels
    all_boxes, all_scores, all_labels = [], [], []
    for level, (cls, reg, level_anchors) in enumerate(zip(cls_scores, bbox_preds, anchors)):
        scores = _flatten_level(cls, num_classes).sigmoid().flatten(1)
        deltas = _flatten_level(reg, 4)
        scores = torch.cat([scores, _filled(scores[:, :1], -1)
                            .expand(-1, nms_pre * num_classes)], 1)
        deltas = torch.cat([deltas, _filled(deltas[:, :1], 0).expand(-1, nms_pre, -1)], 1)
        level_anchors = torch.cat([level_anchors, level_anchors.new_zeros(nms_pre, 4)])
        top_scores, top = scores.topk(nms_pre, dim=1)
        anchor = torch.div(top, num_classes, rounding_mode='floor')
        label = _filled(top, level) if level_labels else top % num_classes
        all_scores.append(top_scores)
        all_labels.append(label)
        all_boxes.append(decode_boxes(
            head.bbox_coder, level_anchors[anchor],
            torch.gather(deltas, 1, anchor[..., None].expand(-1, -1, 4)), image_shape))
    return torch.cat(all_boxes, 1), torch.cat(all_scores, 1), torch.cat(all_labels, 1)


def roi_features(extractor, feats: Sequence[Tensor], rois: Tensor, image: Tensor) -> Tensor:
    """``SingleRoIExtractor`` on (N, 4) boxes of images ``image`` (N,): (N, C,
    S, S) features, each box pooled from the FPN level its size maps to."""
    rois5 = torch.cat([image.to(rois.dtype)[:, None], rois], 1)
    num_levels = len(extractor.featmap_strides)
    scale = torch.sqrt((rois[:, 2] - rois[:, 0]) * (rois[:, 3] - rois[:, 1]))
    level = torch.floor(torch.log2(scale / extractor.finest_scale + 1e-6)).clamp(0, num_levels - 1)
    out = None
    for i, layer in enumerate(extractor.roi_layers):
        pooled = torchvision.ops.roi_align(
            feats[i], rois5, layer.output_size, layer.spatial_scale, layer.sampling_ratio,
            aligned=layer.aligned)
        out = pooled if out is None else torch.where((level == i)[:, None, None, None],
                                                     pooled, out)
    return out


def _drop_small(boxes: Tensor, scores: Tensor, cfg) -> Tensor:
    """Scores with -1 (below any threshold) for boxes not wider and taller
    than ``min_bbox_size`` where the test config sets one (mmdet's filter)."""
    min_size = cfg.get('min_bbox_size', -1)
    if min_size < 0:
        return scores
    sizes = boxes[..., 2:] - boxes[..., :2]
    return torch.where((sizes > min_size).all(-1), scores, _filled(scores, -1))


def _rescale(boxes: Tensor, scale_factor: Tensor) -> Tensor:
    return boxes / scale_factor.repeat(1, 2)[:, None, :].to(boxes.dtype)


class EndToEndDetector(nn.Module):
    """A fused RetinaNet-style or Mask R-CNN detector from normalised images
    to final detections (see the module doc for inputs and outputs)."""

    def __init__(self, detector: nn.Module):
        super().__init__()
        check_end_to_end(detector)
        self.detector = detector
        self.two_stage = hasattr(detector, 'roi_head')
        self.with_mask = self.two_stage and detector.roi_head.with_mask

    @property
    def output_names(self) -> Tuple[str, ...]:
        return ('boxes', 'scores', 'labels') + (('masks',) if self.with_mask else ())

    def forward(self, images: Tensor, image_shape: Tensor, scale_factor: Tensor):
        feats = self.detector.extract_feat(images)
        if not self.two_stage:
            head, cfg = self.detector.bbox_head, self.detector.bbox_head.test_cfg
            boxes, scores, labels = dense_candidates(
                head, *head(feats), grid_anchors(head.prior_generator, feats), cfg.nms_pre,
                image_shape)
            boxes = _rescale(boxes, scale_factor)
            return batched_nms(boxes, _drop_small(boxes, scores, cfg), labels,
                               cfg.nms.iou_threshold, cfg.score_thr, cfg.max_per_img)
        proposals, valid = self._proposals(feats, image_shape)
        boxes, scores, labels = self._detections(feats, proposals, valid, image_shape,
                                                 None if self.with_mask else scale_factor)
        if not self.with_mask:
            return boxes, scores, labels
        return (_rescale(boxes, scale_factor), scores, labels,
                self._masks(feats, boxes, scores, labels))

    def _proposals(self, feats, image_shape) -> Tuple[Tensor, Tensor]:
        head = self.detector.rpn_head
        cfg = self.detector.test_cfg.rpn
        boxes, scores, levels = dense_candidates(
            head, *head(feats), grid_anchors(head.prior_generator, feats), cfg.nms_pre,
            image_shape, level_labels=True)
        boxes, scores, _ = batched_nms(boxes, _drop_small(boxes, scores, cfg), levels,
                                       cfg.nms.iou_threshold, -0.5, cfg.max_per_img)
        return boxes, scores > 0

    def _detections(self, feats, proposals, valid, image_shape, scale_factor):
        roi_head = self.detector.roi_head
        cfg, bbox_head = roi_head.test_cfg, roi_head.bbox_head
        num_rois, num_classes = proposals.shape[1], bbox_head.num_classes
        extractor = roi_head.bbox_roi_extractor
        image = (_filled(proposals[:, :, 0], 1).cumsum(0) - 1).flatten()
        cls_score, bbox_pred = bbox_head(
            roi_features(extractor, feats[:extractor.num_inputs], proposals.flatten(0, 1), image))
        scores = cls_score.softmax(-1)[:, :num_classes].unflatten(0, (-1, num_rois))
        scores = torch.where(valid[..., None], scores, _filled(scores, -1)).flatten(1)
        deltas = bbox_pred.unflatten(0, (-1, num_rois)).unflatten(-1, (-1, 4))
        deltas = deltas.expand(-1, -1, num_classes, -1).flatten(1, 2)
        priors = proposals[:, :, None, :].expand(-1, -1, num_classes, -1).flatten(1, 2)
        boxes = decode_boxes(bbox_head.bbox_coder, priors, deltas, image_shape)
        if scale_factor is not None:
            boxes = _rescale(boxes, scale_factor)
        labels = (_filled(scores, 0).long()
                  + torch.arange(num_classes, device=scores.device).repeat(num_rois))
        return batched_nms(boxes, scores, labels, cfg.nms.iou_threshold, cfg.score_thr,
                           cfg.max_per_img)

    def _masks(self, feats, boxes: Tensor, scores: Tensor, labels: Tensor) -> Tensor:
        """(B, K, M, M) mask probabilities of the K detection rows; the mask
        head runs on the real detections only (score > 0), as mmdet's."""
        roi_head = self.detector.roi_head
        extractor = roi_head.mask_roi_extractor
        rows = boxes.shape[1]
        index = torch.nonzero(scores.flatten() > 0)[:, 0]
        image = torch.div(index, rows, rounding_mode='floor')
        preds = roi_head.mask_head(roi_features(
            extractor, feats[:extractor.num_inputs], boxes.flatten(0, 1)[index], image))
        channel = (_filled(labels, 0) if roi_head.mask_head.class_agnostic
                   else labels).flatten()[index]
        size = preds.shape[-2:]
        preds = torch.gather(preds, 1, channel[:, None, None, None].expand(-1, 1, *size))
        masks = _filled(scores.flatten()[:, None, None].expand(-1, *size), 0)
        masks = masks.index_put((index,), preds.sigmoid()[:, 0])
        return masks.unflatten(0, (-1, rows))


def check_end_to_end(detector: nn.Module) -> None:
    """Refuse, in one message each, detectors whose test-time steps the
    end-to-end graph does not express."""
    problems: List[str] = []
    heads: Dict[str, nn.Module] = {}
    if hasattr(detector, 'roi_head'):
        heads['rpn_head'] = detector.rpn_head
        roi_head = detector.roi_head
        if type(roi_head).__name__ != 'StandardRoIHead':
            problems.append(f'roi_head {type(roi_head).__name__} (only StandardRoIHead)')
        else:
            bbox_head = roi_head.bbox_head
            if bbox_head.reg_class_agnostic or bbox_head.custom_cls_channels:
                problems.append('a class-agnostic or custom-activation bbox head')
            _check_coder(bbox_head.bbox_coder, 'roi_head.bbox_head', problems)
            _check_nms(roi_head.test_cfg, 'test_cfg.rcnn', problems)
            if roi_head.with_mask and (type(roi_head.mask_head).__name__ != 'FCNMaskHead'
                                       or roi_head.test_cfg.mask_thr_binary < 0):
                problems.append('roi_head.mask_head: only FCNMaskHead, mask_thr_binary >= 0')
            for name in ('bbox_roi_extractor', 'mask_roi_extractor'):
                extractor = getattr(roi_head, name, None)
                if extractor is not None and (
                        type(extractor).__name__ != 'SingleRoIExtractor'
                        or any(type(layer).__name__ != 'RoIAlign' or layer.pool_mode != 'avg'
                               for layer in extractor.roi_layers)):
                    problems.append(f'roi_head.{name}: only SingleRoIExtractor with '
                                    'RoIAlign pool_mode="avg"')
    elif hasattr(detector, 'bbox_head'):
        heads['bbox_head'] = detector.bbox_head
    else:
        problems.append(f'{type(detector).__name__} (neither a dense head nor an RoI head)')
    for name, head in heads.items():
        if type(head.prior_generator).__name__ != 'AnchorGenerator':
            problems.append(f'{name}: prior generator {type(head.prior_generator).__name__} '
                            '(only AnchorGenerator)')
        if not getattr(head, 'use_sigmoid_cls', False) or getattr(head, 'with_score_factors',
                                                                    False):
            problems.append(f'{name}: only sigmoid class scores without score factors')
        _check_coder(head.bbox_coder, name, problems)
        cfg = detector.test_cfg.rpn if name == 'rpn_head' else head.test_cfg
        where = 'test_cfg.rpn' if name == 'rpn_head' else 'test_cfg'
        if cfg.get('nms_pre', -1) <= 0:
            problems.append(f'{name}: {where}.nms_pre must be > 0 (a static candidate count)')
        elif cfg.max_per_img > cfg.nms_pre * len(head.prior_generator.strides):
            problems.append(f'{name}: {where}.max_per_img must be <= nms_pre x levels')
        _check_nms(cfg, where, problems)
    if problems:
        raise ConfigError('the end-to-end export covers RetinaNet-style and (Mask/Faster) '
                          'R-CNN detectors as mmdet configures them; this one has: '
                          + '; '.join(problems))


def _check_nms(cfg, where: str, problems: List[str]) -> None:
    nms = cfg.get('nms') or {}
    if nms.get('type', 'nms') != 'nms' or nms.get('class_agnostic', False):
        problems.append(f'{where}.nms: only type="nms", per class')


def _check_coder(coder, name: str, problems: List[str]) -> None:
    if type(coder).__name__ != 'DeltaXYWHBBoxCoder' or coder.add_ctr_clamp:
        problems.append(f'{name}: box coder {type(coder).__name__} (only '
                        'DeltaXYWHBBoxCoder without add_ctr_clamp)')

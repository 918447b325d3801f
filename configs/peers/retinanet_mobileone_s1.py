# A peer for tools/benchmark.py --formats --compare: mmdet's RetinaNet 1x with
# mmpretrain's MobileOne-s1 (reparameterizable; VanillaNet issue #33 asks for it).
# Backbone widths 192/512/1280 at strides 8/16/32 (out_indices 1-3).
_base_ = './retinanet_repvgg_a0.py'
model = dict(
    backbone=dict(_delete_=True, type='mmpretrain.MobileOne', arch='s1', out_indices=(1, 2, 3)),
    neck=dict(in_channels=[192, 512, 1280]))

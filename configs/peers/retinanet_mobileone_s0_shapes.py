# A peer of the embedded demo for tools/benchmark.py --formats --compare: the demo's
# RetinaNet (64-channel FPN and head, 320x256, its schedule and data) with mmpretrain's
# MobileOne-s0 (reparameterizable; VanillaNet issue #33 asks for it), trained from
# scratch as the demo is. VanillaNet's own parts stay out: no deep training (a VanillaNet
# hook), AdamW without layer decay (it needs VanillaNet's layer depths).
# Backbone widths 128/256/1024 at strides 8/16/32 (out_indices 1-3).
_base_ = '../demo/retinanet_vanillanet_tiny_shapes.py'
custom_imports = dict(imports=['mmvanilla.plugin', 'mmpretrain.models'],
                      allow_failed_imports=False)
model = dict(
    backbone=dict(_delete_=True, type='mmpretrain.MobileOne', arch='s0', out_indices=(1, 2, 3)),
    neck=dict(in_channels=[128, 256, 1024]))
custom_hooks = []
optim_wrapper = dict(constructor='DefaultOptimWrapperConstructor',
                     paramwise_cfg=dict(_delete_=True, norm_decay_mult=0.0, bias_decay_mult=0.0))

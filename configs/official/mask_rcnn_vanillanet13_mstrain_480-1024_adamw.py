# The official recipe behind the paper's COCO table (huawei-noah/VanillaNet
# object_detection/, mmdet 2.x; REFERENCE §7): Mask R-CNN VN-13, 44.3 box AP,
# 40.1 mask AP. It differs from ../mask_rcnn_vanillanet13.py (the paper's
# text) in: BN as SyncBN with its statistics trained, multi-scale training,
# LR 1.3e-4, layer decay 0.6, LR steps at epochs 10 and 12 (so one drop).
_base_ = '../mask_rcnn_vanillanet13.py'

model = dict(backbone=dict(
    norm_cfg=dict(type='SyncBN', eps=1e-6, requires_grad=True), norm_eval=False,
    init_cfg=dict(key='model_ema')))  # the official backbone loads the EMA weights

# mmdet 2.x img_scale=[(1333, 480), (1333, 512), ..., (1333, 1024)],
# multiscale_mode='value': one of the 18 scales per image.
train_scales = [(1333, s) for s in range(480, 1025, 32)]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=1.3e-4), paramwise_cfg=dict(layer_decay_rate=0.6))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[10, 12],
         gamma=0.1),
]

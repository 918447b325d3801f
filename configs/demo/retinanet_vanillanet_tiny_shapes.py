# The embedded demo: a tiny VanillaNet RetinaNet trained from scratch on the
# generated shapes dataset (tools/make_shapes_dataset.py), on CPU in minutes.
# Same recipe as the COCO config (AdamW, layer-wise LR decay 0.8), scaled down.
_base_ = '../retinanet_vanillanet11.py'

data_root = 'data/shapes/'
metainfo = dict(classes=('circle', 'square', 'triangle'))
img_scale = (320, 256)

model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(
        arch=dict(_delete_=True, dims=[32, 64, 128, 256], strides=[2, 2, 2]),
        out_indices=(0, 1, 2),  # strides 8, 16, 32
        norm_eval=False,  # from scratch: learn the BN statistics
        init_cfg=dict(checkpoint=None)),
    neck=dict(in_channels=[64, 128, 256], out_channels=64),
    bbox_head=dict(num_classes=3, in_channels=64, feat_channels=64, stacked_convs=2))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=8, num_workers=1,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='train/'), pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val.json',
                 data_prefix=dict(img='val/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

max_epochs = 24
train_cfg = dict(max_epochs=max_epochs, val_interval=4)
optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=40),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
         milestones=[18, 22], gamma=0.1),
]
# From scratch, so the paper's deep training: lambda goes 0 -> 1 over the first
# 8 epochs (ReLU between each block's convs becoming the identity); after that
# the backbone can be fused (tools/test.py --deploy).
custom_hooks = [dict(type='DeepTrainingHook', epochs=8)]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=4, max_keep_ckpts=2))
randomness = dict(seed=0)

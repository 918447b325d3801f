# The embedded demo's two-stage twin: a tiny VanillaNet Mask R-CNN trained
# from scratch on the generated shapes dataset (the shapes' polygons are exact
# masks), on CPU; the same recipe as the RetinaNet demo, with RoI heads.
_base_ = '../mask_rcnn_vanillanet11.py'

data_root = 'data/shapes/'
metainfo = dict(classes=('circle', 'square', 'triangle'))
img_scale = (320, 256)
width = 64  # FPN, RPN and RoI head channels (the COCO config: 256)

model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(
        # a stride-1 first stage: FPN inputs at strides 4, 8, 16, 32, as the
        # RoI extractors' featmap_strides expect
        arch=dict(_delete_=True, dims=[32, 64, 128, 256, 256], strides=[1, 2, 2, 2]),
        out_indices=(0, 1, 2, 3),
        norm_eval=False,  # from scratch: learn the BN statistics
        init_cfg=dict(checkpoint=None)),
    neck=dict(in_channels=[64, 128, 256, 256], out_channels=width),
    rpn_head=dict(in_channels=width, feat_channels=width),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=width),
        bbox_head=dict(in_channels=width, fc_out_channels=256, num_classes=3),
        mask_roi_extractor=dict(out_channels=width),
        mask_head=dict(in_channels=width, conv_out_channels=width, num_classes=3)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
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
train_cfg = dict(max_epochs=max_epochs, val_interval=8)
optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=40),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
         milestones=[18, 22], gamma=0.1),
]
custom_hooks = [dict(type='DeepTrainingHook', epochs=8)]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=4, max_keep_ckpts=2))
randomness = dict(seed=0)

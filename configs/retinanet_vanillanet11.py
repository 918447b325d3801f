_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/default_runtime.py',
    './_base_/vanillanet_adamw_1x.py',
]

# Official ImageNet weights: vanillanet_11.pth from the `ckpt` release of
# huawei-noah/VanillaNet. None trains from scratch (with a warning).
pretrained = 'checkpoints/vanillanet_11.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='VanillaNet',
        arch='vanillanet_11',
        act_num=3,
        out_indices=(1, 6, 8),  # strides 8, 16, 32
        # Fine-tuning keeps the ImageNet BN statistics (mmdet's usual
        # practice at a few images per GPU); fusion folds exactly these.
        norm_cfg=dict(type='BN', eps=1e-6, requires_grad=True),
        norm_eval=True,
        # True: recompute each block in the backward pass instead of keeping its
        # activations (gradient checkpointing, as mmdet's backbones): less
        # training memory for about one more forward pass of the backbone.
        with_cp=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[1024, 2048, 4096], start_level=0, num_outs=5))

img_scale = (1280, 800)
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
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor')),
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

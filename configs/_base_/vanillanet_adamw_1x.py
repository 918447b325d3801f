# The paper's COCO recipe (arXiv 2305.12972, official mmdet 2.x configs):
# AdamW, LR 1.4e-4 for a total batch of 32, weight decay 0.05, layer-wise LR
# decay 0.8 (neck and heads full LR, stem the smallest), no weight decay on
# norms and biases; 12 epochs, linear warm-up over 500 iterations, LR x0.1 at
# epochs 8 and 11.
_base_ = 'mmdet::_base_/schedules/schedule_1x.py'

custom_imports = dict(imports=['mmvanilla.plugin'], allow_failed_imports=False)

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='BackboneLayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1.4e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(layer_decay_rate=0.8, norm_decay_mult=0.0,
                       bias_decay_mult=0.0))

# 8 GPUs x 4 images = 32 (configs set batch_size=4). On another total batch,
# pass --auto-scale-lr to tools/train.py to scale the LR linearly.
auto_scale_lr = dict(enable=False, base_batch_size=32)

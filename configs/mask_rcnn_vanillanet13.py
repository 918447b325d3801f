# The paper's COCO Mask R-CNN (VN-13, act_num 4): 44.3 box / 40.1 mask AP,
# 77.1 M params fused.
_base_ = './mask_rcnn_vanillanet11.py'

pretrained = 'checkpoints/vanillanet_13_act_num_4_kd_pretrain.pth'

model = dict(
    backbone=dict(arch='vanillanet_13', act_num=4, out_indices=(0, 1, 8, 10),
                  init_cfg=dict(checkpoint=pretrained)))

# The paper's COCO RetinaNet (VN-13, act_num 4): 43.0 box AP, 75.4 M params fused.
_base_ = './retinanet_vanillanet11.py'

pretrained = 'checkpoints/vanillanet_13_act_num_4_kd_pretrain.pth'

model = dict(
    backbone=dict(arch='vanillanet_13', act_num=4, out_indices=(1, 8, 10),
                  init_cfg=dict(checkpoint=pretrained)))

# VN-11 RetinaNet fine-tuned on your own COCO-format dataset: change the two
# lines marked "<- yours"; the rest (the paper's recipe at 1280x800, ImageNet
# weights, AdamW with layer-wise LR decay 0.8) is configs/retinanet_vanillanet11.py.
#
# Layout (as COCO's):  <data_root>/annotations/instances_train.json
#                      <data_root>/annotations/instances_val.json
#                      <data_root>/train/   <data_root>/val/   (the images)
#
# To start from a COCO-trained VN-11 RetinaNet instead of ImageNet weights, add
#   load_from = 'work_dirs/retinanet_vanillanet11/epoch_12.pth'
#   strict_load = False  # its 80-class classifier does not fit and stays new
_base_ = './retinanet_vanillanet11.py'

data_root = 'data/custom/'  # <- yours: the dataset's folder
classes = ('cat', 'dog')  # <- yours: category names, in the annotation files' order

# (over 80 classes: add palette=[(r, g, b), ...] here, one colour per class, for
# --show-dir and tools/infer.py: the inherited COCO palette has 80)
metainfo = dict(classes=classes)
model = dict(bbox_head=dict(num_classes=len(classes)))
train_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_train.json', data_prefix=dict(img='train/')))
val_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val.json', data_prefix=dict(img='val/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

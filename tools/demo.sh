#!/usr/bin/env bash
# The main job on the embedded default: set up (if needed), generate the shapes
# dataset (if missing), train a tiny VanillaNet RetinaNet from scratch on CPU,
# print COCO bbox AP as it rises, then evaluate the fused (deployed) model.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/setup_env.sh
py=${VENV:-.venv}/bin/python
export PYTHONWARNINGS=${PYTHONWARNINGS:-ignore}
config=configs/demo/retinanet_vanillanet_tiny_shapes.py
work_dir=${WORK_DIR:-work_dirs/demo}

[[ -f data/shapes/annotations/instances_val.json ]] || "$py" tools/make_shapes_dataset.py data/shapes
"$py" tools/train.py "$config" --work-dir "$work_dir" "$@"
"$py" tools/test.py "$config" "$(cat "$work_dir/last_checkpoint")" --deploy \
  --work-dir "$work_dir/deploy_test"
"$py" - "$work_dir" <<'PY'
import glob, json, sys
runs = sorted(glob.glob(f'{sys.argv[1]}/2*/vis_data/scalars.json'))  # training runs
rows = [json.loads(line) for line in open(runs[-1])]
print('\nCOCO bbox AP on the shapes val set (chance: ~0.0):')
for r in rows:
    if 'coco/bbox_mAP' in r:
        print(f"  epoch {r['step']:>2}: AP {r['coco/bbox_mAP']:.3f}  AP50 {r['coco/bbox_mAP_50']:.3f}")
fused = sorted(glob.glob(f'{sys.argv[1]}/deploy_test/2*/*.json'))
if fused:
    r = json.load(open(fused[-1]))
    print(f"  fused (deploy) model: AP {r['coco/bbox_mAP']:.3f}  AP50 {r['coco/bbox_mAP_50']:.3f}")
PY

#!/usr/bin/env bash
# The main job on the embedded default: set up (if needed), generate the shapes
# dataset (if missing), train a tiny VanillaNet RetinaNet from scratch on CPU,
# print COCO bbox AP as it rises, then evaluate the fused (deployed) model and
# draw its detections and the training curves (work_dirs/demo/*.png).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/setup_env.sh
py=${VENV:-.venv}/bin/python
export PYTHONWARNINGS=${PYTHONWARNINGS:-ignore}
config=configs/demo/retinanet_vanillanet_tiny_shapes.py
work_dir=${WORK_DIR:-work_dirs/demo}

[[ -f data/shapes/annotations/instances_val.json ]] || "$py" tools/make_shapes_dataset.py data/shapes
"$py" tools/train.py "$config" --work-dir "$work_dir" "$@"
results="$work_dir/deploy_test/results"  # COCO-format JSON detections
"$py" tools/test.py "$config" "$(cat "$work_dir/last_checkpoint")" --deploy \
  --work-dir "$work_dir/deploy_test" --cfg-options "test_evaluator.outfile_prefix=$results"
echo
"$py" tools/demo_report.py "$work_dir" "$results.bbox.json"

#!/usr/bin/env bash
# The main job on the embedded default: set up (if needed), generate the shapes
# dataset (if missing), train a tiny VanillaNet RetinaNet from scratch on CPU,
# print COCO bbox AP as it rises, then evaluate the fused (deployed) model and
# draw its detections and the training curves (work_dirs/demo/*.png).
#
#   bash tools/demo.sh [--precision fp32|bf16|int8] [train.py options]
# --precision: deploy and evaluate in bf16, or INT8 (quantized by tools/quantize.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
precision=fp32
train_args=()
while (($#)); do
  case $1 in
    --precision) precision=${2:-}; shift $(($# > 1 ? 2 : 1)) ;;
    --precision=*) precision=${1#*=}; shift ;;
    *) train_args+=("$1"); shift ;;
  esac
done
case $precision in fp32|bf16|int8) ;; *)
  echo "error: --precision must be fp32, bf16 or int8, got '$precision'" >&2; exit 2 ;;
esac
bash tools/setup_env.sh
py=${VENV:-.venv}/bin/python
export PYTHONWARNINGS=${PYTHONWARNINGS:-ignore}
config=configs/demo/retinanet_vanillanet_tiny_shapes.py
work_dir=${WORK_DIR:-work_dirs/demo}

[[ -f data/shapes/annotations/instances_val.json ]] || "$py" tools/make_shapes_dataset.py data/shapes
"$py" tools/train.py "$config" --work-dir "$work_dir" ${train_args[@]+"${train_args[@]}"}
checkpoint=$(cat "$work_dir/last_checkpoint")
if [[ $precision == int8 ]]; then
  "$py" tools/quantize.py "$config" "$checkpoint" "$work_dir/int8"
  config=$work_dir/int8/config.py checkpoint=$work_dir/int8/fused.pth
fi
results="$work_dir/deploy_test/results"  # COCO-format JSON detections
"$py" tools/test.py "$config" "$checkpoint" --deploy --precision "$precision" \
  --work-dir "$work_dir/deploy_test" --cfg-options "test_evaluator.outfile_prefix=$results"
echo
"$py" tools/demo_report.py "$work_dir" "$results.bbox.json"

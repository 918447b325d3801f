#!/usr/bin/env bash
# mmvanilla beside the maintained fork of OpenMMLab (onedl-mmcv, onedl-mmengine,
# onedl-mmdetection, onedl-mmpretrain: the same import names, outside pyproject.toml's
# ranges), set up the way README's "An environment you already have" says, then the
# demo's steps and the suite run in it, as one log with each step's time; the demo also
# trains on the images this repository's .venv generates, as a cross-check. Not part
# of CI: building onedl-mmcv from source takes longer than the suite.
#
#   bash benchmarks/fork_env.sh > docs/results/fork_onedl_<cpu>.log 2>&1
#
#   PYTHON=python3.11  the interpreter of the new venv
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git clone -q "$repo" "$scratch/repo" && cd "$scratch/repo" || exit 1
MMCV=2.3.6 TORCH="torch==2.14.1 torchvision==0.29.1"

echo "\$ bash benchmarks/fork_env.sh"
echo "commit $(git rev-parse --short HEAD), $(date -u +%FT%TZ), $(nproc) cores," \
     "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
step() {  # NAME LINES COMMAND...: run it, show its last LINES lines, its status and time
  local name=$1 lines=$2 t0=$SECONDS
  shift 2
  "$@" > "$scratch/step.log" 2>&1
  local rc=$?
  tail -n "$lines" "$scratch/step.log" | sed 's/^/    /'
  echo "$name: exit $rc, $((SECONDS - t0)) s"
  return $rc
}

"${PYTHON:-python3.11}" -m venv fork || exit 1
py=$PWD/fork/bin/python
pip=("$py" -m pip install -q --disable-pip-version-check)
export PATH=$PWD/fork/bin:$PATH  # (its ninja for the build)
# shellcheck disable=SC2086
step "torch and build tools" 3 "${pip[@]}" "setuptools<81" wheel ninja $TORCH || exit 1
# onedl-mmcv is published as source only; its setup.py asks for C++14/17, torch 2.14's
# headers need C++20 (what tools/setup_plan.py reads from them for mmcv)
build_mmcv() {
  "$py" -m pip download -q --no-deps --no-binary :all: --no-build-isolation -d src \
    "onedl-mmcv==$MMCV" &&
  tar -xzf "src/onedl_mmcv-$MMCV.tar.gz" -C src &&
  sed -i 's/-std=c++1[47]/-std=c++20/g' "src/onedl_mmcv-$MMCV/setup.py" &&
  (cd "src/onedl_mmcv-$MMCV" && MMCV_WITH_OPS=1 FORCE_CUDA=0 "$py" -m pip wheel -q \
     --no-build-isolation --no-deps -w ../../wheels .)
}
step "onedl-mmcv $MMCV built from source (CPU ops)" 3 build_mmcv || exit 1
step "the fork's packages" 3 "${pip[@]}" wheels/onedl_mmcv-*.whl onedl-mmengine==0.10.12 \
  onedl-mmdetection==3.5.1 onedl-mmpretrain==1.3.6 || exit 1
step "mmvanilla without its dependencies, the test and deploy tools" 3 bash -c \
  "${pip[*]} --no-deps --no-build-isolation -e . && ${pip[*]} pytest pytest-xdist filelock \
   pycocotools onnx onnxruntime openvino nncf transformers timm"
step "versions" 10 "$py" -c "
from importlib.metadata import version
for p in ('torch', 'onedl-mmcv', 'onedl-mmengine', 'onedl-mmdetection', 'onedl-mmpretrain',
          'numpy', 'transformers', 'timm'):
    print(p, version(p))"

# the demo's steps (tools/demo.sh would set up its own .venv)
config=configs/demo/retinanet_vanillanet_tiny_shapes.py
export PYTHONWARNINGS=ignore
step "demo: dataset" 1 "$py" tools/make_shapes_dataset.py data/shapes
step "demo: train.py" 8 "$py" tools/train.py "$config" --work-dir work_dirs/demo
step "demo: test.py --deploy" 4 "$py" tools/test.py "$config" work_dirs/demo/epoch_24.pth \
  --deploy --work-dir work_dirs/demo/deploy_test
# the same demo on the images the tested stack (this repository's .venv) generates:
# the generator draws with OpenCV, whose versions differ in a few pixels
tested=$repo/.venv/bin/python
if [[ -x $tested ]]; then
  step "demo: the tested stack's dataset" 1 "$tested" tools/make_shapes_dataset.py data/shapes_venv
  opencv_version='import cv2; print(cv2.__version__)'
  here=$("$py" -c "$opencv_version") there=$("$tested" -c "$opencv_version")
  step "images that differ (OpenCV $here here, $there in .venv)" 1 "$py" -c "
import glob, cv2, numpy as np
pairs = [(p, p.replace('data/shapes/', 'data/shapes_venv/'))
         for p in sorted(glob.glob('data/shapes/*/*.png'))]
diffs = [np.abs(cv2.imread(a).astype(int) - cv2.imread(b).astype(int)) for a, b in pairs]
changed = [d for d in diffs if d.any()]
print(f'{len(changed)} of {len(pairs)} images differ; at most {max((d.max() for d in changed), default=0)}'
      f' grey level(s) in at most {max((int((d > 0).sum()) for d in changed), default=0)} values')"
  options=()
  for split in train val test; do options+=("${split}_dataloader.dataset.data_root=data/shapes_venv/"); done
  for split in val test; do options+=("${split}_evaluator.ann_file=data/shapes_venv/annotations/instances_val.json"); done
  step "demo: train.py on the tested stack's images" 8 "$py" tools/train.py "$config" \
    --work-dir work_dirs/demo_venv_images --cfg-options "${options[@]}"
else
  echo "(no $tested: the demo on the tested stack's images is skipped)"
fi
step "suite" 25 "$py" -m pytest -q -rf -p no:cacheprovider
exit 0

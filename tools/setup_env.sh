#!/usr/bin/env bash
# Create (or verify) the mmvanilla environment: a venv with torch, mmcv (with ops),
# mmdet, mmpretrain and mmvanilla in editable mode with its dev and deploy extras
# (pytest; ONNX Runtime and OpenVINO for --precision int8). Safe to re-run: a complete
# environment is detected in seconds, and a change of the variables below re-runs it.
#
#   bash tools/setup_env.sh [--plan]   --plan: say what would be installed and built, and why
#
#   VENV=path        where the venv lives (default: <repo>/.venv)
#   PYTHON=python3.11 interpreter used to create it
#   TORCH_SPEC="torch==... torchvision==... [--index-url ...]"  the torch build
#   FORCE_CUDA=1|0   mmcv's CUDA ops (1) or CPU ops (0); unset: CUDA ops when torch sees a GPU
#   TORCH_CUDA_ARCH_LIST="8.0;9.0"  GPU architectures of a CUDA build (default: the visible
#                    GPUs', else tools/setup_plan.py's DEFAULT_ARCHS); CUDA_HOME: the toolkit
#   MMVANILLA_WHEELS=dir  extra --find-links dir (default: ../shared/wheels if present)
#   MIN_FREE_GB=8    free disk a new venv needs (torch's CUDA build is most of its 6.8 GB)
#
# mmcv wheels are cached in ~/.cache/mmvanilla/wheels/<key>, the key naming what a
# wheel was built against (Python, torch and its CUDA, CPU or CUDA ops, architectures):
# a wheel is only used where its key fits, and after install mmcv's ops must run on
# every device torch sees (tools/setup_plan.py check).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case ${1:-} in
  '') plan_only=0 ;;
  --plan) plan_only=1 ;;
  *) echo "error: unknown argument '$1': use bash tools/setup_env.sh [--plan]" >&2; exit 2 ;;
esac
venv=${VENV:-$repo/.venv}
python=${PYTHON:-python3.11}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/mmvanilla/wheels
stamp=$venv/.mmvanilla-setup

export TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}
MMCV_VERSION=2.1.0
want=$( (cat "$repo/pyproject.toml" "$repo/tools/setup_env.sh" "$repo/tools/setup_plan.py"
         echo "$TORCH_SPEC|${FORCE_CUDA-unset}|${TORCH_CUDA_ARCH_LIST-unset}|$python") \
       | sha256sum | cut -c1-16)
shared=${MMVANILLA_WHEELS:-$repo/../shared/wheels}

planned_key() {  # the mmcv build this machine needs now (a GPU node differs from a login node)
  "$venv/bin/python" "$repo/tools/setup_plan.py" plan 2>/dev/null | sed -n 's/^KEY=//p'
}

if (( plan_only )); then
  if [[ -f $stamp && -x $venv/bin/python && $(cat "$stamp") == "$want $(planned_key)" ]]; then
    echo "[plan] venv: $venv is complete for these settings: a run only verifies it"
  elif [[ -x $venv/bin/python ]]; then
    echo "[plan] venv: $venv exists but was set up for other settings or files: a run installs again"
  else
    echo "[plan] venv: $venv is new, made with $python"
  fi
  py=$venv/bin/python; [[ -x $py ]] || py=$(command -v "$python" || echo python3)
  "$py" "$repo/tools/setup_plan.py" explain
  exit $?
fi

check() {
  "$venv/bin/python" - <<'PY' 2>/dev/null
import mmcv, mmcv.ops, mmdet, mmpretrain, mmengine, pycocotools, pytest, torch, torchvision
import onnxruntime, openvino
import mmvanilla.plugin
PY
}

if [[ -f $stamp && $(cat "$stamp") == "$want $(planned_key)" ]] && check; then
  echo "[setup] environment at $venv is complete"
  exit 0
fi

# Pre-flight: a full disk must stop here with one line, not as an OSError half-way
# through pip (a CI machine once had too little free space for torch).
min_gb=${MIN_FREE_GB:-8}
[[ $min_gb =~ ^[0-9]+$ ]] || { echo "error: MIN_FREE_GB must be a whole number of GB, got '$min_gb'" >&2; exit 2; }
parent=$venv; until [[ -e $parent ]]; do parent=$(dirname "$parent"); done
[[ -d $parent && -w $parent ]] || { echo "error: VENV=$venv cannot be made: $parent is $( [[ -d $parent ]] && echo 'not writable' || echo 'a file, not a directory'); set VENV= to a directory you can write" >&2; exit 2; }
have_kb=$(df -Pk "$parent" 2>/dev/null | awk 'NR==2 {print $4}' || true)
used_kb=0; [[ -d $venv ]] && used_kb=$(du -sk "$venv" 2>/dev/null | cut -f1 || true)
need_kb=$(( min_gb * 1024 * 1024 - ${used_kb:-0} ))
if [[ ! $have_kb =~ ^[0-9]+$ ]]; then
  echo "[setup] warning: df could not read the free space of $parent; going on without the disk check" >&2
elif (( have_kb < need_kb )); then
  echo "error: $(( have_kb / 1024 )) MB free on the disk of $venv, and setting it up there needs about $(( need_kb / 1024 )) MB (a complete venv is 6.8 GB: docs/results/setup_xeon.log). Free space, or set VENV= to a directory on a larger disk" >&2
  exit 2
fi

echo "[setup] creating/updating $venv (first run on a 2-core Xeon: 2 min with a fitting mmcv wheel, 12 min without: docs/results/setup_xeon.log)"
[[ -x $venv/bin/python ]] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
export PATH=$venv/bin:$PATH   # the build finds the venv's ninja (without it: a serial build)

"${pip[@]}" install -q "setuptools>=64,<81" wheel
# shellcheck disable=SC2086
"${pip[@]}" install -q $TORCH_SPEC

# What to build for this torch and machine (one error line if it cannot work)
declare -A plan
while IFS='=' read -r k v; do plan[$k]=$v; done < <("$venv/bin/python" "$repo/tools/setup_plan.py" plan)
[[ -n ${plan[KEY]:-} ]] || { echo "error: tools/setup_plan.py found no plan (above); torch in $venv may be broken: delete $venv and run again" >&2; exit 2; }
echo "[setup] mmcv $MMCV_VERSION with ${plan[OPS]} ops (key ${plan[KEY]})"
keyed=$cache/${plan[KEY]}
mkdir -p "$keyed"

fits() {  # install the mmcv wheel found in $1; true if its ops fit the plan
  "${pip[@]}" install -q --no-index --no-deps --force-reinstall --find-links "$1" \
    "mmcv==$MMCV_VERSION" 2>/dev/null || return 1
  "${pip[@]}" install -q "mmcv==$MMCV_VERSION" --find-links "$1"   # its pure-Python requirements
  local why
  why=$("$venv/bin/python" "$repo/tools/setup_plan.py" check 2>&1) && { echo "$why"; return 0; }
  echo "[setup] the mmcv wheel in $1 does not fit: ${why#error: }"
  return 1
}

if ls "$keyed"/mmcv-$MMCV_VERSION-*.whl >/dev/null 2>&1 && fits "$keyed"; then
  echo "[setup] mmcv wheel from $keyed"
elif [[ ${plan[OPS]} == cpu && -d $shared ]] && ls "$shared"/mmcv-$MMCV_VERSION-*.whl >/dev/null 2>&1 \
     && fits "$shared"; then
  cp "$shared"/mmcv-$MMCV_VERSION-*.whl "$keyed"/   # it fits: remembered under its key
  echo "[setup] mmcv wheel from $shared (its ops check passed)"
else
  if [[ -n ${plan[BUILD_PROBLEM]} ]]; then echo "error: ${plan[BUILD_PROBLEM]}" >&2; exit 2; fi
  echo "[setup] no fitting mmcv $MMCV_VERSION wheel; building it from source (most of a first run: docs/results/setup_xeon.log)"
  "${pip[@]}" install -q "setuptools<70" ninja   # mmcv's setup.py imports pkg_resources
  command -v ninja >/dev/null || echo "[setup] warning: no ninja: the build runs serially" >&2
  src=$(mktemp -d)
  trap 'rm -rf "$src"' EXIT
  "${pip[@]}" download -q --no-deps --no-build-isolation --no-binary :all: -d "$src" "mmcv==$MMCV_VERSION"
  tar -xzf "$src"/mmcv-$MMCV_VERSION.tar.gz -C "$src"
  # mmcv 2.1.0 asks for C++17; the standard torch's own headers require wins.
  sed -i "s/-std=c++17/-std=${plan[CXX_STD]}/g" "$src/mmcv-$MMCV_VERSION/setup.py"
  build_env=(MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}")
  if [[ ${plan[OPS]} == cuda ]]; then
    build_env+=(FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="${plan[ARCHS]}")
  else
    build_env+=(FORCE_CUDA=0 CUDA_VISIBLE_DEVICES=)   # CPU ops even where a GPU is visible
  fi
  (cd "$src/mmcv-$MMCV_VERSION" && env "${build_env[@]}" \
     "${pip[@]}" wheel --no-build-isolation --no-deps -w "$keyed" .)
  fits "$keyed" || { echo "error: the mmcv wheel just built in $keyed fails its check" >&2; exit 2; }
  "${pip[@]}" install -q "setuptools>=77,<81"   # torch's range, with pkg_resources
fi
"${pip[@]}" install -q --no-build-isolation -e "$repo[dev,deploy]" --find-links "$keyed"
# numpy 1.26 beside the venv's numpy 2 (tests/test_environments.py puts it first on
# PYTHONPATH: environments that still hold numpy 1.x)
"${pip[@]}" install -q --no-deps --upgrade --target "$venv/numpy1" "numpy==1.26.4"

check || { echo "[setup] ERROR: environment incomplete after install" >&2; exit 1; }
echo "$want ${plan[KEY]}" > "$stamp"
echo "[setup] done: $venv"

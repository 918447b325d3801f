#!/usr/bin/env bash
# Create (or verify) the mmvanilla environment: a venv with torch, mmcv (with ops),
# mmdet, mmpretrain and mmvanilla in editable mode with its dev and deploy extras
# (pytest; ONNX Runtime and OpenVINO for --precision int8). Safe to re-run: a complete
# environment is detected in seconds.
#
#   VENV=path        where the venv lives (default: <repo>/.venv)
#   PYTHON=python3.11 interpreter used to create it
#   MMVANILLA_WHEELS=dir  extra --find-links dir (default: ../shared/wheels if present)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${VENV:-$repo/.venv}
python=${PYTHON:-python3.11}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/mmvanilla/wheels
stamp=$venv/.mmvanilla-setup
want=$(cat "$repo/pyproject.toml" "$repo/tools/setup_env.sh" | sha256sum | cut -c1-16)

TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}
MMCV_VERSION=2.1.0

check() {
  "$venv/bin/python" - <<'PY' 2>/dev/null
import mmcv, mmcv.ops, mmdet, mmpretrain, mmengine, pycocotools, pytest, torch, torchvision
import onnxruntime, openvino
import mmvanilla.plugin
PY
}

if [[ -f $stamp && $(cat "$stamp") == "$want" ]] && check; then
  echo "[setup] environment at $venv is complete"
  exit 0
fi

echo "[setup] creating/updating $venv (first run: ~5 min with a prebuilt mmcv wheel, ~20 min without)"
[[ -x $venv/bin/python ]] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

links=("--find-links" "$cache")
mkdir -p "$cache"
shared=${MMVANILLA_WHEELS:-$repo/../shared/wheels}
[[ -d $shared ]] && links+=("--find-links" "$shared")

"${pip[@]}" install -q "setuptools>=64,<81" wheel
# shellcheck disable=SC2086
"${pip[@]}" install -q $TORCH_SPEC

if ! "${pip[@]}" install -q --no-index --no-deps "${links[@]}" "mmcv==$MMCV_VERSION" 2>/dev/null; then
  echo "[setup] no mmcv $MMCV_VERSION wheel for this torch; building it from source (~17 min on 2 cores)"
  "${pip[@]}" install -q "setuptools<70" ninja   # mmcv's setup.py imports pkg_resources
  src=$(mktemp -d)
  trap 'rm -rf "$src"' EXIT
  "${pip[@]}" download -q --no-deps --no-build-isolation --no-binary :all: -d "$src" "mmcv==$MMCV_VERSION"
  tar -xzf "$src"/mmcv-$MMCV_VERSION.tar.gz -C "$src"
  # torch >= 2.14 headers need C++20; mmcv 2.1.0 asks for C++17.
  if "$venv/bin/python" -c 'import sys, torch; v = tuple(map(int, torch.__version__.split("+")[0].split(".")[:2])); sys.exit(v < (2, 14))'; then
    sed -i 's/-std=c++17/-std=c++20/g' "$src/mmcv-$MMCV_VERSION/setup.py"
  fi
  (cd "$src/mmcv-$MMCV_VERSION" && MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
     "${pip[@]}" wheel --no-build-isolation --no-deps -w "$cache" .)
  "${pip[@]}" install -q --no-index --no-deps --find-links "$cache" "mmcv==$MMCV_VERSION"
  "${pip[@]}" install -q "setuptools>=77,<81"   # torch's range, with pkg_resources
fi
"${pip[@]}" install -q "mmcv==$MMCV_VERSION" "${links[@]}"   # its pure-Python requirements

"${pip[@]}" install -q --no-build-isolation -e "$repo[dev,deploy]" "${links[@]}"

check || { echo "[setup] ERROR: environment incomplete after install" >&2; exit 1; }
echo "$want" > "$stamp"
echo "[setup] done: $venv"

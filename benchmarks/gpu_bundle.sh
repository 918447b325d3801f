#!/usr/bin/env bash
# Pack what benchmarks/gpu_evidence.sh needs on a bare GPU machine that has Python
# 3.12, torch, numpy, OpenCV, matplotlib and scipy but no OpenMMLab and no network:
# mmcv's source (its CUDA ops are built there) and the pure-Python wheels of
# mmengine, mmdet, mmpretrain and what they import, at the versions this repo's
# venv was tested with. Run here, where PyPI is reachable:
#
#   bash benchmarks/gpu_bundle.sh [DIR]     (default DIR: .gpu_bundle, git-ignored)
#
# Prints the bundle's size; the device tool carries at most 64 MiB with the tree.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-$repo/.gpu_bundle}
python=${VENV:-$repo/.venv}/bin/python
[[ -x $python ]] || { echo "error: no venv at ${VENV:-$repo/.venv}: run bash tools/setup_env.sh first (the bundle takes its versions)" >&2; exit 2; }
# pure-Python or cp312 wheels the target lacks (its image has numpy, opencv, matplotlib,
# scipy, rich, pyyaml, six, click, pillow, packaging); tqdm, markdown and zipp too, as a
# review found them imported (mmdet.models, modelindex, importlib_metadata): small, and
# the bundle does not rely on the image's versions
names=(mmengine mmdet mmpretrain pycocotools addict yapf platformdirs termcolor
       terminaltables shapely mat4py model-index ordered-set importlib-metadata zipp
       lazy-importer tqdm markdown)
pins=$("$python" - "${names[@]}" <<'PY'
import sys
from importlib.metadata import version
print(' '.join(f'{n}=={version(n)}' for n in sys.argv[1:]))
PY
)
rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
pip=("$python" -m pip --disable-pip-version-check download -q --no-deps -d "$dir.tmp")
# shellcheck disable=SC2086
"${pip[@]}" --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 $pins "setuptools==80.9.0"
"${pip[@]}" --only-binary=:all: "setuptools==69.5.1"   # mmcv's setup.py imports pkg_resources, as setup_env.sh builds it
"${pip[@]}" --no-binary :all: --no-build-isolation "mmcv==2.1.0"   # source: its ops are built there
rm -rf "$dir" && mv "$dir.tmp" "$dir"
echo "$pins setuptools==69.5.1 setuptools==80.9.0 mmcv==2.1.0 (source)" > "$dir/PINS"
du -sh "$dir" | awk '{print "[bundle] " $1 " in " $2}'

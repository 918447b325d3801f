#!/usr/bin/env bash
# GPU evidence on a bare GPU machine (Python 3.12 with torch, numpy, OpenCV, matplotlib
# and scipy; no OpenMMLab, no network), in one run that writes one JSON. What it lacks
# comes in the bundle that benchmarks/gpu_bundle.sh packs here (mmcv's source,
# the OpenMMLab wheels); carry the bundle with the repository, then there:
#
#   bash benchmarks/gpu_evidence.sh --out $OUT/gpu_evidence.json [--budget 540]
#   bash benchmarks/gpu_evidence.sh --dry-run --out F.json   here: the CPU, a tiny arch, no build
#
#   BUNDLE=dir  the bundle (default: .gpu_bundle)   WORK=dir  scratch (default: /tmp/mmvanilla_gpu)
#   PYTHON=python  (default: python3 there; the repo's .venv for --dry-run)
# The phases are benchmarks/gpu_evidence.py's.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
for a in "$@"; do
  if [[ $a == --dry-run ]]; then
    exec "${PYTHON:-$repo/.venv/bin/python}" benchmarks/gpu_evidence.py "$@"
  fi
done
started=$(date +%s)   # the budget counts from here: the installs are part of it
bundle=${BUNDLE:-$repo/.gpu_bundle}
work=${WORK:-/tmp/mmvanilla_gpu}
python=${PYTHON:-python3}
[[ -f $bundle/PINS ]] || { echo "error: no bundle at $bundle: run bash benchmarks/gpu_bundle.sh where PyPI is reachable and carry .gpu_bundle" >&2; exit 2; }
rm -rf "$work" && mkdir -p "$work"
pip=("$python" -m pip install -q --no-index --no-deps --no-compile --disable-pip-version-check)
# the runtime wheels (setuptools 80: mmengine resolves mmdet:: configs with pkg_resources);
# setuptools 69 only for mmcv's setup.py, as tools/setup_env.sh builds it
"${pip[@]}" --target "$work/site" $(ls "$bundle"/*.whl | grep -v setuptools-69)
"${pip[@]}" --target "$work/build_site" "$bundle"/setuptools-69*.whl
tar -xzf "$bundle"/mmcv-2.1.0.tar.gz -C "$work"
export PYTHONPATH=$work/site:$repo:$work/mmcv-2.1.0${PYTHONPATH:+:$PYTHONPATH}
export PATH=$(dirname "$("$python" -c 'import sys; print(sys.executable)')"):$PATH  # its ninja
exec "$python" benchmarks/gpu_evidence.py --mmcv-src "$work/mmcv-2.1.0" \
  --build-site "$work/build_site" --started-at "$started" "$@"

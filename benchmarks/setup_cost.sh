#!/usr/bin/env bash
# What tools/setup_env.sh costs on this machine, as one log: a fresh clone of this
# commit set up from nothing (no mmcv wheel anywhere: mmcv is built), again in a new
# venv with the wheel that build cached (a second clone's first run), then re-run on
# the complete venv (what every later run of the demo or CI pays). Downloads from
# PyPI are included: pip's cache starts empty too (it lives under XDG_CACHE_HOME).
#
#   bash benchmarks/setup_cost.sh > docs/results/setup_<cpu>.log 2>&1
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git clone -q "$repo" "$scratch/repo"
setup=$scratch/repo/tools/setup_env.sh
export XDG_CACHE_HOME=$scratch/cache MMVANILLA_WHEELS=$scratch/no_wheels

echo "\$ bash benchmarks/setup_cost.sh"
echo "commit $(git -C "$repo" rev-parse --short HEAD), $(date -u +%FT%TZ)," \
     "$(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
step() {  # NAME VENV: one run of the set-up, its output indented, then its time
  local t0=$SECONDS
  VENV=$2 bash "$setup" 2>&1 | sed 's/^/    /'
  echo "$1: $((SECONDS - t0)) s"
}
step "first run, mmcv built" "$scratch/venv_built"
echo "venv size: $(du -sh "$scratch/venv_built" | cut -f1)"
rm -rf "$scratch/venv_built"  # (one venv at a time: each is several GB)
step "first run, mmcv wheel from the cache" "$scratch/venv"
step "re-run on the complete venv" "$scratch/venv"

#!/usr/bin/env bash
# Training on a Slurm cluster:
#   GPUS=16 tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args]
PARTITION=${1:-}
JOB_NAME=${2:-}
CONFIG=${3:-}
WORK_DIR=${4:-}
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}
USAGE="GPUS=16 tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args]"
# shellcheck source=tools/launch_checks.sh
source "$(dirname "$0")/launch_checks.sh"
[[ -n $PARTITION && -n $JOB_NAME && -n $WORK_DIR ]] || launch_error "missing arguments: $USAGE"
check_launch "$CONFIG"
check_count GPUS "$GPUS"
check_count GPUS_PER_NODE "$GPUS_PER_NODE"
check_count CPUS_PER_TASK "$CPUS_PER_TASK"
command -v srun >/dev/null || launch_error "srun not found: slurm_train.sh runs on a Slurm cluster (tools/dist_train.sh starts torchrun elsewhere)"
set -x

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    "$PYTHON" -u "$(dirname "$0")/train.py" "$CONFIG" --work-dir="$WORK_DIR" \
    --launcher slurm "${@:5}"

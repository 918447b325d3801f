#!/usr/bin/env bash
# Distributed testing with torchrun: tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args]
# NPROC processes per node, one per GPU (CUDA_VISIBLE_DEVICES= (empty): gloo processes
# on the CPU).
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT on each node.
set -e
CONFIG=${1:-}
CHECKPOINT=${2:-}
NPROC=${3:-}
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}
USAGE="tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args]"
# shellcheck source=tools/launch_checks.sh
source "$(dirname "$0")/launch_checks.sh"
check_launch "$CONFIG"
check_count NPROC "$NPROC"
[[ -f $CHECKPOINT ]] || launch_error "checkpoint '$CHECKPOINT' not found: $USAGE"
check_devices "$NPROC"

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" --master_port="$PORT" \
    "$(dirname "$0")/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"

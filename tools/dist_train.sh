#!/usr/bin/env bash
# Distributed training with torchrun: tools/dist_train.sh CONFIG NPROC [train.py args]
# NPROC processes per node, one per GPU (CUDA_VISIBLE_DEVICES= (empty): gloo processes
# on the CPU).
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT on each node.
set -e
CONFIG=${1:-}
NPROC=${2:-}
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}
USAGE="tools/dist_train.sh CONFIG NPROC [train.py args]"
# shellcheck source=tools/launch_checks.sh
source "$(dirname "$0")/launch_checks.sh"
check_launch "$CONFIG"
check_count NPROC "$NPROC"
check_devices "$NPROC"

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" --master_port="$PORT" \
    "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "${@:3}"

# Checks the launch scripts (dist_train.sh, dist_test.sh, slurm_train.sh)
# share, sourced by each: a bad argument is one line and exit status 2
# before torchrun or srun starts.

launch_error() {
  echo "error: $*" >&2
  exit 2
}

# check_count NAME VALUE: a whole number >= 1
check_count() {
  [[ $2 =~ ^[1-9][0-9]*$ ]] || launch_error "$1 must be a whole number >= 1, got '$2'"
}

# check_launch CONFIG: the config and the multi-node variables
check_launch() {
  [[ -n $1 ]] || launch_error "no CONFIG given: $USAGE"
  [[ -f $1 ]] || launch_error "config file '$1' not found: $USAGE"
  check_count NNODES "${NNODES:-1}"
  [[ ${NODE_RANK:-0} =~ ^[0-9]+$ ]] && (( 10#${NODE_RANK:-0} < 10#${NNODES:-1} )) ||
    launch_error "NODE_RANK must be a whole number below NNODES=${NNODES:-1}, got '${NODE_RANK:-0}'"
  [[ ${PORT:-29500} =~ ^[0-9]+$ ]] && (( 10#${PORT:-29500} >= 1024 && 10#${PORT:-29500} <= 65535 )) ||
    launch_error "PORT must be a free port number in 1024..65535, got '${PORT:-29500}'"
  command -v "${PYTHON:-python}" >/dev/null ||
    launch_error "PYTHON='${PYTHON:-python}' is not a command: set PYTHON to the environment's python (.venv/bin/python)"
}

# check_devices NPROC: torch sees NPROC GPUs on this node, unless the CPU was asked
# for (CUDA_VISIBLE_DEVICES set to '' or -1: gloo processes on the CPU)
check_devices() {
  if [[ ${CUDA_VISIBLE_DEVICES+set} == set && ( -z $CUDA_VISIBLE_DEVICES || $CUDA_VISIBLE_DEVICES == -1 ) ]]; then
    return 0
  fi
  local seen
  seen=$("${PYTHON:-python}" -c 'import torch; print(torch.cuda.device_count())' 2>/dev/null) ||
    launch_error "PYTHON='${PYTHON:-python}' cannot import torch: set PYTHON to the environment's python (.venv/bin/python)"
  local cpu="to run on the CPU on purpose, set CUDA_VISIBLE_DEVICES= (empty)"
  (( seen > 0 )) ||
    launch_error "torch sees no GPU on this node: check the GPUs (nvidia-smi) and that torch is a CUDA build that fits the driver (TORCH_SPEC in tools/setup_env.sh); $cpu"
  (( seen >= $1 )) ||
    launch_error "NPROC=$1 GPU processes, but torch sees $seen GPU(s) on this node: give NPROC <= $seen; $cpu"
}

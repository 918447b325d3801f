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
  [[ ${NODE_RANK:-0} =~ ^[0-9]+$ ]] && (( ${NODE_RANK:-0} < ${NNODES:-1} )) ||
    launch_error "NODE_RANK must be a whole number below NNODES=${NNODES:-1}, got '${NODE_RANK:-0}'"
  [[ ${PORT:-29500} =~ ^[0-9]+$ ]] && (( ${PORT:-29500} >= 1024 && ${PORT:-29500} <= 65535 )) ||
    launch_error "PORT must be a free port number in 1024..65535, got '${PORT:-29500}'"
  command -v "${PYTHON:-python}" >/dev/null ||
    launch_error "PYTHON='${PYTHON:-python}' is not a command: set PYTHON to the environment's python (.venv/bin/python)"
}

#!/usr/bin/env bash
# Rehearse the GPU check's set-up in an environment as bare as the lent GPU machine's:
# a fresh venv with numpy 2, a torch build and the packages that machine has (no zarr,
# numcodecs, PyAV or MediaPipe), a copy of the committed tree, the wheels `make gpu-wheels`
# fetches for this Python, installed offline by the check itself, then `make gpu-check`
# with --dry. Needs a network (package index) for the venv and the wheels.
#
#   bash benchmarks/gpucheck/simulate_bare.sh [PYTHON]     # default python3
#   TORCH_SPEC=torch==2.13.0 OUT=/tmp/sim-out bash benchmarks/gpucheck/simulate_bare.sh
set -euo pipefail
py=${1:-python3}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/ptx-bare-XXXXXX)
out=${OUT:-$work/out}
ver=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
echo "bare environment in $work (Python $ver)"
"$py" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "${TORCH_SPEC:-torch==2.13.0}" "numpy>=2" \
  typer rich pyyaml scipy numba scikit-image tensorboard torchmetrics opencv-python-headless \
  psutil pillow matplotlib pytest packaging typing-extensions setuptools
(cd "$work" && env -u PYTHONPATH "$work/venv/bin/python" -) <<'EOF'
import importlib.util, numpy
missing = [m for m in ("zarr", "numcodecs", "av", "mediapipe", "ptx") if importlib.util.find_spec(m)]
assert not missing, f"not bare: {missing}"
print(f"numpy {numpy.__version__}; no zarr, numcodecs, av, mediapipe or ptx")
EOF
mkdir -p "$work/tree"
git -C "$root" archive HEAD | tar -x -C "$work/tree"
make -C "$work/tree" --no-print-directory gpu-wheels GPU_WHEELS_PY="$ver"
env -u PYTHONPATH PTX_GPU_CHECK_OUT="$out" make -C "$work/tree" --no-print-directory gpu-check \
  GPU_PYTHON="$work/venv/bin/python" GPU_CHECK_ARGS=--dry
echo "results in $out"

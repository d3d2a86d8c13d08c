#!/usr/bin/env bash
# The GPU check: run on a machine with an NVIDIA GPU where numpy, pluggy, click, pytest,
# cupy (cupy-cuda12x or -13x) and, for the comparison, PyTorch with CUDA are installed.
#
#   OUT=/some/dir scripts/gpu_check.sh        (logs default to ./gpu-check-logs)
#
# 1. installs the gradloom packages in place (no dependency is fetched),
# 2. runs the GPU tests and the operator conformance suite on the gpu backend,
# 3. runs the CUDA package's host-side tests (plugin, wiring, kernels compiled for the host),
# 4. runs the GPU benchmark against PyTorch CUDA.
# Every step writes its log under "$OUT"; summary.txt holds one line per step. The exit
# status is non-zero when the installation or any step failed (the benchmark always runs,
# and its failure is reported too), and 3 when no GPU was usable (everything skipped).
set -u -o pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-check-logs}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PY="${PYTHON:-python3}"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
status=0

step() {   # step NAME LOGFILE TIMEOUT_S COMMAND...
    local name=$1 log=$2 limit=$3
    shift 3
    local start=$SECONDS
    timeout "$limit" "$@" > "$OUT/$log" 2>&1
    local rc=$?
    local line
    line=$(grep -E '(passed|failed|error|skipped|deselected)' "$OUT/$log" | tail -1)
    echo "$name: rc=$rc, $((SECONDS - start)) s ${line:+- $line}" | tee -a "$SUMMARY"
    return $rc
}

{
    date -u
    nvidia-smi || echo "nvidia-smi: not available"
    "$PY" --version
    "$PY" -c "import numpy, cupy; print('numpy', numpy.__version__, '| cupy', cupy.__version__, '| GPUs', cupy.cuda.runtime.getDeviceCount())"
    "$PY" -c "import torch; print('torch', torch.__version__, '| cuda', torch.cuda.is_available())" || true
} > "$OUT/env.log" 2>&1

step install install.log 300 "$PY" -m pip install --no-build-isolation --no-deps \
    -e packages/core -e packages/backend-cpu -e packages/backend-cuda -e packages/cli \
    || { cat "$OUT/install.log"; exit 1; }
"$PY" -c "from gradloom.plugins import load_plugins; print(load_plugins().backends.get('gpu').describe())" \
    2>&1 | tee -a "$OUT/env.log" "$SUMMARY"
gpu_usable=1
"$PY" -c "import sys; from gradloom.plugins import load_plugins; sys.exit(0 if load_plugins().backends.get('gpu').is_available() else 1)" \
    || gpu_usable=0

step "gpu tests + conformance on gpu" pytest_gpu.log 420 \
    "$PY" -m pytest -m gpu packages/backend-cuda/tests tests/conformance --backend gpu \
    -q -rfEs -p no:cacheprovider || status=1
step "cuda package host tests" pytest_host.log 240 \
    "$PY" -m pytest -m "not gpu" packages/backend-cuda/tests -q -rfEs -p no:cacheprovider \
    || status=1
step "benchmark" bench.log 360 "$PY" benchmarks/bench_gpu.py --seconds 1 --repeat 2 || status=1
cat "$OUT/bench.log"
if [ "$gpu_usable" = 0 ]; then
    # everything above skipped its GPU part: that is no GPU check, whatever the tests said
    echo "NO USABLE GPU: the GPU tests were skipped and nothing was measured" | tee -a "$SUMMARY"
    exit 3
fi
exit $status

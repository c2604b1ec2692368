#!/usr/bin/env bash
# The GPU check: the CUDA tests on the device, the CUDA benchmark and a per-kernel profile, in about 6 minutes.
#
#   scripts/gpu_check.sh --prepare    # here, once: fill .gpu/ (ignored by git, see below); needs pip's network
#   scripts/gpu_check.sh              # on the GPU machine, from the checkout's root
#   OUT=/tmp/out scripts/gpu_check.sh --simulator   # a dry run here: tiny sizes on Numba's CUDA simulator
#
# Through the device tool, after --prepare (.gpu travels only when carried; wsprox runs from the checkout):
#
#   run(command="bash scripts/gpu_check.sh", carry=[".gpu"], timeout_s=420)
#
# --prepare writes .gpu/: the cp312 manylinux wheels of numpy 2.4.6 and numba-cuda 0.30.4 (the device image's
# numpy 2.5 breaks numba-cuda 0.30.4) and gpu_profile.py (a copy of ../shared/tools/gpu_profile.py, or of
# $GPU_PROFILE), and adds /.gpu/ to .git/info/exclude. On the device the wheels are installed into /tmp/site,
# first on PYTHONPATH, then the checkout.
#
# Writes into $OUT (default: ./gpu_check_out), six files:
#   env.txt          the GPU, driver and library versions
#   pytest.txt       the CUDA tests on the device: tests/test_cuda.py, tests/test_cuda_grid.py and the CUDA tests
#                    of tests/test_torch.py (-k "cuda or gpu"; the simulator suite, which CI runs, deselected)
#   bench_cuda.txt   python -m wsprox.bench --backend cuda --methods auto --array torch: random normal input (one
#                    row of 1e4 .. 1e8 at lam 0.01 and 1, the batches 16x128, 4096x1024, 100000x100), every
#                    worst-case family at 1e4 .. 1e6, beside torch.sort, the authors' imminent collisions and the
#                    CPU; it ends with the goals, each marked met or not met
#   bench_cuda.json  its records and meta (first_call_cold_s, first_call_warm_s: the first call of a new process)
#   profile.txt      python gpu_profile.py: per kernel, where the time of a call goes (torch.profiler)
#   gpu_check.log    every step's exit status and seconds
# Every step runs under `timeout` (the limits add up to 360 s) and none past the deadline, so the script ends
# within about 6 minutes; a step that fails or times out is reported and the next one runs (the benchmark
# rewrites its JSON after every group, so a step cut short keeps what it measured). Exit status 0 when every
# step succeeded, else 1.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
GPU_DIR=.gpu
WHEELS="numpy==2.4.6 numba-cuda==0.30.4"
TAGS=(--only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64
      --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64
      --platform manylinux2014_x86_64)

if [ "${1:-}" = "--prepare" ]; then
    set -e
    mkdir -p "$GPU_DIR"
    rm -f "$GPU_DIR"/*.whl
    # shellcheck disable=SC2086  # one word per requirement
    "$PY" -m pip download --quiet --no-deps "${TAGS[@]}" -d "$GPU_DIR" $WHEELS
    cp -f "${GPU_PROFILE:-../shared/tools/gpu_profile.py}" "$GPU_DIR/gpu_profile.py"
    exclude=$(git rev-parse --git-path info/exclude)
    mkdir -p "$(dirname "$exclude")"
    grep -qxF "/$GPU_DIR/" "$exclude" 2>/dev/null || echo "/$GPU_DIR/" >>"$exclude"
    ls -l "$GPU_DIR"
    echo "gpu_check: prepared $GPU_DIR (ignored through $exclude); carry it: carry=[\"$GPU_DIR\"]"
    exit 0
fi

OUT=${OUT:-$PWD/gpu_check_out}
WORK=$(mktemp -d)
SITE=$WORK/site
mkdir -p "$OUT"
rm -f "$OUT"/{env.txt,pytest.txt,bench_cuda.txt,bench_cuda.json,profile.txt,gpu_check.log}
exec 2> >(tee -a "$OUT/gpu_check.log" >&2)  # the steps' verdicts, also in $OUT
export PYTHONUNBUFFERED=1

TESTS=(tests/test_cuda.py tests/test_cuda_grid.py tests/test_torch.py -k "cuda or gpu")
if [ "${1:-}" = "--simulator" ]; then
    export NUMBA_ENABLE_CUDASIM=1
    INSTALL=("${TAGS[@]}")  # checks that the wheels install for the device's Python; not used here
    TESTS+=(--collect-only)
    BENCH=(--sizes 8 --batches 2x8 --repeat 1 --inputs normal ties)
    PROFILE=(--help)          # it needs PyTorch with CUDA
    T_ENV=60 T_TESTS=120 T_BENCH=600 T_PROFILE=60 DEADLINE=900
else
    INSTALL=()
    BENCH=(--array torch)     # the default shapes, lams and inputs of --backend cuda
    PROFILE=(--sizes 1e4 1e6 1e7 --batches 16x128 4096x1024 --methods auto --dtype float32)
    T_ENV=20 T_TESTS=110 T_BENCH=185 T_PROFILE=45 DEADLINE=370
fi

status=0
step() {  # step NAME SECONDS FILE COMMAND...: COMMAND under timeout, its output appended to FILE
    local name=$1 limit=$2 file=$3 start=$SECONDS rc
    shift 3
    if [ $((DEADLINE - SECONDS - 5)) -lt "$limit" ]; then  # never past the deadline, whatever came before
        limit=$((DEADLINE - SECONDS - 5))
    fi
    if [ "$limit" -le 0 ]; then
        echo "gpu_check: $name: not run, no time left before the deadline of $DEADLINE s" >&2
        status=1
        return
    fi
    timeout -k 5 "$limit" "$@" >>"$file" 2>&1
    rc=$?
    echo "gpu_check: $name: exit $rc after $((SECONDS - start)) s (limit $limit s)" >&2
    [ "$rc" -eq 0 ] || status=1
}

if ls "$GPU_DIR"/*.whl >/dev/null 2>&1; then
    step "install the wheels" 30 "$OUT/gpu_check.log" "$PY" -m pip install -q --no-index --no-deps --no-compile \
        --no-cache-dir --upgrade --target "$SITE" "${INSTALL[@]}" "$GPU_DIR"/*.whl
else
    echo "gpu_check: no wheels in $GPU_DIR (run scripts/gpu_check.sh --prepare here and carry $GPU_DIR)" >&2
    status=1
fi
if [ "${1:-}" = "--simulator" ]; then
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi

cat >"$WORK/env.py" <<'EOF'
import importlib.metadata as metadata
import os
import platform

print("python", platform.python_version(), "on", platform.machine(), "with", os.cpu_count(), "CPUs")
for name in ("numpy", "numba", "numba-cuda", "cuda-bindings", "cuda-core", "torch", "cupy-cuda13x", "scipy"):
    try:
        print(name, metadata.version(name))
    except metadata.PackageNotFoundError:
        pass
import numba.cuda
import numpy

print("imported: numpy", numpy.__version__, "from", os.path.dirname(numpy.__file__))
print("numba.cuda.is_available():", numba.cuda.is_available(), "simulator:", numba.config.ENABLE_CUDASIM)
EOF
step env "$T_ENV" "$OUT/env.txt" \
    bash -c 'date -u; nvidia-smi || echo "nvidia-smi: not available"; "$1" "$2"' env "$PY" "$WORK/env.py"
step tests "$T_TESTS" "$OUT/pytest.txt" "$PY" -m pytest -q -p no:cacheprovider "${TESTS[@]}"
step bench "$T_BENCH" "$OUT/bench_cuda.txt" \
    "$PY" -m wsprox.bench --backend cuda --methods auto "${BENCH[@]}" --json "$OUT/bench_cuda.json"
if [ -f "$GPU_DIR/gpu_profile.py" ]; then
    step profile "$T_PROFILE" "$OUT/profile.txt" "$PY" "$GPU_DIR/gpu_profile.py" "${PROFILE[@]}"
else
    echo "gpu_check: profile: not run, no $GPU_DIR/gpu_profile.py (run scripts/gpu_check.sh --prepare)" >&2
    status=1
fi
rm -rf "$WORK"
echo "gpu_check: done in $SECONDS s, status $status; files in $OUT" >&2
exit "$status"

#!/usr/bin/env bash
# The GPU check (issue 13): the CUDA tests on the GPU, then the CUDA benchmark, in at most 8 minutes.
#
#   scripts/gpu_check.sh              # on a machine with a CUDA GPU
#   scripts/gpu_check.sh --simulator  # the same steps at tiny sizes on Numba's CUDA simulator (no GPU needed;
#                                     # the tests are only collected), to know the script runs
#
# Writes into $OUT (default: ./gpu_check_out):
#   env.txt          the GPU, driver and library versions
#   pytest.txt       python -m pytest -q tests/test_cuda.py tests/test_cuda_grid.py tests/test_torch.py, on the GPU
#   bench_cuda.txt   python -m wsprox.bench --backend cuda: random normal input (single rows 1e4 .. 1e8, the
#                    batches 16x128, 4096x1024, 100000x100, on every device array kind), then every
#                    worst-case family (1e4 .. 1e7, on torch tensors where torch has CUDA)
#   bench_cuda.json  the records of both benchmark steps: {"meta": [one per step], "records": [...]}
#   gpu_check.log    every step's exit status and seconds
# Every step runs under `timeout` (the limits add up to 455 s), none past 460 s from the start, and the
# merge of the JSON files takes at most 10 s more, so the whole script ends within 8 minutes. A step that fails or times out is reported and the next one
# runs; the benchmark rewrites its JSON after every group, so a step cut short keeps what it measured.
# Exit status 0 when every step succeeded, else 1.
#
# On the GPU the test of the simulator suite (tests/test_cuda.py::test_simulator_suite) is deselected: it
# needs no GPU, CI runs it, and it would take minutes of the eight. The interpreter is $PYTHON (default
# python3); if numba-cuda does not import with that image's numpy, carry a numpy it supports (see
# pyproject.toml's cap) and put it first on PYTHONPATH.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-$PWD/gpu_check_out}
PARTS=$(mktemp -d)
mkdir -p "$OUT"
rm -f "$OUT"/{env.txt,pytest.txt,bench_cuda.txt,bench_cuda.json,gpu_check.log}
exec 2> >(tee -a "$OUT/gpu_check.log" >&2)  # the steps' verdicts, also in $OUT
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

FAMILIES=$("$PY" -c "from wsprox.worstcase import FAMILIES; print(*FAMILIES)")
METHODS="auto pava end_collisions imminent_collisions search_collisions"
if [ "${1:-}" = "--simulator" ]; then
    export NUMBA_ENABLE_CUDASIM=1
    TESTS=(--collect-only)
    NORMAL=(--sizes 8 --batches 2x8 --repeat 1 --methods $METHODS)
    WORST=(--sizes 8 --repeat 1 --methods pava search_collisions --array numba)
    T_ENV=30 T_TESTS=120 T_NORMAL=600 T_WORST=900 DEADLINE=1800
else
    TESTS=(--deselect tests/test_cuda.py::test_simulator_suite)
    NORMAL=(--repeat 5 --budget 5 --methods $METHODS)  # the default shapes of --backend cuda
    ARRAY=$("$PY" -c "import torch; print('torch' if torch.cuda.is_available() else 'numba')" 2>/dev/null \
            || echo numba)
    WORST=(--sizes 1e4 1e5 1e6 1e7 --repeat 3 --budget 3 --methods $METHODS --array "$ARRAY")
    T_ENV=15 T_TESTS=150 T_NORMAL=170 T_WORST=120 DEADLINE=460
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

cat >"$PARTS/env.py" <<'EOF'
import importlib.metadata as metadata
import os
import platform

print("python", platform.python_version(), "on", platform.machine(), "with", os.cpu_count(), "CPUs")
for name in ("numpy", "numba", "numba-cuda", "torch", "cupy-cuda13x", "cupy-cuda12x", "scipy"):
    try:
        print(name, metadata.version(name))
    except metadata.PackageNotFoundError:
        pass
import numba.cuda

print("numba.cuda.is_available():", numba.cuda.is_available(), "simulator:", numba.config.ENABLE_CUDASIM)
EOF
step env "$T_ENV" "$OUT/env.txt" \
    bash -c 'date -u; nvidia-smi || echo "nvidia-smi: not available"; "$1" "$2"' env "$PY" "$PARTS/env.py"
step tests "$T_TESTS" "$OUT/pytest.txt" \
    "$PY" -m pytest -q -p no:cacheprovider "${TESTS[@]}" tests/test_cuda.py tests/test_cuda_grid.py tests/test_torch.py
step "bench normal" "$T_NORMAL" "$OUT/bench_cuda.txt" \
    "$PY" -m wsprox.bench --backend cuda --inputs normal "${NORMAL[@]}" --json "$PARTS/normal.json"
# shellcheck disable=SC2086  # one word per family
step "bench worst cases" "$T_WORST" "$OUT/bench_cuda.txt" \
    "$PY" -m wsprox.bench --backend cuda --inputs $FAMILIES "${WORST[@]}" --json "$PARTS/worst.json"
timeout -k 2 8 "$PY" - "$OUT/bench_cuda.json" "$PARTS/normal.json" "$PARTS/worst.json" <<'EOF' || status=1
import json, sys

target, parts = sys.argv[1], sys.argv[2:]
metas, records = [], []
for part in parts:
    try:
        with open(part) as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        print(f"gpu_check: {part}: {exc}", file=sys.stderr)
        continue
    metas.append(data["meta"])
    records += data["records"]
with open(target, "w") as f:
    json.dump({"meta": metas, "records": records}, f, indent=1)
print(f"gpu_check: {len(records)} records in {target}", file=sys.stderr)
EOF
rm -rf "$PARTS"
echo "gpu_check: done in $SECONDS s, status $status; files in $OUT" >&2
exit "$status"

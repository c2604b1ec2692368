"""The benchmark and the worst-case families it runs, on tiny sizes (no timing assertions)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import wsprox
from wsprox.bench import main, scipy_prox, time_call
from wsprox.worstcase import FAMILIES, growing_cluster, huge, naive_pava_quadratic, tiny

ROOT = Path(__file__).resolve().parent.parent
DTYPES = ("float32", "float64")
#: The keys of every record, on every backend.
KEYS = {"backend", "method", "array", "threads", "input", "dtype", "rows", "d", "lam", "median_ms", "floor", "floor_ms",
        "ratio_to_floor", "speedup_over_scipy"}


def _records(path):
    records = json.loads(Path(path).read_text())["records"]
    assert records and all(set(r) == KEYS for r in records)
    return records


def test_main_writes_every_case(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["--quick", "--sizes", "50", "200", "--repeat", "1", "--inputs", "normal",
                 "--json", str(path)]) == 0
    records = _records(path)
    cases = {r["method"] for r in records}
    assert {"numpy.sort[f64]", "numpy.argsort", "scipy"} <= cases
    for method in wsprox.cpu.SOLVERS:
        assert {method, method + "+warm"} <= cases
    assert {(r["dtype"], r["d"]) for r in records} == {(t, d) for t in DTYPES for d in (50, 200)}
    assert {(r["backend"], r["array"], r["floor"]) for r in records} == {("cpu", "numpy", "numpy.sort[f64]")}
    assert all(r["median_ms"] > 0 for r in records)
    for r in records:  # the floor of a record is the numpy.sort record of its group
        floor = next(f for f in records if f["method"] == "numpy.sort[f64]"
                     and (f["dtype"], f["d"]) == (r["dtype"], r["d"]))
        assert r["floor_ms"] == floor["median_ms"]
        assert r["ratio_to_floor"] == pytest.approx(r["median_ms"] / r["floor_ms"])
    assert "scipy" in capsys.readouterr().out


def test_every_family_runs_at_every_dtype(tmp_path, capsys):
    # The huge family used to overflow when cast to float32, and the run stopped there.
    path = tmp_path / "bench.json"
    assert main(["--quick", "--sizes", "50", "300", "--repeat", "1", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    timed = {(r["input"], r["dtype"], r["d"]) for r in _records(path)}
    for name in ["normal", *FAMILIES]:
        for dtype in DTYPES:
            assert (name, dtype, 50) in timed, (name, dtype)
            assert (name, dtype, 300) in timed or f"{name} {dtype} d=300: skipped (" in out, (name, dtype)
    # float32 cannot hold growing_cluster's integers at d = 300: skipped, with the reason.
    assert ("growing_cluster", "float32", 300) not in timed
    assert "growing_cluster float32 d=300: skipped (growing_cluster(d=300) is made of integers" in out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_families_are_generated_for_the_dtype(name, dtype):
    w, lam = FAMILIES[name](64, dtype=dtype)
    assert w.dtype == dtype and w.shape == (64,) and np.isfinite(w).all()
    assert np.isfinite(lam) and lam >= 0
    x = wsprox.prox(w, lam)
    assert x.dtype == dtype and np.isfinite(x).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_and_tiny_stay_near_the_ends_of_the_dtypes_range(dtype):
    info = np.finfo(dtype)
    d = 10**8  # the largest size benchmarked: velocity steps 2 lam / (d - 1)
    # Far out on the exponent scale (float64: 1e150, float32: 1e30 against 3e38), yet:
    w, lam = huge(1000, dtype=dtype)
    assert np.isfinite(w).all() and np.abs(w).max() > info.max ** 0.45 and lam > info.max ** 0.45
    assert np.abs(w.astype(np.float64)).mean() * d < info.max  # sums of d such values stay finite
    w, lam = tiny(1000, dtype=dtype)
    assert np.abs(w).max() < info.tiny ** 0.45 and lam < info.tiny ** 0.45
    assert np.abs(w).min() > info.tiny and 2 * lam / (d - 1) > info.tiny  # normal numbers, not flushed


def test_integer_families_refuse_sizes_the_dtype_cannot_hold():
    w32, lam32 = growing_cluster(256, dtype="float32")
    w64, lam64 = growing_cluster(256)
    assert np.array_equal(w32, w64) and lam32 == lam64
    assert wsprox.prox_result(w32, lam32, method="imminent_collisions").rounds == 256  # still itself
    with pytest.raises(ValueError, match=r"growing_cluster\(d=257\).*float32"):
        growing_cluster(257, dtype="float32")
    with pytest.raises(ValueError, match="float64"):  # int64 overflowed here: values wrapped around
        growing_cluster(10**7)
    with pytest.raises(ValueError, match="float32"):
        naive_pava_quadratic(10**8, dtype="float32")


def test_family_dtype_is_validated():
    with pytest.raises(ValueError, match="dtype must be float32 or float64, got int64"):
        huge(4, dtype="int64")
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        tiny(4, dtype="bogus")


def test_batches_time_every_method_without_the_vector_baselines(tmp_path):
    path = tmp_path / "bench.json"
    assert main(["--quick", "--sizes", "40", "--rows", "3", "--batches", "2x30", "--repeat", "1",
                 "--inputs", "normal", "--dtype", "float32", "--json", str(path)]) == 0
    records = _records(path)
    cases = {r["method"] for r in records}
    assert set(wsprox.cpu.SOLVERS) <= cases and "numpy.sort[f64]" in cases
    assert "scipy" not in cases
    assert {(r["rows"], r["d"]) for r in records} == {(3, 40), (2, 30)}


def test_scipy_pipeline_is_the_prox():
    w = np.random.default_rng(0).standard_normal(300)
    np.testing.assert_allclose(scipy_prox(w, 0.3), wsprox.prox(w, 0.3), rtol=0, atol=1e-12)


def test_time_call_synchronises_before_and_after_every_timed_call():
    events = []
    seconds = time_call(lambda: events.append("call"), [()] * 4, sync=lambda: events.append("sync"))
    assert seconds >= 0
    assert events == ["call"] + ["sync", "call", "sync"] * 3  # one untimed call, then three timed


def test_cuda_backend_runs_or_fails_cleanly(capsys):
    from numba import cuda

    argv = ["--quick", "--sizes", "64", "--repeat", "1", "--backend", "cuda", "--no-baselines",
            "--inputs", "normal", "--dtype", "float64", "--methods", "pava"]
    if cuda.is_available():  # a GPU, or the simulator
        assert main(argv) == 0
        assert "pava" in capsys.readouterr().out
    else:
        assert main(argv) == 2
        assert "not usable" in capsys.readouterr().err


def test_budget_skips_methods_projected_too_slow(tmp_path, capsys):
    # Growing sizes 100-fold: a zero budget keeps only the first size's timings.
    path = tmp_path / "bench.json"
    assert main(["--sizes", "50", "5000", "--repeat", "1", "--inputs", "normal", "--dtype", "float64",
                 "--no-baselines", "--budget", "0", "--json", str(path)]) == 0
    records = _records(path)
    assert {r["d"] for r in records} == {50}
    assert all(r["floor_ms"] is None for r in records)
    assert "skipped, projected over --budget 0 s" in capsys.readouterr().out


def run_simulated(code):
    """Run ``code`` in a fresh Python on Numba's CUDA simulator; its last line of stdout, as JSON."""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return json.loads(proc.stdout.splitlines()[-1])


#: Records every call of the front door: the kind of array it got, the method and the backend.
SPY = """
import json, sys
import numpy as np
import wsprox
front, seen = wsprox.prox, []
def spy(w, *args, **kwargs):
    seen.append([type(w).__module__.partition(".")[0], kwargs.get("method"), kwargs.get("backend")])
    return front(w, *args, **kwargs)
wsprox.prox = spy
"""


def test_cuda_bench_times_the_front_door_on_device_arrays(tmp_path):
    path = tmp_path / "bench.json"
    code = SPY + f"""
from wsprox.bench import main
rc_torch = main(["--backend", "cuda", "--array", "torch", "--sizes", "4", "--inputs", "normal"])
rc = main(["--backend", "cuda", "--sizes", "4", "--batches", "2x4", "--repeat", "1", "--inputs", "normal",
           "--dtype", "float64", "--methods", "pava", "--json", {str(path)!r}])
print(json.dumps({{"rc": rc, "rc_torch": rc_torch, "seen": seen}}))
"""
    result = run_simulated(code)
    assert result["rc"] == 0
    assert result["rc_torch"] == 2  # the simulator takes Numba device arrays only: a clear refusal
    assert ["numba", "pava", "cuda"] in result["seen"]  # wsprox.prox on a Numba device array
    assert ["numpy", "pava", "cuda"] not in result["seen"]  # never the host copy through the CUDA backend
    records = _records(path)
    floor = [r for r in records if r["method"] == "wsprox.cuda.sort.rank_rows"]
    assert {(r["backend"], r["array"], r["rows"]) for r in floor} == {("cuda", "numba", 1), ("cuda", "numba", 2)}
    timed = {(r["backend"], r["method"], r["array"], r["rows"], r["d"]) for r in records}
    assert {("cuda", "pava", "numba", 1, 4), ("cuda", "pava", "numba", 2, 4),
            ("cpu", "auto", "numpy", 1, 4), ("cpu", "auto", "numpy", 2, 4)} <= timed
    for r in records:
        group_floor = next(f for f in floor if f["rows"] == r["rows"])
        assert r["floor"] == "wsprox.cuda.sort.rank_rows" and r["floor_ms"] == group_floor["median_ms"]


def test_runtime_figure_times_cuda_through_the_front_door_and_time_cuda():
    pytest.importorskip("matplotlib")
    pytest.importorskip("tqdm")
    code = SPY + """
from paper_figures.runtime import _contenders
from wsprox.bench import time_cuda
from wsprox import cuda
contenders = _contenders(True)
prepare, fn, timer = contenders["cuda pava"]
x = prepare(np.random.default_rng(0).standard_normal(8))
seconds = timer(fn, [(x, 0.1)] * 2)
print(json.dumps({"cuda": sorted(k for k in contenders if k.startswith("cuda")),
                  "expected": sorted(f"cuda {m}" for m in cuda.SOLVERS),
                  "time_cuda": timer is time_cuda, "seconds": seconds, "seen": seen}))
"""
    result = run_simulated(code)
    assert result["cuda"] == result["expected"]
    assert result["time_cuda"] and result["seconds"] > 0
    assert result["seen"] and all(s[0] == "numba" and s[1] == "pava" for s in result["seen"])


def test_small_threads_and_load_print_the_goals(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["--small", "--quick", "--repeat", "1", "--inputs", "normal", "--dtype", "float64",
                 "--methods", "pava", "--threads", "1", "2", "--load", "1", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    records = data["records"]
    assert data["meta"]["threads"] == [1, 2] and data["meta"]["load"] == 1
    assert {r["d"] for r in records} == {10, 30, 100, 300, 1000, 3000, 10_000}
    assert {r["threads"] for r in records if r["method"] == "pava"} == {1, 2}
    out = capsys.readouterr().out
    assert "goals (pava, cold):" in out and "d=10 float64 @1t:" in out and "2 threads" in out

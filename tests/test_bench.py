"""The benchmark, its baselines and the worst-case families it runs, on tiny sizes (no timing assertions)."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import wsprox
from wsprox.bench import main, scipy_prox, time_call
from wsprox.bench.cli import _parser, _shapes
from wsprox.bench.goals import cpu_goals, cuda_goals
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
    torch = importlib.util.find_spec("torch") is not None
    assert ("authors" in cases) == torch  # the authors' imminent collisions, on PyTorch CPU tensors
    assert {(r["backend"], r["array"], r["floor"]) for r in records} == {
        ("cpu", "numpy", "numpy.sort[f64]"), *([("cpu", "torch", "numpy.sort[f64]")] if torch else [])}
    assert all(r["array"] == "torch" for r in records if r["method"] == "authors")
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


def test_time_call_back_to_back_synchronises_once_around_the_calls():
    events = []
    seconds = time_call(lambda: events.append("call"), [()] * 4, sync=lambda: events.append("sync"),
                        back_to_back=True)
    assert seconds >= 0
    assert events == ["call", "sync", "call", "call", "call", "sync"]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("lam", [0.0, 0.01, 0.5, 20.0])
@pytest.mark.parametrize("d", [1, 2, 3, 10, 257])
def test_authors_imminent_collisions_are_the_prox(seed, lam, d):
    torch = pytest.importorskip("torch")
    from wsprox.bench.authors import authors_prox

    w = np.random.default_rng(seed).standard_normal(d)
    for l1 in (0.0, 0.3):
        got = authors_prox(torch.from_numpy(w), lam, l1=l1)
        assert got.dtype == torch.float64 and got.shape == (d,)
        np.testing.assert_allclose(got.numpy(), wsprox.prox(w, lam, l1=l1), rtol=0, atol=1e-6)


@pytest.mark.parametrize("d", [5, 64, 300])
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_authors_imminent_collisions_on_the_worst_cases(name, d):
    # The prox to 1e-6 of the scale, and the rounds of this library's imminent collisions: the same algorithm.
    torch = pytest.importorskip("torch")
    from wsprox.bench.authors import authors_prox, collide

    w, lam = FAMILIES[name](d)
    scale = max(np.abs(w).max(), lam)
    want = wsprox.prox_result(w, lam, method="imminent_collisions")
    np.testing.assert_allclose(authors_prox(torch.from_numpy(w), lam).numpy(), want.x, rtol=0, atol=1e-6 * scale)
    assert collide(torch.sort(torch.from_numpy(w)).values, lam)[1] == want.rounds
    if name == "growing_cluster":
        assert want.rounds == d  # one particle absorbed per round


def test_authors_imminent_collisions_in_float32():
    torch = pytest.importorskip("torch")
    from wsprox.bench.authors import authors_prox

    w = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    got = authors_prox(torch.from_numpy(w), 0.3)
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), wsprox.prox(w, 0.3), rtol=0, atol=1e-5)


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
    data = json.loads(path.read_text())
    assert data["meta"]["first_call_cold_s"] > 0 and data["meta"]["first_call_warm_s"] > 0
    records = _records(path)
    floor = [r for r in records if r["method"] == "wsprox.cuda.sort.rank_rows"]
    groups = {(rows, lam) for rows in (1, 2) for lam in (0.01, 1.0)}  # random normal at both lams by default
    assert {(r["backend"], r["array"], r["rows"], r["lam"]) for r in floor} == {("cuda", "numba", *g) for g in groups}
    timed = {(r["backend"], r["method"], r["array"], r["rows"], r["d"]) for r in records}
    assert {("cuda", "pava", "numba", 1, 4), ("cuda", "pava", "numba", 2, 4),
            ("cuda", "pava+back_to_back", "numba", 1, 4), ("cuda", "pava+back_to_back", "numba", 2, 4),
            ("cpu", "auto", "numpy", 1, 4), ("cpu", "auto", "numpy", 2, 4)} <= timed
    assert not any(r["method"] == "authors" for r in records)  # PyTorch has no CUDA here
    for r in records:
        group_floor = next(f for f in floor if (f["rows"], f["lam"]) == (r["rows"], r["lam"]))
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
    assert "goals (pava):" in out and "d=10 float64 @1t:" in out and "2 threads" in out
    assert "issue" not in out.lower()  # the output speaks of goals


def test_warm_start_times_warm_against_cold_at_every_size(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["--warm-start", "--quick", "--repeat", "1", "--inputs", "normal", "--dtype", "float32",
                 "--methods", "auto", "--no-baselines", "--json", str(path)]) == 0
    records = _records(path)
    assert {(r["method"], r["d"]) for r in records} == {(m, d) for m in ("auto", "auto+warm")
                                                         for d in (10, 100, 1000, 10_000)}
    out = capsys.readouterr().out
    for d in (10, 100, 1000, 10_000):
        assert f"d={d if d < 10_000 else '1e+04'} float32: warm " in out


def test_default_shapes_put_the_worst_cases_at_1e5_and_1e6_on_cuda():
    args = _parser().parse_args(["--backend", "cuda"])
    assert _shapes(args, family=True) == [(1, 10**4), (1, 10**5), (1, 10**6)]
    assert (1, 10**8) in _shapes(args, family=False) and (16, 128) in _shapes(args, family=False)
    args = _parser().parse_args(["--backend", "cuda", "--sizes", "300"])
    assert _shapes(args, family=True) == _shapes(args, family=False) == [(1, 300)]
    args = _parser().parse_args([])
    assert _shapes(args, family=True) == _shapes(args, family=False) == [(1, 10**k) for k in range(3, 8)]


def _record(**fields):
    return {"backend": "cuda", "method": "auto", "input": "normal", "dtype": "float32", "array": "torch", "rows": 1,
            "d": 10**6, "lam": 0.01, "floor": "torch.sort", "median_ms": 1.0, "ratio_to_floor": 1.0, "threads": None,
            **fields}


def test_cuda_goals_name_every_goal():
    records = [
        _record(d=10**6, ratio_to_floor=2.5), _record(d=10**6, method="authors", median_ms=2.0),
        _record(d=10**7, ratio_to_floor=4.0, median_ms=2.0), _record(d=10**7, method="authors", median_ms=1.0),
        _record(d=10**7, backend="cpu", array="numpy", median_ms=100.0),
        _record(d=10**4, median_ms=0.3), _record(d=10**4, method="auto+back_to_back", median_ms=0.1),
        _record(input="ties", d=10**5, lam=5.0, ratio_to_floor=9.0),
        _record(input="ties", d=10**4, lam=5.0, ratio_to_floor=50.0),  # no goal at 1e4
        _record(rows=4096, d=1024, ratio_to_floor=2.1), _record(rows=100_000, d=100, ratio_to_floor=1.5),
        _record(rows=16, d=128, median_ms=0.15), _record(rows=16, d=128, method="auto+back_to_back", median_ms=0.12),
        _record(d=10**6, method="pava", ratio_to_floor=100.0),  # not auto: no goal
    ]
    lines = cuda_goals(records)
    assert lines == [
        "[met] normal float32 [torch] d=1e+06 lam=0.01: auto 2.50x torch.sort (goal <= 3)",
        ("[met] normal float32 [torch] d=1e+06 lam=0.01: auto 2.00x faster than the authors' imminent collisions "
         "(goal > 1)"),
        "[not met] normal float32 [torch] d=1e+07 lam=0.01: auto 4.00x torch.sort (goal <= 3)",
        ("[not met] normal float32 [torch] d=1e+07 lam=0.01: auto 0.50x faster than the authors' imminent "
         "collisions (goal > 1)"),
        "[met] normal float32 [torch] d=1e+07 lam=0.01: auto 50.0x faster than this library's CPU path (goal >= 20)",
        "[not met] normal float32 [torch] d=1e+04 lam=0.01: auto 0.300 ms a call, synchronised (goal <= 0.2)",
        "[met] ties float32 [torch] d=1e+05 lam=5: auto 9.00x torch.sort (goal <= 10)",
        "[not met] normal float32 [torch] 4096x1024 lam=0.01: auto 2.10x torch.sort (goal <= 2)",
        "[met] normal float32 [torch] 100000x100 lam=0.01: auto 1.50x torch.sort (goal <= 2)",
        "[met] normal float32 [torch] 16x128 lam=0.01: auto 0.150 ms a call, synchronised (goal <= 0.2)",
        "[not met] normal float32 [torch] 16x128 lam=0.01: auto 0.120 ms a call back to back (goal <= 0.1)",
    ]


def test_cpu_goals_compare_warm_with_cold():
    records = [{"input": "normal", "dtype": "float64", "rows": 1, "d": d, "lam": 0.01, "threads": None, "method": m,
                "median_ms": ms, "ratio_to_floor": None, "speedup_over_scipy": None}
               for d, m, ms in [(10**5, "pava", 2.0), (10**5, "pava+warm", 1.0), (10**6, "pava+warm", 3.0)]]
    assert cpu_goals(records, "pava", None) == ["[met] d=1e+05 float64: warm 0.50x the cold call's time (goal <= 1)"]

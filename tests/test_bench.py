"""The benchmark runs end to end on tiny sizes (no timing assertions)."""
import json

import wsprox
from wsprox.bench import main, scipy_prox


def test_main_writes_every_case(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["--quick", "--sizes", "50", "200", "--repeat", "1", "--inputs", "normal",
                 "--json", str(path)]) == 0
    records = json.loads(path.read_text())["records"]
    cases = {r["case"] for r in records}
    assert {"numpy.sort[f64]", "numpy.argsort", "scipy"} <= cases
    for method in wsprox.cpu.SOLVERS:
        assert {method, method + "+warm"} <= cases
    assert {(r["dtype"], r["d"]) for r in records} == {(t, d) for t in ("float32", "float64")
                                                       for d in (50, 200)}
    assert all(r["seconds"] > 0 for r in records)
    assert "scipy" in capsys.readouterr().out


def test_batches_time_every_method_without_the_vector_baselines(tmp_path):
    path = tmp_path / "bench.json"
    assert main(["--quick", "--sizes", "40", "--rows", "3", "--repeat", "1", "--inputs", "normal",
                 "--dtype", "float32", "--json", str(path)]) == 0
    records = json.loads(path.read_text())["records"]
    cases = {r["case"] for r in records}
    assert set(wsprox.cpu.SOLVERS) <= cases and "numpy.sort[f64]" in cases
    assert "scipy" not in cases
    assert {r["rows"] for r in records} == {3}


def test_scipy_pipeline_is_the_prox():
    import numpy as np

    w = np.random.default_rng(0).standard_normal(300)
    np.testing.assert_allclose(scipy_prox(w, 0.3), wsprox.prox(w, 0.3), rtol=0, atol=1e-12)


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
    records = json.loads(path.read_text())["records"]
    assert {r["d"] for r in records} == {50}
    assert "skipped, projected over --budget 0 s" in capsys.readouterr().out

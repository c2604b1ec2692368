"""paper_figures: the cheap pieces on tiny sizes (CI runs ``python -m paper_figures --quick`` itself)."""
import json

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

import wsprox
from paper_figures import FIGURES, figure
from paper_figures.__main__ import main
from paper_figures._inputs import grow
from paper_figures.particles import collapse_threshold
from paper_figures.runtime import scipy_prox


def test_particles_figure_writes_files_and_its_checks_hold(tmp_path, capsys):
    assert main(["--only", "particles", "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"particles.png", "particles.csv", "particles.json"}
    data = json.loads((tmp_path / "particles.json").read_text())
    assert data["checks"]["max |x(1) - prox(w, lam)|"] < 1e-12
    assert data["checks"]["max over t |x(t) - prox(w, t lam)|"] < 1e-12
    assert data["checks"]["clusters at t=1"] == data["checks"]["clusters of prox_result"]
    assert data["events"], "the figure's lam must make particles collide"
    assert "particles.png" in capsys.readouterr().out


@pytest.mark.parametrize("seed", range(5))
def test_collapse_threshold_is_where_all_weights_merge(seed):
    w = np.random.default_rng(seed).normal(size=20)
    lam = collapse_threshold(w)
    assert np.ptp(wsprox.prox(w, lam * (1 + 1e-9))) < 1e-9
    assert np.ptp(wsprox.prox(w, lam * (1 - 1e-3))) > 1e-6


@pytest.mark.parametrize("lam", [0.0, 0.1, 3.0])
def test_scipy_pipeline_is_the_prox(lam):
    w = np.random.default_rng(1).normal(size=50)
    np.testing.assert_allclose(scipy_prox(w, lam), wsprox.prox(w, lam), atol=1e-12)


def test_grow_stops_quadratic_costs_before_the_budget():
    linear = [(100, 0.01), (1000, 0.1)]
    quadratic = [(100, 0.01), (1000, 1.0)]
    assert grow(linear, 10_000, budget=2.0)
    assert not grow(quadratic, 10_000, budget=2.0)
    assert grow([], 10**9, budget=0.0)


def test_every_figure_module_has_the_interface():
    for name in FIGURES:
        module = figure(name)
        assert module.NAME == name and module.SHOWS and callable(module.make)
    with pytest.raises(ValueError, match="unknown figure"):
        figure("nope")


def test_torus_digits_are_whole_shifted_digits():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    from paper_figures.shuffled_pixels import SIDE, Config, torus_digits

    config = Config(train_copies=2, test_copies=1, n_test_digits=50)
    X_train, y_train, X_test, _ = torus_digits(config)
    n = len(load_digits().target)
    assert X_train.shape == (2 * (n - 50), SIDE * SIDE) and X_test.shape == (50, SIDE * SIDE)
    assert X_train.dtype == np.float32 and y_train.shape == (X_train.shape[0],)
    # a circular shift moves the 8x8 digit without cutting it: every image keeps its ink,
    # and the two copies of a training digit are the same digit at (usually) different shifts
    images = load_digits().images / 16.0
    sums = np.sort(images.reshape(n, -1).sum(axis=1))
    assert np.all(np.isin(np.round(X_train.sum(axis=1), 4), np.round(sums, 4)))
    half = n - 50
    np.testing.assert_allclose(X_train[:half].sum(axis=1), X_train[half:].sum(axis=1), rtol=1e-5)
    np.testing.assert_array_equal(y_train[:half], y_train[half:])
    assert not np.array_equal(X_train[:half], X_train[half:])

"""The lam path: its events are where wsprox.prox merges clusters, its threshold is the formula's."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_optimize import least_squares, solve_cvxpy

import wsprox
from conftest import vectors
from wsprox.path import collapse_threshold, prox_path, solution_path
from wsprox.physics import trajectories
from wsprox.reference import prox_exact


def inputs():
    rng = np.random.default_rng(0)
    yield rng.standard_normal(30)
    yield rng.uniform(-5, 5, size=25)
    yield np.repeat(rng.standard_normal(6), 3)              # ties: merged at lam = 0
    yield np.r_[np.arange(8.0), np.arange(-7.0, 8.0), np.arange(-7.0, 1.0)]   # PAVA's worst case
    yield np.array([4.0])
    yield np.array([2.0, 2.0])


def event_groups(path):
    """The events as (first, last) lams, those within rounding (1e-12 relative) of each other one
    group: rounding splits an exact event in which several boundaries merge into nearby lams."""
    events = path.lams
    new = np.ones(events.size, dtype=bool)
    new[1:] = np.diff(events) > 1e-12 * events[1:]
    first = np.flatnonzero(new)
    last = np.append(first[1:], events.size)[:first.size] - 1
    return events[first], events[last]


@pytest.mark.parametrize("w", list(inputs()), ids=lambda w: f"d{w.size}")
def test_cluster_counts_match_the_prox_at_and_between_the_events(w):
    path = prox_path(w)
    first, last = event_groups(path)
    mids = np.concatenate(([0.0], (last[:-1] + first[1:]) / 2, [2 * path.collapse_lam + 1.0]))
    # Between events the count is unambiguous and the prox agrees in value too.
    for lam in mids:
        res = wsprox.prox_result(w, lam)
        assert path.n_clusters(lam) == res.n_clusters, lam
        np.testing.assert_array_equal(path.labels(lam), res.labels)
        np.testing.assert_allclose(path.prox(lam), res.x, rtol=1e-12, atol=1e-12 * (1 + np.abs(w).max()))
    # At an event the clusters that meet count as one: just after it (relative 1e-9, the
    # events being further apart than that) the prox has merged them, just before not yet.
    assert np.all(first[1:] > (1 + 1e-6) * last[:-1])
    for lo, hi in zip(first, last, strict=True):
        if hi == 0.0:
            assert path.n_clusters(0.0) == np.unique(w).size
            continue
        before = path.n_clusters(np.nextafter(lo, 0))
        assert path.n_clusters(hi) == wsprox.prox_result(w, hi * (1 + 1e-9)).n_clusters < before
        assert before == wsprox.prox_result(w, lo * (1 - 1e-9)).n_clusters
        assert before - path.n_clusters(hi) == np.sum((path.merge_lams >= lo) & (path.merge_lams <= hi))


@given(vectors(min_size=1, max_size=30))
def test_events_are_exact_against_the_rational_oracle(w):
    path = prox_path(w)
    assert path.merge_lams.shape == (w.size - 1,)
    assert np.all(path.merge_lams >= 0)
    for lam in path.lams[:5]:
        # Just beyond an event, the exact prox has no more clusters than the path counts,
        # and the positions of the path are the exact prox.
        above = lam * (1 + 1e-7) + 1e-12
        exact = prox_exact(w, above)
        assert np.unique(exact).size <= path.n_clusters(above)
        scale = 1 + np.abs(w).max() + above
        np.testing.assert_allclose(path.prox(above), exact, atol=1e-9 * scale)


def test_matches_the_python_simulation():
    w = np.random.default_rng(1).standard_normal(300)
    w[:40] = w[40:80]
    expected = trajectories(w, 1.0, t_max=1e300).boundary_times
    np.testing.assert_allclose(prox_path(w).merge_lams, expected, rtol=1e-12, atol=1e-15)


@given(vectors(min_size=1, max_size=40))
def test_collapse_threshold_is_the_last_merge_and_the_formula(w):
    d = w.size
    x = np.sort(w)
    formula = max([(d - 1) * (x.mean() - x[:k].mean()) / (d - k) for k in range(1, d)], default=0.0)
    threshold = collapse_threshold(w)
    scale = 1e-12 * (1 + np.abs(w).max()) * d
    assert threshold == pytest.approx(max(formula, 0.0), abs=scale)
    assert prox_path(w).collapse_lam == pytest.approx(threshold, abs=scale)


@pytest.mark.parametrize("seed", range(3))
def test_collapse_threshold_is_where_the_prox_collapses(seed):
    w = np.random.default_rng(seed).standard_normal(50)
    lam = collapse_threshold(w)
    assert wsprox.prox_result(w, lam * (1 + 1e-9)).n_clusters == 1
    assert wsprox.prox_result(w, lam * (1 - 1e-9)).n_clusters == 2


@given(vectors(min_size=2, max_size=30), st.integers(1, 30))
def test_lam_for_clusters(w, k):
    path = prox_path(w)
    lam = path.lam_for_clusters(k)
    assert path.n_clusters(lam) <= k
    if lam > 0:
        assert path.n_clusters(np.nextafter(lam, 0)) > k   # the smallest such lam


def test_vectorised_counts_and_bad_input():
    path = prox_path([0.0, 1.0, 10.0])
    np.testing.assert_array_equal(path.n_clusters(np.array([[0.0, 1.0], [5.0, 7.0]])), [[3, 2], [2, 1]])
    with pytest.raises(ValueError, match="empty"):
        prox_path([])
    with pytest.raises(ValueError, match="empty"):
        collapse_threshold([])
    with pytest.raises(ValueError):
        prox_path([1.0, np.nan])
    with pytest.raises(TypeError):
        prox_path([1j])
    with pytest.raises(ValueError, match="n_clusters"):
        path.lam_for_clusters(0)
    with pytest.raises(ValueError, match="lam"):
        path.labels(-1.0)


def test_solution_path_is_warm_started_and_exact():
    fun_and_grad, loss, d = least_squares(0, d=10)
    lams = np.geomspace(2.0, 0.01, 10)[[3, 0, 9, 1, 2, 4, 5, 6, 7, 8]]     # any order
    calls = []

    def counting(x):
        calls.append(1)
        return fun_and_grad(x)

    sp = solution_path(counting, np.zeros(d), lams, tol=1e-10)
    assert sp.success and sp.x.shape == (10, d)
    np.testing.assert_array_equal(sp.lams, lams)
    for i, lam in enumerate(lams):
        np.testing.assert_allclose(sp.x[i], solve_cvxpy(loss, d, lam, 0.0), atol=1e-6)
        assert sp.n_clusters[i] == np.unique(sp.x[i]).size
    # (Unlike the prox's, the solution's clusters may split as lam grows; not by much here.)
    assert sp.n_clusters[lams.argmax()] < sp.n_clusters[lams.argmin()]
    # Warm starts: the path costs fewer evaluations than cold solves of every lam.
    cold = sum(wsprox.optimize.minimize_composite(fun_and_grad, np.zeros(d), lam, tol=1e-10).nfev for lam in lams)
    assert len(calls) < cold
    with pytest.raises(ValueError, match="lams"):
        solution_path(fun_and_grad, np.zeros(d), [])
    with pytest.raises(ValueError, match="lams"):
        solution_path(fun_and_grad, np.zeros(d), [0.1, -1.0])


def test_huge_inputs_do_not_overflow():
    # The merge lams are homogeneous in w: those of huge inputs are those of their scaled copy.
    w = np.array([-1.5, 1.0, 1.7, 0.3, 1.0])
    big = np.ldexp(w, 1021)                       # up to 1.7 * 2**1021: the sums of 5 would overflow
    lams = prox_path(big).merge_lams
    assert np.all(np.isfinite(lams))
    np.testing.assert_array_equal(lams, np.ldexp(prox_path(w).merge_lams, 1021))
    # Two particles 3.4e308 apart (the gap itself overflows) meet at lam = gap / 2.
    assert prox_path(np.array([-1.7e308, 1.7e308])).merge_lams.tolist() == [1.7e308]


def test_huge_values_do_not_overflow_the_threshold_or_the_path_prox():
    w = [1e308] * 3 + [-1e308]
    assert collapse_threshold(w) == pytest.approx(1.5e308, rel=1e-12)
    assert prox_path(w).collapse_lam == pytest.approx(1.5e308, rel=1e-12)
    np.testing.assert_array_equal(prox_path([1e308, 1e308]).prox(0.0), [1e308, 1e308])
    big = np.array([1.7e308, -1.7e308, 1e308, 3.0])
    np.testing.assert_allclose(prox_path(big).prox(1e307), wsprox.prox(big, 1e307), rtol=1e-12)


@pytest.mark.parametrize("lam, error", [(float("nan"), ValueError), (-1.0, ValueError),
                                        ([0.5, float("inf")], ValueError), ([1.0, -2.0], ValueError),
                                        (True, TypeError), ("1", TypeError)])
def test_n_clusters_refuses_what_prox_refuses(lam, error):
    path = prox_path([0.0, 1.0, 10.0])
    with pytest.raises(error, match="lam"):
        path.n_clusters(lam)
    if np.ndim(lam) == 0:
        with pytest.raises(error, match="lam"):
            path.prox(lam)

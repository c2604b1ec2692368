"""The optimality certificate: exact, and it tells right answers from wrong ones."""
import cvxpy as cp
import numpy as np
import pytest
from conftest import lams, vectors
from hypothesis import assume, given
from hypothesis import strategies as st

import wsprox
from wsprox.penalty import sorted_weights
from wsprox.reference import prox_cvxpy, prox_exact


def residual_by_cvxpy(w, x, lam, l1):
    """dist(w - x, lam dR(x) + l1 d|x|_1) as a conic program, cluster by cluster."""
    d = w.size
    c = sorted_weights(d)
    order = np.argsort(x, kind="stable")
    total = 0.0
    start = 0
    while start < d:
        end = start
        while end + 1 < d and x[order[end + 1]] == x[order[start]]:
            end += 1
        idx = order[start:end + 1]
        m = idx.size
        cg = np.sort(c[start:end + 1])[::-1]
        p = cp.Variable(m)
        constraints = [cp.sum(p) == cg.sum()]
        constraints += [cp.sum_largest(p, k) <= cg[:k].sum() for k in range(1, m)]
        value = x[idx[0]]
        if value != 0:
            target = lam * p + l1 * np.sign(value)
        else:
            b = cp.Variable(m)
            constraints += [cp.abs(b) <= 1]
            target = lam * p + l1 * b
        problem = cp.Problem(cp.Minimize(cp.sum_squares((w - x)[idx] - target)), constraints)
        problem.solve(solver="CLARABEL")
        total += problem.value
        start = end + 1
    return np.sqrt(max(total, 0.0))


@given(vectors(max_size=40), lams(), st.one_of(st.just(0.0), st.floats(0, 5)))
def test_accepts_the_prox(w, lam, l1):
    x = wsprox.prox(w, lam, l1=l1)
    cert = wsprox.check_optimality(w, x, lam, l1=l1)
    assert cert.optimal and bool(cert)
    assert cert.residual <= cert.tol
    assert cert.n_clusters == np.unique(x).size


@pytest.mark.parametrize("seed", range(6))
def test_residual_is_the_exact_distance(seed):
    rng = np.random.default_rng(seed)
    d = 9
    w = rng.normal(size=d)
    lam, l1 = 0.8, 0.3 * (seed % 2)
    # Candidates with ties and zeros that are not the prox.
    x = prox_exact(w, lam, l1=l1) + rng.choice([0.0, 0.05], size=d)
    x[rng.random(d) < 0.3] = 0.0
    got = wsprox.check_optimality(w, x, lam, l1=l1).residual
    assert got == pytest.approx(residual_by_cvxpy(w, x, lam, l1), rel=1e-5, abs=1e-7)


@given(vectors(min_size=2, max_size=40), st.floats(1e-3, 20), st.floats(0, 2), st.integers(0, 2**32 - 1))
def test_residual_bounds_the_error_and_rejects_perturbations(w, lam, l1, seed):
    x = prox_exact(w, lam, l1=l1)
    direction = np.random.default_rng(seed).normal(size=w.size)
    scale = max(np.abs(w).max(), lam, 1.0)
    y = x + 1e-6 * scale * direction / np.linalg.norm(direction)
    cert = wsprox.check_optimality(w, y, lam, l1=l1)
    # 1-strong convexity: the residual bounds the distance to the prox.
    assert cert.residual >= np.linalg.norm(y - x) * (1 - 1e-6)
    assert not cert.optimal


@given(vectors(min_size=3, max_size=40), st.floats(0.05, 10))
def test_rejects_the_prox_for_another_lam(w, lam):
    x_other = wsprox.prox(w, lam * 1.01)
    assume(np.linalg.norm(x_other - wsprox.prox(w, lam)) > 1e-9 * max(np.abs(w).max(), lam))
    assert not wsprox.check_optimality(w, x_other, lam).optimal


def test_rejects_the_prox_without_l1_and_other_obvious_mistakes():
    w = np.array([-2.0, -0.1, 0.3, 1.0, 4.0])
    assert not wsprox.check_optimality(w, wsprox.prox(w, 1.0), 1.0, l1=0.5).optimal
    assert not wsprox.check_optimality(w, w, 1.0).optimal
    assert not wsprox.check_optimality(w, np.full(5, w.mean()), 0.1).optimal


@pytest.mark.parametrize("d", [5, 30])
def test_cluster_tol_certifies_iterative_solvers(d):
    rng = np.random.default_rng(d)
    w = rng.normal(size=d)
    lam, l1 = 0.6, 0.2
    xc = prox_cvxpy(w, lam, l1=l1)
    assert not wsprox.check_optimality(w, xc, lam, l1=l1).optimal   # no exact ties or zeros
    cert = wsprox.check_optimality(w, xc, lam, l1=l1, cluster_tol=1e-9, tol=1e-8)
    assert cert.optimal
    assert cert.residual >= np.linalg.norm(xc - prox_exact(w, lam, l1=l1)) * (1 - 1e-6)


def test_objective_value():
    w = np.array([0.0, 1.0, 10.0])
    x = np.array([1.5, 1.5, 8.0])
    cert = wsprox.check_optimality(w, x, 2.0, l1=0.5)
    want = 0.5 * np.sum((x - w) ** 2) + 2.0 * wsprox.penalty(x) + 0.5 * np.abs(x).sum()
    assert cert.objective == pytest.approx(want)


def test_axis_batches():
    W = np.random.default_rng(3).normal(size=(4, 7))
    X = wsprox.prox(W, 0.5, axis=0)
    assert wsprox.check_optimality(W, X, 0.5, axis=0).optimal
    assert not wsprox.check_optimality(W, X, 0.5, axis=1).optimal
    assert not wsprox.check_optimality(W, X, 0.5).optimal


def test_bad_input():
    with pytest.raises(ValueError, match="shape"):
        wsprox.check_optimality([1.0, 2.0], [1.0], 1.0)
    with pytest.raises(ValueError, match="NaN"):
        wsprox.check_optimality([1.0, 2.0], [1.0, np.nan], 1.0)
    with pytest.raises(ValueError, match="lam"):
        wsprox.check_optimality([1.0, 2.0], [1.0, 2.0], -1.0)

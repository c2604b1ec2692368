"""The optimality certificate: exact, and it tells right answers from wrong ones."""
from fractions import Fraction

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import wsprox
from conftest import lams, vectors
from wsprox.reference import penalty_exact, prox_cvxpy, prox_exact
from wsprox.regularizer import sorted_weights


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


# ---------------------------------------------------------------- every magnitude

MAGNITUDES = pytest.mark.parametrize("dtype, magnitude", [
    *[(np.float64, m) for m in (1e-300, 1e-150, 1.0, 1e150, 1e300, 1e308)],
    *[(np.float32, m) for m in (1e-37, 1e-20, 1.0, 1e20, 1e38)],
])


@st.composite
def scaled_problems(draw, dtype, magnitude):
    """w (1-D or 2-D, entries up to ``magnitude``), lam, l1 and axis, all at that scale."""
    shape = draw(st.sampled_from([(7,), (3, 5), (1, 12)]))
    unit = draw(hnp.arrays(np.float64, shape, elements=st.one_of(
        st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0]), st.floats(-1, 1))))
    w = (unit * magnitude).astype(dtype)
    lam = draw(st.sampled_from([0.0, 1e-3, 0.1, 1.0, 1.5])) * magnitude
    l1 = draw(st.sampled_from([0.0, 0.05, 0.5])) * magnitude
    axis = draw(st.sampled_from([None, *range(len(shape))]))
    return w, lam, l1, axis


def objective_exact(w, x, lam, l1, axis):
    """The objective in rational arithmetic, as a float (inf beyond the largest float)."""
    w, x = np.asarray(w, dtype=np.float64), np.asarray(x, dtype=np.float64)
    square = sum((Fraction(a) - Fraction(b)) ** 2 for a, b in zip(x.ravel(), w.ravel())) / 2
    rows = [x.ravel()] if axis is None else np.moveaxis(x, axis, -1).reshape(-1, x.shape[axis])
    value = square + Fraction(lam) * sum(penalty_exact(row, rational=True) for row in rows)
    value += Fraction(l1) * sum(abs(Fraction(v)) for v in x.ravel())
    try:
        return float(value)
    except OverflowError:
        return np.inf


@MAGNITUDES
@settings(max_examples=15)
@given(data=st.data())
def test_accepts_the_prox_at_every_magnitude(dtype, magnitude, data):
    # The squares of the residual overflowed: residual and objective inf at |w| ~ 1e300.
    w, lam, l1, axis = data.draw(scaled_problems(dtype, magnitude))
    x = wsprox.prox(w, lam, l1=l1, axis=axis)
    cert = wsprox.check_optimality(w, x, lam, l1=l1, axis=axis)
    assert np.isfinite(cert.residual) and cert.optimal, cert
    want = objective_exact(w, x, lam, l1, axis)
    assert cert.objective == pytest.approx(want, rel=1e-12, abs=1e-320) or cert.objective == want == np.inf


@MAGNITUDES
@settings(max_examples=15)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_rejects_perturbed_candidates_at_every_magnitude(dtype, magnitude, data, seed):
    # The squares of a small residual underflowed: residual 0 at |w| ~ 1e-300.
    w, lam, l1, axis = data.draw(scaled_problems(dtype, magnitude))
    x = wsprox.prox(w, lam, l1=l1, axis=axis).astype(np.float64)
    direction = np.random.default_rng(seed).normal(size=x.shape)
    step = 1e-5 * magnitude * direction / np.linalg.norm(direction)
    y = x + step
    cert = wsprox.check_optimality(w, y, lam, l1=l1, axis=axis)
    assert not cert.optimal and not np.isnan(cert.residual), cert
    # The residual bounds the distance to the prox, up to x's own rounding (it
    # is inf where it exceeds the largest float: lam * ||c|| can, for lam ~ 1e308).
    assert cert.residual >= 0.99 * np.linalg.norm(step / magnitude) * magnitude


def test_objective_is_finite_wherever_it_is_representable():
    # R(x) itself overflows here, lam * R(x) does not.
    w = np.array([-1.7e308, 1.7e308])
    cert = wsprox.check_optimality(w, w, 1e-10, l1=1e-300)
    assert cert.objective == pytest.approx(objective_exact(w, w, 1e-10, 1e-300, None), rel=1e-12)
    # A tiny x beside a huge lam, and tiny differences beside huge entries.
    cert = wsprox.check_optimality([1e-100, 0.0], [1e-100, 0.0], 1e300)
    assert cert.objective == pytest.approx(1e200, rel=1e-12)
    cert = wsprox.check_optimality([1e300, 1e-100], [1e300, 0.0], 0.0)
    assert cert.objective == pytest.approx(5e-201, rel=1e-12) and cert.residual == pytest.approx(1e-100)
    # Beyond the largest float the objective is honestly inf, never nan.
    cert = wsprox.check_optimality(w, w[::-1], 0.0)
    assert cert.objective == np.inf and cert.residual == np.inf


def test_subnormal_inputs():
    # Clusters are those of x, even where scaling would flush x's subnormals.
    w = np.array([0.0, 1.0, 5e-324])
    cert = wsprox.check_optimality(w, w, 0.0)
    assert cert.optimal and cert.n_clusters == 3
    # The prox of subnormals is accepted, a candidate off by as much as w is not
    # (its squares underflowed to a zero residual).
    rng = np.random.default_rng(5)
    w = rng.normal(size=9) * 1e-320
    x = wsprox.prox(w, 3e-321, l1=1e-321)
    assert wsprox.check_optimality(w, x, 3e-321, l1=1e-321).optimal
    y = x + rng.normal(size=9) * 1e-320
    cert = wsprox.check_optimality(w, y, 3e-321, l1=1e-321)
    assert not cert.optimal and cert.residual >= 0.99 * np.linalg.norm((y - x) * 2.0**1000) / 2.0**1000

"""Properties of the prox, and agreement with the exact oracle and cvxpy."""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import wsprox
from conftest import assert_close_to_exact, lams, vectors
from wsprox.reference import prox_cvxpy, prox_exact


@given(vectors(), lams(), st.one_of(st.just(0.0), st.floats(0, 20)))
def test_agrees_with_exact_oracle(w, lam, l1):
    x = wsprox.prox(w, lam, l1=l1)
    assert_close_to_exact(x, w, lam, l1)
    assert wsprox.check_optimality(w, x, lam, l1=l1).optimal


@given(st.lists(st.fractions(min_value=-20, max_value=20, max_denominator=64), min_size=1, max_size=30),
       st.fractions(min_value=0, max_value=30, max_denominator=16))
def test_rational_inputs_with_many_ties(values, lam):
    # Dyadic-free rationals are rounded once on the way in; the oracle gets the same floats.
    w = np.array([float(v) for v in values])
    x = wsprox.prox(w, float(lam))
    assert_close_to_exact(x, w, float(lam))


@given(vectors(max_size=20, elements=st.sampled_from([-3.0, -1.0, 0.0, 0.5, 2.0])), lams(10.0))
def test_exact_on_dyadic_ties(w, lam):
    # Tied dyadic inputs: every exact prox value is reproduced to rounding.
    assert_close_to_exact(wsprox.prox(w, lam), w, lam)


@given(st.integers(1, 40), st.floats(-300, 300), st.floats(1e-3, 1e3))
def test_wide_magnitudes(d, exponent_shift, lam):
    rng = np.random.default_rng(d)
    w = rng.normal(size=d) * 10.0 ** rng.uniform(-8, 8, size=d) * 2.0 ** int(exponent_shift / 10)
    lam *= np.abs(w).max()
    x = wsprox.prox(w, lam)
    assert_close_to_exact(x, w, lam)
    assert wsprox.check_optimality(w, x, lam).optimal


@pytest.mark.parametrize("d", [2, 5, 17, 60])
@pytest.mark.parametrize("formulation", ["pairwise", "sorted"])
def test_agrees_with_cvxpy(d, formulation):
    rng = np.random.default_rng(d)
    w = rng.normal(size=d)
    w[: d // 3] = w[0]                            # ties too
    for lam, l1 in [(0.05, 0.0), (0.7, 0.0), (0.4, 0.3)]:
        x = wsprox.prox(w, lam, l1=l1)
        np.testing.assert_allclose(x, prox_cvxpy(w, lam, l1=l1, formulation=formulation), atol=1e-8)


@given(vectors(min_size=1, max_size=30), lams(), st.randoms(use_true_random=False))
def test_permutation_equivariance(w, lam, rnd):
    perm = np.arange(w.size)
    rnd.shuffle(perm)
    np.testing.assert_array_equal(wsprox.prox(w[perm], lam), wsprox.prox(w, lam)[perm])


@given(vectors(min_size=1, max_size=30), lams())
def test_order_ties_and_mean_preserved(w, lam):
    x = wsprox.prox(w, lam)
    order = np.argsort(w, kind="stable")
    assert np.all(np.diff(x[order]) >= 0)                   # order kept
    for value in np.unique(w):
        assert np.ptp(x[w == value]) == 0                   # ties stay tied
    scale = max(np.abs(w).max(), lam)
    assert abs(x.mean() - w.mean()) <= 1e-13 * scale * w.size   # mean kept


@given(vectors(min_size=1, max_size=30), lams(), st.floats(0, 5))
def test_non_expansive(w, lam, l1):
    other = w + np.random.default_rng(w.size).normal(size=w.size)
    lhs = np.linalg.norm(wsprox.prox(w, lam, l1=l1) - wsprox.prox(other, lam, l1=l1))
    assert lhs <= np.linalg.norm(w - other) * (1 + 1e-12) + 1e-12


@given(vectors(min_size=1, max_size=30), lams(10.0), lams(10.0))
def test_semigroup(w, a, b):
    two_steps = wsprox.prox(wsprox.prox(w, a), b)
    scale = max(np.abs(w).max(), a + b, 1.0)
    np.testing.assert_allclose(wsprox.prox(w, a + b), two_steps, rtol=0, atol=1e-12 * scale * w.size)


@given(vectors(min_size=1, max_size=30))
def test_lam_zero_is_identity(w):
    np.testing.assert_array_equal(wsprox.prox(w, 0.0), w)


@given(vectors(min_size=2, max_size=30), st.floats(1.0, 3.0))
def test_collapse_beyond_threshold(w, factor):
    # All weights collapse to the mean once lam >= max_k (d-1)(mean(x) - mean(x_1..x_k))/(d-k).
    x = np.sort(w)
    d = x.size
    k = np.arange(1, d)
    threshold = np.max((d - 1) * (x.mean() - np.cumsum(x)[:-1] / k) / (d - k))
    assume(threshold > 0)
    out = wsprox.prox(w, factor * threshold * (1 + 1e-12))
    assert np.ptp(out) == 0
    assert out[0] == pytest.approx(w.mean(), abs=1e-12 * np.abs(w).max() * d)
    if factor > 1.05:
        below = wsprox.prox(w, 0.9 * threshold)
        assert np.ptp(below) > 0


@given(vectors(min_size=1, max_size=25), lams(), st.floats(0, 10))
def test_l1_is_soft_thresholding_of_the_prox(w, lam, l1):
    u = wsprox.prox(w, lam)
    soft = np.sign(u) * np.maximum(np.abs(u) - l1, 0)
    np.testing.assert_allclose(wsprox.prox(w, lam, l1=l1), soft, rtol=0,
                               atol=1e-13 * max(np.abs(w).max(), lam, l1, 1.0) * w.size)


def test_axis_slices_equal_separate_calls():
    W = np.random.default_rng(1).normal(size=(3, 5, 4))
    W[0, :, 1] = 2.0
    for axis in range(3):
        got = wsprox.prox(W, 0.8, l1=0.1, axis=axis)
        moved = np.moveaxis(W, axis, -1)
        want = np.stack([wsprox.prox(v, 0.8, l1=0.1) for v in moved.reshape(-1, W.shape[axis])])
        np.testing.assert_array_equal(np.moveaxis(got, axis, -1), want.reshape(moved.shape))
    np.testing.assert_array_equal(wsprox.prox(W, 0.8), wsprox.prox(W.ravel(), 0.8).reshape(W.shape))


@given(vectors(min_size=1, max_size=30, dtype=np.float32), lams())
def test_float32_in_float32_out(w, lam):
    x = wsprox.prox(w, lam)
    assert x.dtype == np.float32
    exact = prox_exact(w.astype(np.float64), lam)
    scale = max(np.abs(w).max(), lam, 1e-30)
    np.testing.assert_allclose(x, exact, rtol=0, atol=4 * np.finfo(np.float32).eps * scale)
    assert wsprox.check_optimality(w, x, lam).optimal


@given(vectors(), lams(), st.floats(0, 3))
def test_input_untouched_and_out(w, lam, l1):
    before = w.copy()
    x = wsprox.prox(w, lam, l1=l1)
    np.testing.assert_array_equal(w, before)
    out = np.empty_like(w)
    assert wsprox.prox(w, lam, l1=l1, out=out) is out
    np.testing.assert_array_equal(out, x)
    assert wsprox.prox(w, lam, l1=l1, out=w) is w          # in place, on request only
    np.testing.assert_array_equal(w, x)


def test_out_in_place_on_batched_and_strided_arrays():
    W = np.random.default_rng(2).normal(size=(4, 6))
    want = wsprox.prox(W, 0.5, axis=0)
    Wc = W.copy()
    assert wsprox.prox(Wc, 0.5, axis=0, out=Wc) is Wc
    np.testing.assert_array_equal(Wc, want)
    big = np.zeros((4, 12))
    view = big[:, ::2]
    wsprox.prox(W, 0.5, axis=0, out=view)
    np.testing.assert_array_equal(view, want)
    assert np.all(big[:, 1::2] == 0)


@given(vectors(min_size=1, max_size=30), lams(), st.floats(0, 2))
def test_prox_result_clusters(w, lam, l1):
    res = wsprox.prox_result(w, lam, l1=l1)
    np.testing.assert_array_equal(res.x, wsprox.prox(w, lam, l1=l1))
    values = np.unique(res.x)
    assert res.n_clusters == values.size
    np.testing.assert_array_equal(res.labels, np.searchsorted(values, res.x))
    assert res.method == "pava" and res.backend == "cpu"
    assert res.rounds == w.size


def test_prox_result_batched():
    W = np.array([[0.0, 0.0, 5.0], [1.0, 2.0, 3.0]])
    res = wsprox.prox_result(W, 0.1, axis=1)
    np.testing.assert_array_equal(res.n_clusters, [2, 3])
    np.testing.assert_array_equal(res.labels, [[0, 0, 1], [0, 1, 2]])


def test_exact_oracle_is_exact():
    x = prox_exact([0, 1, 10], Fraction(2), rational=True)
    assert list(x) == [Fraction(3, 2), Fraction(3, 2), Fraction(8)]
    x = prox_exact([Fraction(1, 3), Fraction(1, 3), 1], Fraction(1, 7), l1=Fraction(1, 10), rational=True)
    assert sum(x) == Fraction(1, 3) * 2 + 1 - 3 * Fraction(1, 10)

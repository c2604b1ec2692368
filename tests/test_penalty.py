"""The penalty R and its subgradient against their O(d^2) definitions."""
import itertools

import numpy as np
import pytest
from conftest import vectors
from hypothesis import given
from hypothesis import strategies as st

import wsprox
from wsprox.penalty import sorted_weights


def pairwise_penalty(w):
    w = np.ravel(np.asarray(w, dtype=np.float64))
    d = w.size
    if d <= 1:
        return 0.0
    return sum(abs(a - b) for a, b in itertools.combinations(w, 2)) / (d - 1)


@given(vectors(min_size=0, max_size=30))
def test_penalty_equals_pairwise_definition(w):
    assert wsprox.penalty(w) == pytest.approx(pairwise_penalty(w), rel=1e-12, abs=1e-9)


@given(vectors(min_size=1, max_size=20), st.floats(-100, 100), st.randoms(use_true_random=False))
def test_penalty_invariances(w, shift, rnd):
    # Translation and permutation invariant, positively homogeneous.
    perm = list(range(w.size))
    rnd.shuffle(perm)
    r = wsprox.penalty(w)
    tol = 1e-9 * (1 + np.abs(w).max() + abs(shift)) * w.size
    assert abs(wsprox.penalty(w[perm]) - r) <= tol
    assert abs(wsprox.penalty(w + shift) - r) <= tol
    assert abs(wsprox.penalty(3.0 * w) - 3.0 * r) <= 3 * tol
    assert r >= 0


def test_one_sparse_penalty_is_l1_norm():
    w = np.zeros(7)
    w[3] = -2.5
    assert wsprox.penalty(w) == pytest.approx(2.5)


def test_penalty_axis_equals_separate_calls():
    W = np.random.default_rng(0).normal(size=(3, 4, 5))
    for axis in range(3):
        got = wsprox.penalty(W, axis=axis)
        moved = np.moveaxis(W, axis, -1)
        want = np.array([wsprox.penalty(v) for v in moved.reshape(-1, W.shape[axis])])
        np.testing.assert_allclose(got, want.reshape(moved.shape[:-1]), rtol=1e-13)


def test_penalty_small_sizes():
    assert wsprox.penalty([]) == 0.0
    assert wsprox.penalty([4.0]) == 0.0
    assert wsprox.penalty(4.0) == 0.0
    assert wsprox.penalty([1, 3]) == 2.0


@given(vectors(min_size=2, max_size=25))
def test_subgradient_is_in_the_subdifferential(w):
    # R is positively homogeneous: g is a subgradient at w iff <g, w> = R(w)
    # and <g, u> <= R(u) for all u, i.e. g lies in the permutahedron of c.
    g = wsprox.subgradient(w)
    d = w.size
    assert float(g @ w) == pytest.approx(wsprox.penalty(w), rel=1e-10, abs=1e-9)
    top = np.cumsum(np.sort(sorted_weights(d))[::-1])
    assert np.all(np.cumsum(np.sort(g)[::-1]) <= top + 1e-12)
    assert abs(g.sum()) < 1e-12


@given(vectors(min_size=2, max_size=25))
def test_subgradient_is_minimum_norm(w):
    # Within a tied group the minimum-norm choice is constant: the group's mean c.
    g = wsprox.subgradient(w)
    for value in np.unique(w):
        members = g[w == value]
        assert np.ptp(members) <= 1e-15
    # Distinct entries get c at their rank.
    if np.unique(w).size == w.size:
        np.testing.assert_array_equal(g[np.argsort(w)], sorted_weights(w.size))


def test_subgradient_axis():
    W = np.array([[3.0, 1.0, 2.0], [5.0, 5.0, 5.0]])
    np.testing.assert_allclose(wsprox.subgradient(W, axis=1), [[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]])

"""Warm starts: repairing a previous order is exact, whatever that order is."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import wsprox
from conftest import assert_ranked
from wsprox.cpu.repair import SAMPLES, resort_rows
from wsprox.cpu.sort import rank_rows
from wsprox.reference import prox_exact


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 3), d=st.integers(1, 300),
       move=st.sampled_from([0.0, 1e-3, 0.05, 1.0, 100.0]), chunk=st.sampled_from([2, 4, 16, 64]),
       pool=st.booleans(), samples=st.sampled_from([0, SAMPLES]))
def test_resort_is_exact(dtype, seed, n, d, move, chunk, pool, samples):
    # Entries move by `move` times the spread (0: same values, 100: a new order);
    # a small pool of values makes ties, and ties broken differently between
    # calls. Without the sample (samples=0) every order goes to the repair.
    rng = np.random.default_rng(seed)
    old = rng.integers(-5, 5, size=(n, d)) if pool else rng.standard_normal((n, d))
    new = (old + move * rng.standard_normal((n, d))).astype(dtype)
    order, _ = rank_rows(old.astype(dtype))
    new_order, x, reused = resort_rows(new, order, chunk=chunk, samples=samples)
    assert_ranked(new, new_order, x)
    if move == 0.0:
        assert reused


@given(seed=st.integers(0, 2**32 - 1), d=st.integers(2, 200))
def test_resort_from_any_permutation(seed, d):
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((2, d))
    order = np.stack([rng.permutation(d) for _ in range(2)])
    assert_ranked(rows, *resort_rows(rows, order, chunk=4, samples=0)[:2])


@pytest.mark.parametrize("moved", [1, 2, 4])
def test_resort_repairs_a_sparsely_broken_order(threads, moved):
    # A few entries out of place by less than a chunk, missed by the sample:
    # the chunks that hold them are sorted, and boundaries merged.
    rng = np.random.default_rng(moved)
    d = 5000
    rows = np.sort(rng.standard_normal((1, d)))
    order = np.arange(d)[None, :]
    new = rows.copy()
    for k in rng.choice(d - 300, size=moved, replace=False):
        new[0, k] = rows[0, k + rng.integers(1, 300)]          # moves up, past neighbours
    new_order, x, reused = resort_rows(new, order.copy(), chunk=256, samples=0)
    assert reused
    assert_ranked(new, new_order, x)


def test_resort_sorts_afresh_where_the_order_broke_everywhere(threads):
    rng = np.random.default_rng(0)
    rows = np.sort(rng.standard_normal((2, 5000)))
    noisy = rows + 1e-2 * rng.standard_normal(rows.shape)
    new_order, x, reused = resort_rows(noisy, np.tile(np.arange(5000), (2, 1)), chunk=256)
    assert not reused
    assert_ranked(noisy, new_order, x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [None, 1])
def test_training_sequence_matches_cold(dtype, axis, threads):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, 2000)).astype(dtype)
    state = wsprox.ProxState()
    for step in range(4):
        warm = wsprox.prox_result(w, 0.01, warm=state, axis=axis, l1=0.001)
        cold = wsprox.prox_result(w, 0.01, axis=axis, l1=0.001)
        np.testing.assert_array_equal(warm.x, cold.x)
        np.testing.assert_array_equal(warm.labels, cold.labels)
        assert wsprox.check_optimality(w, warm.x, 0.01, l1=0.001, axis=axis).optimal
        w = (warm.x + 1e-3 * np.std(warm.x) * rng.standard_normal(w.shape)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_warm_reuses_an_order_that_still_holds(dtype, threads):
    # An increasing map of the last output keeps its order (ties stay tied).
    w = np.random.default_rng(2).standard_normal((3, 2000)).astype(dtype)
    state = wsprox.ProxState()
    for step in range(3):
        x = wsprox.prox(w, 0.05, warm=state, axis=1)
        np.testing.assert_array_equal(x, wsprox.prox(w, 0.05, axis=1))
        assert state.reused == (step > 0)
        w = (1.5 * x + 0.25).astype(dtype)


def test_warm_agrees_with_exact_oracle_on_ties():
    w = np.array([3.0, 1.0, 1.0, -2.0, 1.0, 0.0, -0.0, 7.0])
    state = wsprox.ProxState()
    wsprox.prox(w[::-1].copy(), 0.7, warm=state)      # an order that is wrong for w
    x = wsprox.prox(w, 0.7, warm=state)
    np.testing.assert_allclose(x, [float(v) for v in prox_exact(w, 0.7)], rtol=0, atol=1e-14)


def test_state_of_another_shape_starts_cold():
    state = wsprox.ProxState()
    wsprox.prox(np.arange(10.0), 1.0, warm=state)
    x = wsprox.prox(np.arange(7.0)[::-1], 1.0, warm=state)
    assert not state.reused and state.order.shape == (1, 7)
    np.testing.assert_allclose(x, wsprox.prox(np.arange(7.0)[::-1], 1.0))


def test_warm_must_be_a_state():
    with pytest.raises(TypeError, match="ProxState"):
        wsprox.prox([1.0, 2.0], 1.0, warm=np.arange(2))


def test_small_vectors_keep_the_warm_order_and_agree_bit_for_bit():
    # A small vector takes the small path warm too: the state's order where it still sorts w.
    rng = np.random.default_rng(4)
    w = rng.standard_normal(300)
    state = wsprox.ProxState()
    np.testing.assert_array_equal(wsprox.prox(w, 0.3, warm=state), wsprox.prox(w, 0.3))
    assert not state.reused and state.order.shape == (1, 300)
    w = 0.99 * w                                              # weight decay keeps the order
    np.testing.assert_array_equal(wsprox.prox(w, 0.3, warm=state), wsprox.prox(w, 0.3))
    assert state.reused
    w = w + rng.standard_normal(300)                          # a new order
    np.testing.assert_array_equal(wsprox.prox(w, 0.3, warm=state), wsprox.prox(w, 0.3))
    assert not state.reused
    # The general path (labels) takes over the state the small path left, and back.
    np.testing.assert_array_equal(wsprox.prox_result(w, 0.3, warm=state).x, wsprox.prox(w, 0.3))
    assert state.reused
    np.testing.assert_array_equal(wsprox.prox(w, 0.3, warm=state), wsprox.prox(w, 0.3))
    assert state.reused

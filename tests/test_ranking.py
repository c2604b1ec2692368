"""The cold ranking is exact: sorted values and a sorting permutation.

The key codec it sorts by is tested in test_keys.py, the warm repair in test_warm.py.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import wsprox
from conftest import assert_ranked, lams
from wsprox.cpu.sort import rank_rows
from wsprox.reference import prox_exact


def nasty(dtype):
    """Values that stress an order-preserving bit map: ties, signed zeros,
    subnormals, extremes, and neighbours one ulp apart."""
    f = np.dtype(dtype).type
    info = np.finfo(dtype)
    one_ulp = [np.nextafter(f(1), f(2)), np.nextafter(f(1), f(0)), np.nextafter(f(-1), f(0))]
    pool = [0.0, -0.0, 1.0, -1.0, 2.5, *one_ulp, info.smallest_subnormal, -info.smallest_subnormal,
            info.tiny, -info.tiny, info.max, -info.max, info.max / 3, 1e-30, -1e-30]
    width = 32 if dtype == np.float32 else 64
    return st.one_of(st.sampled_from([f(v) for v in pool]),
                     st.floats(allow_nan=False, allow_infinity=False, width=width))


def batches(dtype, max_rows=3, max_d=40):
    shapes = st.tuples(st.integers(1, max_rows), st.integers(1, max_d))
    return hnp.arrays(dtype, shapes, elements=nasty(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(data=st.data())
def test_small_batches_exact(dtype, data):
    rows = data.draw(batches(dtype))
    before = rows.copy()
    assert_ranked(rows, *rank_rows(rows))
    np.testing.assert_array_equal(rows, before)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2**32 - 1), st.integers(2, 3000), st.integers(0, 60))
def test_float64_ties_in_the_key_are_repaired(threads, seed, d, spread):
    # Values a few ulps apart share the key's top bits: the key orders them by
    # index, the repair by value (insertion sort for short runs, a sort
    # otherwise); threaded, the row is cut between runs for the two threads.
    rng = np.random.default_rng(seed)
    base = rng.choice([1.0, -3.5, 1e300, 1e-300], size=d)
    rows = (base + base * np.finfo(float).eps * rng.integers(-spread, spread + 1, size=d))[None, :]
    assert_ranked(rows, *rank_rows(rows))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 3])
def test_large_rows_use_the_threaded_paths(dtype, n, threads):
    # n * d >= 2**16: two halves merged (one row) or rows split between threads.
    rng = np.random.default_rng(n)
    d = 70_001
    rows = rng.standard_normal((n, d)).astype(dtype)
    rows[:, ::5] = rows[:, 7:8]                                    # one big tie
    rows[:, 1::5] = np.nextafter(rows[:, 1::5], np.inf)              # last-bit neighbours
    rows[:, 2::97] = -0.0
    rows[:, 3::89] = 0.0
    rows[:, 4::101] = np.finfo(dtype).smallest_subnormal
    assert_ranked(rows, *rank_rows(rows))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(data=st.data(), lam=lams(10.0))
def test_prox_exact_on_nasty_batches(dtype, data, lam):
    rows = data.draw(batches(dtype, max_d=12, max_rows=2).filter(
        lambda a: np.all(np.abs(a.astype(np.float64)) < 1e150)))
    x = wsprox.prox(rows, lam, axis=1)
    assert x.dtype == dtype
    for w, xr in zip(rows, x):
        exact = np.array([float(v) for v in prox_exact(w, lam)])
        scale = max(np.abs(w.astype(np.float64)).max(), lam, 1e-300)
        tol = 8 * np.finfo(dtype).eps * scale * np.sqrt(w.size)
        np.testing.assert_allclose(xr, exact, rtol=0, atol=tol)
    assert wsprox.check_optimality(rows, x, lam, axis=1).optimal


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tiny_lengths(d, dtype):
    w = np.array([0.0, -0.0, 5e-324][:d], dtype=dtype)
    assert_ranked(w[None, :], *rank_rows(w[None, :]))
    np.testing.assert_allclose(wsprox.prox(w, 1.0), np.array([float(v) for v in prox_exact(w, 1.0)]),
                               rtol=0, atol=4 * np.finfo(dtype).eps)

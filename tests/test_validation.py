"""Bad input gets a clear error naming the problem; odd but valid input works."""
import re

import numpy as np
import pytest

import wsprox
from wsprox.reference import prox_exact


@pytest.mark.parametrize("bad, what, where", [
    ([0.0, np.nan, 1.0], "NaN", "index 1"),
    ([0.0, 1.0, np.inf], "+inf", "index 2"),
    ([[0.0, 1.0], [-np.inf, 1.0]], "-inf", r"index \(1, 0\)"),
])
def test_non_finite_input_names_the_first_bad_index(bad, what, where):
    with pytest.raises(ValueError, match=f"{re.escape(what)}.*{where}"):
        wsprox.prox(bad, 1.0)
    with pytest.raises(ValueError, match=re.escape(what)):
        wsprox.penalty(bad)


@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_the_one_pass_check_finds_a_lone_non_finite_entry(threaded, dtype, value, monkeypatch):
    # The finiteness check and the magnitude share one (threaded when large) pass:
    # one bad entry anywhere, in either thread's half, is found and named.
    from wsprox.core import pool

    if threaded:
        monkeypatch.setattr(pool, "THREADED_MIN", 64)
    rng = np.random.default_rng(0)
    for where in (0, 499, 500, 999):
        w = rng.standard_normal(1000).astype(dtype)
        w[where] = value
        with pytest.raises(ValueError, match=f"at index {where};"):
            wsprox.prox(w, 1.0)
    w = rng.standard_normal(1000).astype(dtype)
    assert wsprox.core.validation.finite_magnitude(w) == float(np.abs(w).max())


@pytest.mark.filterwarnings("ignore:overflow")
def test_huge_finite_values_are_accepted():
    w = np.array([1e308, 1e308, -1e308])   # the fast finiteness check overflows
    np.testing.assert_array_equal(wsprox.prox(w, 0.0), w)
    x = wsprox.prox(w, 1e308)              # sums of such values overflow unless rescaled
    np.testing.assert_allclose(x, prox_exact(w, 1e308), rtol=1e-15)
    assert wsprox.check_optimality(w, x, 1e308).optimal


@pytest.mark.parametrize("lam", [-1.0, np.nan, np.inf, -np.inf])
def test_bad_lam(lam):
    with pytest.raises(ValueError, match="lam"):
        wsprox.prox([1.0, 2.0], lam)
    with pytest.raises(ValueError, match="l1"):
        wsprox.prox([1.0, 2.0], 1.0, l1=lam)


@pytest.mark.parametrize("lam", ["1", [1.0], np.ones(2), 1j, None, True])
def test_lam_must_be_a_real_scalar(lam):
    with pytest.raises(TypeError, match="lam"):
        wsprox.prox([1.0, 2.0], lam)


def test_lam_as_numpy_scalar_or_0d_array():
    w = [1.0, 2.0, 5.0]
    np.testing.assert_array_equal(wsprox.prox(w, np.float32(0.5)), wsprox.prox(w, np.array(0.5)))


@pytest.mark.parametrize("w", [
    np.array([1 + 2j, 3j]),
    np.array(["a", "b"]),
    np.array([1.0, None], dtype=object),
    np.array(["2020-01-01"], dtype="datetime64[D]"),
])
def test_non_real_dtypes_are_type_errors(w):
    with pytest.raises(TypeError, match="dtype"):
        wsprox.prox(w, 1.0)


def test_unknown_method_and_backend_list_the_valid_ones():
    with pytest.raises(ValueError, match="'pava'"):
        wsprox.prox([1.0, 2.0], 1.0, method="bubble")
    with pytest.raises(ValueError, match="'cpu'"):
        wsprox.prox([1.0, 2.0], 1.0, backend="tpu")


def test_bad_axis():
    with pytest.raises(ValueError, match="axis"):
        wsprox.prox(np.ones((2, 3)), 1.0, axis=2)
    with pytest.raises(TypeError, match="axis"):
        wsprox.prox(np.ones((2, 3)), 1.0, axis=1.0)


def test_bad_out():
    w = np.ones(3)
    with pytest.raises(ValueError, match="shape"):
        wsprox.prox(w, 1.0, out=np.empty(4))
    with pytest.raises(TypeError, match="dtype"):
        wsprox.prox(w, 1.0, out=np.empty(3, dtype=np.float32))
    with pytest.raises(TypeError, match="NumPy array"):
        wsprox.prox(w, 1.0, out=[0.0, 0.0, 0.0])
    ro = np.empty(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        wsprox.prox(w, 1.0, out=ro)


def test_array_likes_views_and_read_only_inputs():
    w = np.arange(20.0)[::-2]           # non-contiguous view
    w.flags.writeable = False            # and read-only
    want = prox_exact(w.copy(), 3.0)
    np.testing.assert_allclose(wsprox.prox(w, 3.0), want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(wsprox.prox(list(w), 3.0), want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(wsprox.prox(tuple(w), 3.0), want, rtol=0, atol=1e-12)
    fortran = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    np.testing.assert_allclose(
        wsprox.prox(fortran, 2.0, axis=0), wsprox.prox(np.ascontiguousarray(fortran), 2.0, axis=0)
    )


@pytest.mark.parametrize("dtype, out_dtype", [
    (np.float32, np.float32), (np.float64, np.float64), (np.int64, np.float64),
    (np.int8, np.float64), (np.uint16, np.float64), (np.bool_, np.float64), (np.float16, np.float16),
    (np.longdouble, np.float64),
])
def test_result_dtypes(dtype, out_dtype):
    w = np.array([0, 1, 1, 0, 1], dtype=dtype)
    x = wsprox.prox(w, 0.5)
    assert x.dtype == out_dtype
    assert wsprox.prox_result(w, 0.5).x.dtype == out_dtype


def test_empty_and_scalar_inputs():
    for shape in [(0,), (0, 3), (3, 0)]:
        for axis in [None, 0, 1][: len(shape) + 1]:
            x = wsprox.prox(np.empty(shape), 1.0, axis=axis)
            assert x.shape == shape and x.dtype == np.float64
    assert wsprox.prox(np.float32(2.0), 1.0, l1=0.5) == np.float32(1.5)
    assert wsprox.prox_result([], 1.0).n_clusters == 0


def test_d_equal_one_is_soft_thresholding():
    np.testing.assert_array_equal(wsprox.prox([3.0], 100.0, l1=1.0), [2.0])
    np.testing.assert_array_equal(wsprox.prox([[3.0], [-0.5], [-4.0]], 5.0, l1=1.0, axis=1),
                                  [[2.0], [0.0], [-3.0]])


def test_a_ragged_list_is_named():
    with pytest.raises(ValueError, match="^w must be a rectangular array of numbers"):
        wsprox.prox([[1.0, 2.0], [3.0]], 1.0)

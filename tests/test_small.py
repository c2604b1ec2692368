"""The path for small vectors is the general pipeline, bit for bit, with its errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import wsprox
from conftest import lams, vectors
from wsprox.cpu.small import SMALL_MAX, prox_small


@given(vectors(max_size=60), lams(), st.sampled_from([0.0, 0.1, 3.0]), st.sampled_from([np.float64, np.float32]))
def test_equals_the_general_path_bit_for_bit(w, lam, l1, dtype):
    w = w.astype(dtype)
    fast = wsprox.prox(w, lam, l1=l1)
    general = wsprox.prox_result(w, lam, l1=l1).x     # prox_result never takes the one-call path
    assert fast.dtype == general.dtype == w.dtype
    np.testing.assert_array_equal(fast, general)


def test_strided_read_only_and_the_largest_small_size():
    w = np.random.default_rng(0).standard_normal(2 * SMALL_MAX)[::2]
    w.flags.writeable = False
    np.testing.assert_array_equal(wsprox.prox(w, 0.3), wsprox.prox_result(w, 0.3).x)


def test_what_it_cannot_do_goes_to_the_general_path():
    out = np.empty(3)
    for w in (np.array([1.0, np.nan, 2.0]), np.array([1e305, -1e305, 0.0])):   # NaN; overflow scaling
        assert prox_small(w, np.argsort(w), 1.0, 0.0, out) == -1
    with pytest.raises(ValueError, match="w contains NaN at index 1"):
        wsprox.prox(np.array([1.0, np.nan, 2.0]), 1.0)
    with pytest.raises(ValueError, match="lam must be non-negative"):
        wsprox.prox(np.array([1.0, 2.0]), -1.0)
    big = np.array([1.7e308, -1.7e308, 0.0])
    np.testing.assert_array_equal(wsprox.prox(big, 1e308), wsprox.prox_result(big, 1e308).x)

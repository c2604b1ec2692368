"""The key codec: order-preserving, decodable, and sorted by NumPy's float64 sort."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from wsprox.core.pool import threaded
from wsprox.cpu.keys import END, decode32, decode_index, encode, ordered, sort_keys, top_bits

UINT = {32: np.uint32, 64: np.uint64}
FLOAT = {32: np.float32, 64: np.float64}


def bits(value, width):
    return FLOAT[width](value).view(UINT[width])


def finite(width):
    return st.floats(allow_nan=False, allow_infinity=False, width=width)


@pytest.mark.parametrize("width", [32, 64])
@given(data=st.data())
def test_ordered_numbers_the_floats_consecutively(width, data):
    # u maps the floats, -0.0 just below 0.0, onto consecutive integers: the
    # next float up (nextafter skips 0.0 from -0.0) is one step higher.
    a = FLOAT[width](data.draw(finite(width)))
    with np.errstate(over="ignore"):            # max to inf
        b = np.nextafter(a, FLOAT[width](np.inf))
    step = 2 if bits(a, width) == bits(-0.0, width) else 1
    unit = 1 << (64 - width)
    assert int(ordered(bits(b, width), width)) - int(ordered(bits(a, width), width)) == step * unit


@pytest.mark.parametrize("width", [32, 64])
@given(data=st.data(), shift=st.integers(0, 30))
def test_keys_order_by_value(width, data, shift):
    a, b = (FLOAT[width](data.draw(finite(width))) for _ in range(2))
    ka, kb = (top_bits(bits(v, width), width, shift) for v in (a, b))
    if a < b:
        assert ka <= kb
    if width == 32 and a != b:                   # float32 keys hold the whole value
        assert (ka < kb) == (a < b)


@given(value=finite(32), shift=st.integers(0, 30), data=st.data())
def test_float32_keys_decode_to_value_and_index(value, shift, data):
    index = data.draw(st.integers(0, (1 << shift) - 1))
    key = encode(bits(value, 32), 32, shift, index)
    assert decode_index(key, shift) == index
    assert decode32(key) == bits(value, 32)      # bit for bit: -0.0 stays -0.0


@given(a=finite(64), ulps=st.integers(-(1 << 40), 1 << 40), shift=st.integers(0, 40))
def test_float64_keys_tie_only_for_values_within_the_documented_relative_gap(a, ulps, shift):
    # Keys of float64 values of the same top 62 - s bits tie; such values are
    # within a relative 2**(s - 50) of each other (the gap the ranking repairs).
    pattern = int(bits(a, 64)) + ulps
    assume(0 <= pattern < 1 << 64)
    b = np.uint64(pattern).view(np.float64)
    assume(np.isfinite(b) and np.signbit(b) == np.signbit(a) and b != a)
    ka, kb = (top_bits(bits(v, 64), 64, shift) for v in (a, b))
    assert (ka <= kb) == (a < b) or ka == kb
    if ka == kb:
        scale = max(abs(a), abs(float(b)), np.finfo(np.float64).tiny)
        assert abs(a - float(b)) < 2.0 ** (shift - 50) * scale


@given(entries=st.lists(st.sampled_from([32, 64]).flatmap(
    lambda w: st.tuples(st.just(w), st.floats(allow_nan=False, width=w), st.integers(0, 40))),
    min_size=1, max_size=30))
def test_keys_sort_as_float64_like_integers_below_end(entries):
    # NumPy sorts the keys as float64: the same order as the integers only if
    # their top two bits are zero (no sign, no NaN); END is above all of them.
    keys = np.array([encode(bits(v, w), w, s, (1 << s) - 1) for w, v, s in entries] + [END], dtype=np.uint64)
    as_float = keys.view(np.float64)
    assert np.all(np.isfinite(as_float)) and np.all(as_float >= 0)
    np.testing.assert_array_equal(np.sort(as_float).view(np.uint64), np.sort(keys))
    assert np.all(keys[:-1] < END)


@pytest.mark.parametrize("n, d", [(1, 50), (3, 50), (1, 140_001), (2, 70_001)])
@pytest.mark.parametrize("halves", [True, False])
def test_sort_keys_sorts_both_sides_of_the_split(n, d, halves):
    # Large inputs: a single row as two halves on two threads, a batch by rows.
    rng = np.random.default_rng(d)
    keys = rng.integers(0, int(END), size=(n, d), dtype=np.uint64)
    before = keys.copy()
    split = sort_keys(keys, halves=halves)
    assert split == (d // 2 if threaded(n * d) and n == 1 and halves else d)
    for part in (slice(0, split), slice(split, d)):
        np.testing.assert_array_equal(keys[:, part], np.sort(before[:, part], axis=1))

"""The penalty R and its subgradient against their O(d^2) definitions and the rational oracle."""
import importlib.util
import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import wsprox
from conftest import vectors
from wsprox.reference import penalty_exact
from wsprox.regularizer import sorted_weights

HAVE_TORCH = importlib.util.find_spec("torch") is not None


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


# ---------------------------------------------------------------- accuracy against the rational oracle

def numpy_penalty(w, axis=None):
    return np.asarray(wsprox.penalty(w, axis=axis))


def torch_penalty(w, axis=None):
    import torch

    import wsprox.torch
    return wsprox.torch.penalty(torch.from_numpy(w), axis=axis).numpy()


needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
# (penalty, dtype of the input): NumPy computes in float64, torch in the tensor's dtype.
IMPLEMENTATIONS = pytest.mark.parametrize("penalty_of, dtype", [
    pytest.param(numpy_penalty, np.float64, id="numpy-float64"),
    pytest.param(numpy_penalty, np.float32, id="numpy-float32"),
    pytest.param(torch_penalty, np.float64, id="torch-float64", marks=needs_torch),
    pytest.param(torch_penalty, np.float32, id="torch-float32", marks=needs_torch),
])
honest_overflow = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")


def assert_within_ulps(got, exact, ulps=4):
    """``got`` is within ``ulps`` units in the last place (of its dtype) of the
    Fraction ``exact``; ``inf`` is allowed only where ``exact`` is that close to
    the top of the range or beyond it."""
    top = np.finfo(got.dtype).max
    below_top = np.nextafter(top, got.dtype.type(0))         # spacing(top) is inf
    ulp = Fraction(float(np.spacing(got.dtype.type(min(exact, Fraction(float(below_top)))))))
    top = Fraction(float(top))
    assert not np.isnan(got)
    if np.isinf(got):
        assert got > 0 and exact > top - ulps * ulp, f"inf for the finite {float(exact)!r}"
    else:
        error = abs(Fraction(float(got)) - exact)
        assert error <= ulps * ulp, f"{float(got)!r} is {float(error / ulp):.2f} ulps from {float(exact)!r}"


def near_overflow(dtype, min_size=0, unique=False):
    """Vectors of magnitudes up to the largest float, mixed signs and the extremes."""
    top = float(dtype(0.95 * np.finfo(dtype).max))
    width = 32 if dtype == np.float32 else 64
    elements = st.one_of(
        st.floats(-top, top, width=width),
        st.sampled_from([-top, top, -top / 2, top / 2, 0.0]),
    )
    return hnp.arrays(dtype, st.integers(min_size, 30), elements=elements, unique=unique)


def nearly_tied(dtype):
    """A base anywhere in the range plus small multiples of its spacing."""
    top = float(dtype(0.95 * np.finfo(dtype).max))
    width = 32 if dtype == np.float32 else 64
    bases = st.floats(-top, top, width=width).map(dtype)
    steps = hnp.arrays(np.int64, st.integers(1, 30), elements=st.integers(-8, 8))
    return st.builds(lambda base, k: (base + k * np.spacing(base)).astype(dtype), bases, steps)


@IMPLEMENTATIONS
@honest_overflow
@given(data=st.data())
def test_penalty_is_within_ulps_of_exact_near_overflow(penalty_of, dtype, data):
    # sum_k c_k x_k overflowed to +-inf (or nan) where R is finite, even 0.
    w = data.draw(near_overflow(dtype))
    assert_within_ulps(penalty_of(w), penalty_exact(w, rational=True))


@IMPLEMENTATIONS
@given(data=st.data())
def test_penalty_is_within_ulps_of_exact_on_nearly_tied_values(penalty_of, dtype, data):
    # sum_k c_k x_k cancels: 20% off on 1e8 + k * spacing(1e8).
    w = data.draw(nearly_tied(dtype))
    assert_within_ulps(penalty_of(w), penalty_exact(w, rational=True))


@IMPLEMENTATIONS
def test_penalty_of_the_reported_inputs(penalty_of, dtype):
    top = float(np.finfo(dtype).max)
    cases = [
        np.full(7, 0.95 * top),                         # exact 0: was -inf
        np.array([-0.95, -0.95, -0.95, -0.5]) * top,    # was inf
        np.array([-0.3, 0.3, 0.1, -0.2, 0.25]) * top,
        1e8 + np.arange(10) * np.spacing(np.float32(1e8) if dtype == np.float32 else 1e8),
    ]
    for w in cases:
        w = w.astype(dtype)
        assert_within_ulps(penalty_of(w), penalty_exact(w, rational=True))
    assert penalty_of(np.full(7, top, dtype=dtype)) == 0.0


@IMPLEMENTATIONS
@pytest.mark.parametrize("axis", [0, 1])
def test_penalty_batches_scale_every_slice_on_its_own(penalty_of, dtype, axis):
    # A slice near the float limit beside one near the subnormals: one scale for
    # all would push the small one into the subnormals.
    info = np.finfo(dtype)
    rng = np.random.default_rng(axis)
    W = np.stack([
        rng.uniform(-0.2, 0.2, 6) * float(info.max),
        (1 + rng.random(6)) * float(info.tiny) * 2.0 ** 12,
        rng.normal(size=6),
    ]).astype(dtype)
    W = W if axis == 1 else W.T
    got = penalty_of(W, axis=axis)
    assert got.shape == (3,)
    for value, row in zip(got, np.moveaxis(W, axis, -1)):
        assert_within_ulps(value, penalty_exact(row, rational=True))


def test_penalty_exact_is_the_pairwise_definition():
    w = [Fraction(3), Fraction(-1, 3), 0.25, 7, -2.5]
    values = [Fraction(v) for v in w]
    pairs = sum(abs(a - b) for a, b in itertools.combinations(values, 2)) / (len(w) - 1)
    assert penalty_exact(w, rational=True) == pairs
    assert penalty_exact(w) == float(pairs)
    assert penalty_exact([5.0]) == 0.0 and penalty_exact([]) == 0.0
    assert penalty_exact([-1e308, 1e308, 1e308]) == np.inf     # 2e308 is past the largest float


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(data=st.data())
def test_torch_penalty_gradient_is_the_subgradient_at_every_magnitude(dtype, data):
    import torch

    import wsprox.torch
    w = data.draw(near_overflow(dtype, min_size=2, unique=True))
    t = torch.from_numpy(w).requires_grad_()
    wsprox.torch.penalty(t).backward()
    np.testing.assert_array_equal(t.grad.numpy(), wsprox.subgradient(w).astype(dtype))


def test_the_function_and_the_documented_module_both_resolve():
    import wsprox.regularizer

    assert callable(wsprox.penalty) and wsprox.penalty is wsprox.regularizer.penalty
    assert wsprox.regularizer.sorted_weights(3).tolist() == [-1.0, 0.0, 1.0]

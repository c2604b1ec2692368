"""The exact derivatives of the prox: ProxResult.vjp / jvp and wsprox.derivatives.

The prox is piecewise linear, so away from kinks a central difference is exact
up to rounding: every check below first makes sure that the prox at both ends
of the difference has the clusters (labels), zero set and signs of the prox at
the centre, which puts the whole segment on one linear piece (the pieces are
convex), and then asks for agreement to rounding.
"""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import wsprox
from conftest import lams, vectors
from wsprox.derivatives import check_direction, linearize

EPS = 1e-5


def distinct(min_d=1, max_d=12, max_rows=3):
    """(w, axis): a batch of rows without ties, proxed along axis (None: one vector)."""
    shapes = st.tuples(st.integers(1, max_rows), st.integers(min_d, max_d))
    return st.tuples(
        hnp.arrays(np.float64, shapes, elements=st.floats(-10, 10, allow_subnormal=False), unique=True),
        st.sampled_from([None, 0, 1]),
    )


def structure(res):
    return np.asarray(res.labels), np.sign(res.x)


def central_difference(w, lam, l1, axis, dw, dlam, dl1):
    """(x(+) - x(-)) / (2 EPS) where the prox is linear on the segment, else None."""
    centre = wsprox.prox_result(w, lam, l1=l1, axis=axis)
    ends = [wsprox.prox_result(w + s * EPS * dw, lam + s * EPS * dlam, l1=l1 + s * EPS * dl1, axis=axis)
            for s in (1, -1)]
    for end in ends:
        for a, b in zip(structure(centre), structure(end)):
            if not np.array_equal(a, b):
                return centre, None
    return centre, (ends[0].x - ends[1].x) / (2 * EPS)


directions = st.floats(-1, 1)


@given(wa=distinct(), lam=st.floats(1e-3, 20), l1=st.sampled_from([0.0, 0.3, 2.0]),
       seed=st.integers(0, 2**32 - 1), dlam=directions, dl1=directions)
def test_jvp_is_the_central_difference_away_from_kinks(wa, lam, l1, seed, dlam, dl1):
    w, axis = wa
    dw = np.random.default_rng(seed).standard_normal(w.shape)
    dl1 = dl1 if l1 else 0.0
    res, fd = central_difference(w, lam, l1, axis, dw, dlam, dl1)
    assume(fd is not None)
    np.testing.assert_allclose(res.jvp(dw, dlam=dlam, dl1=dl1), fd, rtol=0, atol=1e-8)
    # One argument at a time, too (the three terms are separately right).
    for args in ((dw, 0.0, 0.0), (0 * dw, dlam, 0.0), (0 * dw, 0.0, dl1)):
        _, fd = central_difference(w, lam, l1, axis, *args)
        if fd is not None:
            np.testing.assert_allclose(res.jvp(args[0], dlam=args[1], dl1=args[2]), fd, rtol=0, atol=1e-8)


@given(wa=distinct(), lam=st.floats(1e-3, 20), l1=st.sampled_from([0.0, 0.3, 2.0]),
       seed=st.integers(0, 2**32 - 1))
def test_vjp_is_the_central_difference_of_a_linear_loss(wa, lam, l1, seed):
    # grad of <g, prox> in w, lam and l1 from three central differences (one per argument).
    w, axis = wa
    rng = np.random.default_rng(seed)
    g, dw = rng.standard_normal(w.shape), rng.standard_normal(w.shape)
    res = wsprox.prox_result(w, lam, l1=l1, axis=axis)
    grad_w, grad_lam, grad_l1 = res.vjp(g)
    for direction, (dlam, dl1), got in ((dw, (0.0, 0.0), np.vdot(grad_w, dw)),
                                       (0 * dw, (1.0, 0.0), grad_lam),
                                       (0 * dw, (0.0, 1.0 if l1 else 0.0), grad_l1 if l1 else 0.0)):
        _, fd = central_difference(w, lam, l1, axis, direction, dlam, dl1)
        assume(fd is not None)
        np.testing.assert_allclose(got, np.vdot(g, fd), rtol=1e-9, atol=1e-8)


@given(w=vectors(max_size=16), lam=lams(20.0), l1=st.sampled_from([0.0, 0.1, 2.0]))
def test_the_jacobian_is_an_orthogonal_projection_and_vjp_its_transpose(w, lam, l1):
    # Ties allowed: the clusters give J = J^T = J^2 whatever they are.
    res = wsprox.prox_result(w, lam, l1=l1)
    eye = np.eye(w.size)
    by_jvp = np.stack([res.jvp(e) for e in eye], axis=1)          # columns J e_j
    by_vjp = np.stack([res.vjp(e)[0] for e in eye], axis=0)       # rows e_i^T J
    np.testing.assert_allclose(by_jvp, by_vjp, rtol=0, atol=1e-15)
    np.testing.assert_allclose(by_jvp, by_jvp.T, rtol=0, atol=1e-15)
    np.testing.assert_allclose(by_jvp @ by_jvp, by_jvp, rtol=0, atol=1e-14)
    # Its rank is the number of active clusters (of active entries for lam = 0, where ties part):
    # those that l1 > 0 does not threshold to 0.
    active = res.x != 0 if l1 > 0 else np.ones(w.size, bool)
    rank = np.unique(res.labels[active]).size if lam > 0 else np.count_nonzero(active)
    assert np.isclose(np.trace(by_jvp), rank)


@given(w=vectors(max_size=16), lam=lams(20.0), l1=st.sampled_from([0.0, 0.5]), data=st.data())
def test_vjp_is_the_adjoint_of_jvp(w, lam, l1, data):
    res = wsprox.prox_result(np.stack([w, w[::-1]]), lam, l1=l1, axis=1)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    g, dw = rng.standard_normal(res.x.shape), rng.standard_normal(res.x.shape)
    dlam, dl1 = rng.standard_normal(2)
    grad_w, grad_lam, grad_l1 = res.vjp(g)
    np.testing.assert_allclose(np.vdot(g, res.jvp(dw, dlam=dlam, dl1=dl1)),
                               np.vdot(grad_w, dw) + grad_lam * dlam + grad_l1 * dl1, rtol=1e-10, atol=1e-10)


def test_ties_average_for_positive_lam_and_part_at_lam_zero():
    w = np.array([1.0, 1.0, 5.0])
    res = wsprox.prox_result(w, 0.5)
    np.testing.assert_array_equal(res.labels, [0, 0, 1])
    # For lam > 0 the tie is stable: moving one entry moves both by half.
    np.testing.assert_allclose(res.jvp([1.0, 0.0, 0.0]), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(wsprox.prox(w + [1e-6, 0, 0], 0.5) - res.x, [5e-7, 5e-7, 0.0], atol=1e-15)
    # At lam = 0 the prox is the identity: the tie parts (the labels tie the entries, J does not).
    res0 = wsprox.prox_result(w, 0.0)
    np.testing.assert_array_equal(res0.labels, [0, 0, 1])
    np.testing.assert_array_equal(res0.jvp([1.0, 0.0, 0.0]), [1.0, 0.0, 0.0])
    # ... and lam's right derivative keeps the tie: it rises at the mean velocity (1 + 0) / 2.
    np.testing.assert_allclose(res0.jvp([0.0, 0.0, 0.0], dlam=1.0), [0.5, 0.5, -1.0])
    np.testing.assert_allclose(wsprox.prox(w, 1e-6) - w, [5e-7, 5e-7, -1e-6], atol=1e-15)


def test_the_zero_cluster_is_fixed_and_merged_zeros_are_one_cluster():
    # Two clusters on either side of 0 both threshold to 0: one label, no derivative at all.
    w = np.array([-0.3, -0.2, 0.2, 0.3, 5.0])
    res = wsprox.prox_result(w, 0.1, l1=1.0)
    assert np.unique(res.labels[:4]).size == 1 and np.all(res.x[:4] == 0)
    grad_w, grad_lam, grad_l1 = res.vjp(np.ones(5))
    np.testing.assert_array_equal(grad_w, [0, 0, 0, 0, 1])
    assert grad_l1 == -1.0
    assert grad_lam == pytest.approx(-1.0)            # the top entry falls at speed 1


def test_batches_are_proxed_and_differentiated_per_slice():
    w = np.random.default_rng(0).standard_normal((4, 3, 5))
    g = np.random.default_rng(1).standard_normal(w.shape)
    for axis in (0, 1, 2):
        res = wsprox.prox_result(w, 0.8, l1=0.1, axis=axis)
        grad_w, grad_lam, grad_l1 = res.vjp(g)
        moved_w, moved_g, moved_grad = (np.moveaxis(a, axis, -1).reshape(-1, w.shape[axis])
                                        for a in (w, g, grad_w))
        total_lam = total_l1 = 0.0
        for row, gr, want in zip(moved_w, moved_g, moved_grad):
            one = wsprox.prox_result(row, 0.8, l1=0.1).vjp(gr)
            np.testing.assert_allclose(want, one[0], rtol=0, atol=1e-15)
            total_lam, total_l1 = total_lam + one[1], total_l1 + one[2]
        assert grad_lam == pytest.approx(total_lam) and grad_l1 == pytest.approx(total_l1)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_derivatives_come_in_the_dtype_of_the_prox(dtype):
    res = wsprox.prox_result(np.array([3.0, 1.0, 2.0, 2.5], dtype=dtype), 1.0)
    assert res.vjp(np.ones(4))[0].dtype == dtype
    assert res.jvp(np.ones(4), dlam=1.0).dtype == dtype
    assert type(res.vjp(np.ones(4))[1]) is float


def test_short_and_empty_vectors():
    res = wsprox.prox_result([3.0], 5.0, l1=1.0)        # d = 1: soft thresholding
    assert res.vjp([2.0]) == (np.array([2.0]), 0.0, -2.0)
    for shape, axis in (((0,), None), ((2, 0), 1), ((0, 3), 1), ((), None)):
        res = wsprox.prox_result(np.full(shape, 2.0), 1.0, axis=axis)
        grad_w, grad_lam, grad_l1 = res.vjp(np.ones(shape))
        assert grad_w.shape == shape and grad_lam == 0.0 and grad_l1 == -np.ones(shape).sum()
        assert res.jvp(np.ones(shape), dlam=1.0).shape == shape


def test_linearize_on_rows_directly():
    res = wsprox.prox_result([[0.0, 1.0, 10.0], [4.0, 4.0, -4.0]], 2.0, axis=1)
    lin = linearize(res.labels, res.x, 2.0)
    np.testing.assert_allclose(lin.velocity, [[0.5, 0.5, -1.0], [-0.5, -0.5, 1.0]])
    np.testing.assert_array_equal(lin.count, [[2, 2, 1], [2, 2, 1]])


@pytest.mark.parametrize("call, error, match", [
    (lambda r: r.vjp(np.ones(4)), ValueError, r"g has shape \(4,\), expected \(3,\)"),
    (lambda r: r.vjp([1.0, np.nan, 0.0]), ValueError, "g contains NaN at index 1"),
    (lambda r: r.vjp(np.ones(3, dtype=complex)), TypeError, "g must hold real numbers"),
    (lambda r: r.jvp(np.ones(2)), ValueError, r"dw has shape \(2,\)"),
    (lambda r: r.jvp(np.ones(3), dlam=np.inf), ValueError, "dlam must be finite, got inf"),
    (lambda r: r.jvp(np.ones(3), dl1="1"), TypeError, "dl1 must be a real scalar, got str"),
])
def test_bad_arguments_are_named(call, error, match):
    res = wsprox.prox_result([0.0, 1.0, 10.0], 2.0)
    with pytest.raises(error, match=match):
        call(res)


def test_check_direction_takes_any_sign():
    assert check_direction(np.float32(-2.5), "dlam") == -2.5
    with pytest.raises(TypeError, match="dlam must be a real scalar, got bool"):
        check_direction(True, "dlam")


@pytest.mark.parametrize("w, lam, g, expected", [
    ([-3.0, -0.5, 1.0, 4.0], 1.5, [0, 1, 0, 0], [0, 1, 0, 0]),   # a cluster whose value is exactly 0
    ([1.0, 2.0, 3.0], 0.0, [1, 2, 3], [1, 2, 3]),                 # lam = 0: the identity
    ([0.0, 0.0, 0.0, 0.0], 1.0, [1, 0, 0, 0], [0.25] * 4),         # zero-initialised weights
])
def test_a_cluster_at_zero_moves_when_l1_is_zero(w, lam, g, expected):
    # Only l1 > 0 thresholds a cluster; the central difference agrees.
    res = wsprox.prox_result(w, lam)
    assert np.count_nonzero(res.x == 0) >= 1 or lam == 0
    np.testing.assert_allclose(res.vjp(g)[0], expected, atol=1e-12)
    rng = np.random.default_rng(0)
    dw = rng.standard_normal(len(w)) if lam else np.array(g, float)
    fd = (wsprox.prox(np.add(w, EPS * dw), lam) - wsprox.prox(np.subtract(w, EPS * dw), lam)) / (2 * EPS)
    np.testing.assert_allclose(res.jvp(dw), fd, atol=1e-8)


def test_a_cluster_at_zero_is_inactive_when_l1_thresholds_it():
    res = wsprox.prox_result([-3.0, 0.1, 2.0, 2.5], 1.0, l1=0.5)
    assert res.x[1] == 0
    np.testing.assert_array_equal(res.vjp([0, 1, 0, 0])[0], 0)

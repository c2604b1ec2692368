"""wsprox.jax: the prox as a JAX function (jit, vmap, jvp, grad) and the jaxopt prox."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

jax = pytest.importorskip("jax")
jaxopt = pytest.importorskip("jaxopt")

import jax.numpy as jnp

import wsprox
import wsprox.jax as wj
from conftest import lams, vectors


def x64():
    """A context in which JAX computes in float64 by default."""
    return jax.enable_x64(True)


def normal_vectors(**sizes):
    """Vectors, often with ties, without subnormal numbers (XLA on the CPU flushes them to zero)."""
    return vectors(**sizes, elements=st.one_of(
        st.integers(-5, 5).map(float),
        st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, allow_subnormal=False),
    ))


def numpy_derivatives(w, lam, l1=0.0):
    """The Jacobian and d/dlam, d/dl1 of the prox from its clusters, by the formula, in NumPy."""
    res = wsprox.prox_result(w, lam, l1=l1)
    d = w.size
    same = res.labels[:, None] == res.labels[None, :]
    alive = res.x != 0 if l1 > 0 else np.ones(d, bool)      # only l1 > 0 thresholds a cluster
    jac = (same / same.sum(axis=1, keepdims=True) if lam > 0 else np.eye(d)) * alive[:, None]
    ranks = np.empty(d)
    ranks[np.argsort(w, kind="stable")] = np.arange(1, d + 1)
    velocity = (d + 1 - 2 * ranks) / (d - 1) if d > 1 else np.zeros(d)
    dlam = np.array([velocity[res.labels == g].mean() for g in res.labels]) * alive
    return jac, dlam, -np.sign(res.x)


# ---------------------------------------------------------------- values and dtypes

@given(w=normal_vectors(max_size=20), lam=lams(), l1=st.sampled_from([0.0, 0.1, 3.0]))
def test_prox_equals_wsprox_prox(w, lam, l1):
    with x64():
        np.testing.assert_array_equal(np.asarray(wj.prox(w, lam, l1=l1)), wsprox.prox(w, lam, l1=l1))


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_prox_along_an_axis_equals_wsprox_prox(axis):
    w = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    got = wj.prox(jnp.asarray(w), 0.7, l1=0.1, axis=axis)
    assert got.dtype == jnp.float32
    # float32 computes with the weights rounded to float32
    lam, l1 = float(np.float32(0.7)), float(np.float32(0.1))
    np.testing.assert_array_equal(np.asarray(got), wsprox.prox(w, lam, l1=l1, axis=axis))


def test_dtypes_follow_the_input():
    w = np.array([0.0, 1.0, 10.0, -2.5])
    assert wj.prox(jnp.asarray(w), 1.0).dtype == jnp.float32          # JAX's default
    assert wj.prox(jnp.arange(4), 1.0).dtype == jnp.float32           # integers: the default float
    with x64():
        got = wj.prox(jnp.asarray(w), 1.0)
        assert got.dtype == jnp.float64
        np.testing.assert_array_equal(np.asarray(got), wsprox.prox(w, 1.0))
        assert wj.prox(jnp.arange(4), 1.0).dtype == jnp.float64
    for half in (jnp.float16, jnp.bfloat16):   # computed in float32, returned in the input dtype
        got = wj.prox(jnp.asarray(w, half), 1.0)
        assert got.dtype == half
        exact = wsprox.prox(np.asarray(jnp.asarray(w, half).astype(jnp.float32)), 1.0)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(jnp.asarray(exact).astype(half)))


def test_empty_and_single_entry():
    assert wj.prox(jnp.zeros((0, 3)), 1.0, axis=1).shape == (0, 3)
    np.testing.assert_array_equal(wj.prox(jnp.array([2.0]), 5.0, l1=0.5), [1.5])
    assert float(jax.grad(lambda lam: wj.prox(jnp.array([2.0]), lam)[0])(5.0)) == 0.0


# ---------------------------------------------------------------- jit and vmap

def test_jit_equals_eager():
    w = jnp.asarray(np.random.default_rng(1).normal(size=(4, 6)), jnp.float32)
    f = jax.jit(wj.prox, static_argnames=("method", "axis"))
    for method in ("pava", "end_collisions"):
        np.testing.assert_array_equal(f(w, 0.5, l1=0.05, method=method, axis=1),
                                      wj.prox(w, 0.5, l1=0.05, method=method, axis=1))
    traced_weights = jax.jit(lambda w, lam, l1: wj.prox(w, lam, l1=l1))
    np.testing.assert_array_equal(traced_weights(w, 0.5, 0.05), wj.prox(w, 0.5, l1=0.05))


@pytest.mark.parametrize("axis", [None, 0])
def test_vmap_equals_a_loop(axis):
    rng = np.random.default_rng(2)
    w = jnp.asarray(rng.normal(size=(5, 4, 3)), jnp.float32)
    lam = jnp.asarray([0.0, 0.3, 1.0, 2.0, 9.0], jnp.float32)

    def loop(ws, lams, l1s):
        return jnp.stack([wj.prox(v, a, l1=b, axis=axis) for v, a, b in zip(ws, lams, l1s)])

    def f(v, a, b):
        return wj.prox(v, a, l1=b, axis=axis)

    ones = jnp.ones(5)
    # batched x, shared weights: one host call for the batch
    np.testing.assert_array_equal(jax.vmap(f, (0, None, None))(w, 0.7, 0.1), loop(w, 0.7 * ones, 0.1 * ones))
    # batched weights, shared x; and everything batched, under jit
    np.testing.assert_array_equal(jax.vmap(f, (None, 0, None))(w[0], lam, 0.1),
                                  loop(jnp.broadcast_to(w[0], w.shape), lam, 0.1 * ones))
    np.testing.assert_array_equal(jax.jit(jax.vmap(f))(w, lam, lam / 10), loop(w, lam, lam / 10))
    # a batch axis that is not the first one, and nested vmaps
    np.testing.assert_array_equal(jax.vmap(f, (1, None, None), out_axes=1)(w, 0.7, 0.0),
                                  jnp.stack([f(w[:, i], 0.7, 0.0) for i in range(4)], axis=1))
    nested = jax.vmap(jax.vmap(lambda v: wj.prox(v, 0.7)))(w)
    np.testing.assert_array_equal(nested, jnp.stack([jnp.stack([wj.prox(r, 0.7) for r in m]) for m in w]))


def test_vmap_of_grad_equals_a_loop_of_grads():
    w = jnp.asarray(np.random.default_rng(3).normal(size=(4, 6)), jnp.float32)
    c = jnp.arange(6.0)

    def loss(v, lam):
        return jnp.dot(c, wj.prox(v, lam, l1=0.05))

    lam = jnp.asarray([0.1, 0.5, 1.0, 3.0])
    got = jax.jit(jax.vmap(jax.grad(loss, argnums=(0, 1))))(w, lam)
    for i in range(4):
        want = jax.grad(loss, argnums=(0, 1))(w[i], lam[i])
        np.testing.assert_allclose(got[0][i], want[0], rtol=1e-6)
        np.testing.assert_allclose(got[1][i], want[1], rtol=1e-6)


# ---------------------------------------------------------------- derivatives

@pytest.mark.parametrize("lam, l1", [(0.3, 0.0), (2.0, 0.0), (2.0, 0.4), (30.0, 0.0), (0.0, 0.5)])
def test_gradient_matches_finite_differences(lam, l1):
    # The prox is piecewise linear: away from ties central differences are exact up to rounding.
    rng = np.random.default_rng(4)
    with x64():
        w = jnp.asarray(rng.normal(size=9))
        c = jnp.asarray(rng.normal(size=9))

        def loss(v, a, b):
            return jnp.dot(c, wj.prox(v, a, l1=b))

        grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(w, lam, l1)
        h = 1e-6
        fd_w = [(loss(w.at[i].add(h), lam, l1) - loss(w.at[i].add(-h), lam, l1)) / (2 * h) for i in range(9)]
        fd_lam = (loss(w, lam + h, l1) - loss(w, lam - h, l1)) / (2 * h) if lam else None
        fd_l1 = (loss(w, lam, l1 + h) - loss(w, lam, l1 - h)) / (2 * h) if l1 else None
        np.testing.assert_allclose(grads[0], fd_w, atol=1e-8)
        if fd_lam is not None:
            np.testing.assert_allclose(grads[1], fd_lam, atol=1e-8)
        if fd_l1 is not None:
            np.testing.assert_allclose(grads[2], fd_l1, atol=1e-8)


@jax.jit
def _jacobians(x, lam, l1):
    """Forward and reverse Jacobians of the prox in (x, lam), and d/dl1, compiled once per shape."""
    forward = jax.jacfwd(wj.prox, argnums=(0, 1))(x, lam, l1=l1)
    reverse = jax.jacrev(wj.prox, argnums=(0, 1))(x, lam, l1=l1)
    return forward, reverse, jax.jacfwd(lambda b: wj.prox(x, lam, l1=b))(l1)


@settings(max_examples=30)
@given(w=normal_vectors(min_size=7, max_size=7), lam=lams(10.0), l1=st.sampled_from([0.0, 0.2]))
def test_jacobians_are_the_cluster_formula_also_at_ties(w, lam, l1):
    jac, dlam, dl1 = numpy_derivatives(w, lam, l1)
    with x64():
        forward, reverse, by_l1 = _jacobians(jnp.asarray(w), lam, l1)
    for got in (forward, reverse):
        np.testing.assert_allclose(got[0], jac, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(got[1], dlam, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(by_l1, dl1)


def test_jacobian_at_lam_zero_is_diagonal_even_at_ties():
    # lam = 0 is soft thresholding: tied entries move on their own (averaging them was wrong).
    x = jnp.asarray([1.0, 1.0, 3.0, 4.0])
    np.testing.assert_array_equal(jax.jacrev(wj.prox)(x, 0.0), np.eye(4))
    np.testing.assert_array_equal(jax.jacfwd(lambda v: wj.prox(v, 0.0, l1=1.5))(x), np.diag([0, 0, 1, 1]))
    # the derivative in lam is the right derivative: the tied pair (ranks 1, 2) moves as one cluster
    np.testing.assert_allclose(jax.grad(lambda lam: wj.prox(x, lam)[0])(0.0), (1 + 1 / 3) / 2, rtol=1e-6)


@jax.jit
def _products(x, lam, l1, g):
    """The VJP of ``g`` in (x, lam, l1) and the JVP of (g, 0.5, -2)."""
    def f(v, a, b):
        return wj.prox(v, a, l1=b)

    return jax.vjp(f, x, lam, l1)[1](g), jax.jvp(f, (x, lam, l1), (g, 0.5, -2.0))[1]


@given(w=normal_vectors(min_size=7, max_size=7), lam=lams(10.0), l1=st.sampled_from([0.0, 0.2]))
@settings(max_examples=20)
def test_products_equal_those_of_the_numpy_result(w, lam, l1):
    res = wsprox.prox_result(w, lam, l1=l1)
    g = np.arange(7.0) - 3
    with x64():
        got, jvp = _products(jnp.asarray(w), lam, l1, jnp.asarray(g))
    for a, b in zip(got, res.vjp(g)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(jvp, res.jvp(g, dlam=0.5, dl1=-2.0), rtol=1e-12, atol=1e-12)


def test_jacobian_along_an_axis_is_block_diagonal():
    w = np.random.default_rng(5).normal(size=(3, 4))
    with x64():
        jac = jax.jacrev(lambda v: wj.prox(v, 1.5, axis=0))(jnp.asarray(w))   # shape (3, 4, 3, 4)
    for j in range(4):
        np.testing.assert_allclose(jac[:, j, :, j], numpy_derivatives(w[:, j], 1.5)[0], rtol=1e-12)
        for k in set(range(4)) - {j}:
            assert not np.asarray(jac[:, j, :, k]).any()


def test_float32_gradient_is_float32():
    w = jnp.asarray([0.0, 1.0, 10.0])
    g = jax.grad(lambda v: wj.prox(v, 2.0)[0])(w)
    assert g.dtype == jnp.float32
    np.testing.assert_allclose(g, [0.5, 0.5, 0.0])
    assert jax.grad(lambda v: wj.prox(v, 2.0)[0])(w.astype(jnp.bfloat16)).dtype == jnp.bfloat16


# ---------------------------------------------------------------- jaxopt

def _cvxpy_composite(A, b, lam, l1):
    """min 0.5 ||A x - b||^2 + lam R(x) + l1 ||x||_1, with R written pairwise."""
    import cvxpy as cp

    d = A.shape[1]
    x = cp.Variable(d)
    i, j = np.triu_indices(d, k=1)
    objective = 0.5 * cp.sum_squares(A @ x - b) + lam / (d - 1) * cp.norm1(x[i] - x[j]) + l1 * cp.norm1(x)
    cp.Problem(cp.Minimize(objective)).solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12,
                                               tol_feas=1e-12)
    return x.value


@pytest.mark.parametrize("hyperparams", [1.5, (1.5, 0.3)])
def test_jaxopt_proximal_gradient_matches_cvxpy(hyperparams):
    pytest.importorskip("cvxpy")
    rng = np.random.default_rng(6)
    A = rng.normal(size=(15, 6))
    b = A @ np.array([1.0, 1.0, 1.0, -2.0, -2.0, 0.5]) + 0.1 * rng.normal(size=15)
    lam, l1 = hyperparams if isinstance(hyperparams, tuple) else (hyperparams, 0.0)
    with x64():
        Aj, bj = jnp.asarray(A), jnp.asarray(b)

        def least_squares(x):
            return 0.5 * jnp.sum((Aj @ x - bj) ** 2)

        step = 1 / np.linalg.norm(A, 2) ** 2   # a fixed step 1/L: no line search, fast convergence
        solver = jaxopt.ProximalGradient(fun=least_squares, prox=wj.prox_jaxopt, stepsize=step, tol=1e-12,
                                         maxiter=5000)
        got = np.asarray(solver.run(jnp.zeros(6), hyperparams_prox=hyperparams).params)
    want = _cvxpy_composite(A, b, lam, l1)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert len(np.unique(got)) < 6   # the penalty made weights share values


def test_prox_jaxopt_scales_the_penalty_and_maps_pytrees():
    tree = {"a": jnp.asarray([0.0, 1.0, 10.0]), "b": jnp.asarray([[3.0, -3.0]])}
    got = wj.prox_jaxopt(tree, (1.0, 0.25), scaling=2.0)
    for key, leaf in tree.items():
        np.testing.assert_array_equal(got[key], wj.prox(leaf, 2.0, l1=0.5))
    np.testing.assert_array_equal(wj.prox_jaxopt(tree["a"], 1.0, 2.0), wj.prox(tree["a"], 2.0))


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("call, error, match", [
    (lambda: wj.prox(jnp.asarray([1.0, jnp.nan]), 1.0), ValueError, r"x contains NaN at index 1"),
    (lambda: wj.prox(jnp.ones(2), -1.0), ValueError, "lam must be non-negative"),
    (lambda: wj.prox(jnp.ones(2), 1.0, l1=float("inf")), ValueError, "l1 must be finite"),
    (lambda: wj.prox(jnp.ones(2), jnp.ones(2)), TypeError, r"lam must be a real scalar, got an array of shape"),
    (lambda: wj.prox(jnp.ones(2, jnp.complex64), 1.0), TypeError, "x must hold real numbers"),
    (lambda: wj.prox(jnp.ones(2), 1.0, method="nope"), ValueError, "unknown method 'nope'"),
    (lambda: wj.prox(jnp.ones(2), 1.0, axis=1), ValueError, "axis 1 is out of bounds"),
    (lambda: jax.jit(wj.prox)(jnp.ones(2), jnp.ones(2)), TypeError, "lam must be a real scalar, got a traced"),
    (lambda: wj.prox_jaxopt(jnp.ones(2), (1.0, 0.1, 2.0)), ValueError, "hyperparams must be lam or"),
])
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_bad_traced_values_fail_in_the_callback_with_the_message():
    with pytest.raises(jax.errors.JaxRuntimeError, match=r"x contains NaN at index 1;"):
        jax.jit(wj.prox)(jnp.asarray([1.0, jnp.nan]), 1.0).block_until_ready()
    with pytest.raises(jax.errors.JaxRuntimeError, match="lam must be non-negative"):
        jax.jit(wj.prox)(jnp.ones(2), -1.0).block_until_ready()


@pytest.mark.parametrize("axis", [None, 1])
def test_jit_names_a_bad_entry_as_eager_does(axis):
    x = jnp.zeros((2, 3)).at[1, 2].set(jnp.inf)
    with pytest.raises(ValueError) as eager:
        wj.prox(x, 1.0, axis=axis)
    assert "x contains +inf at index (1, 2)" in str(eager.value)
    with pytest.raises(jax.errors.JaxRuntimeError, match=r"x contains \+inf at index \(1, 2\)"):
        jax.jit(wj.prox, static_argnames="axis")(x, 1.0, axis=axis).block_until_ready()


@pytest.mark.parametrize("w, lam, expected", [
    (np.zeros(3), 1.0, np.full((3, 3), 1 / 3)),                       # one cluster at 0
    (np.array([-3.0, -0.5, 1.0, 4.0]), 1.5, None),                     # a cluster whose value is 0
    (np.array([1.0, 2.0, 3.0]), 0.0, np.eye(3)),                       # lam = 0: the identity
])
def test_a_cluster_at_zero_is_differentiated_when_l1_is_zero(w, lam, expected):
    jac = np.asarray(jax.jacobian(lambda v: wj.prox(v, lam))(jnp.asarray(w, jnp.float32)))
    if expected is None:       # the NumPy products, which central differences check
        expected = np.stack([wsprox.prox_result(w, lam).vjp(e)[0] for e in np.eye(w.size)])
    np.testing.assert_allclose(jac, expected, atol=1e-6)


def test_second_order_derivatives_compose():
    # (prox(x)^2).sum() has the Hessian 2 J^T J = 2 J (J a projection), as torch's double backward.
    x = jnp.array([0.0, 1.0, 3.0, 10.0, 10.5])
    J = np.stack([wsprox.prox_result(np.asarray(x, float), 0.4).vjp(e)[0] for e in np.eye(5)])

    def loss(v):
        return (wj.prox(v, 0.4) ** 2).sum()

    np.testing.assert_allclose(jax.hessian(loss)(x), 2 * J, atol=1e-6)
    np.testing.assert_allclose(jax.jacfwd(jax.grad(loss))(x), 2 * J, atol=1e-6)
    np.testing.assert_allclose(jax.jacrev(jax.grad(loss))(x), 2 * J, atol=1e-6)
    # In lam: d/dlam of grad_x loss = 2 J v (v the velocities), against a central difference.
    mixed = jax.jacfwd(jax.grad(lambda v, lam: (wj.prox(v, lam) ** 2).sum()), argnums=1)(x, 0.4)
    fd = (jax.grad(loss)(x) * 0 + jax.grad(lambda v: (wj.prox(v, 0.4 + 1e-3) ** 2).sum())(x)
          - jax.grad(lambda v: (wj.prox(v, 0.4 - 1e-3) ** 2).sum())(x)) / 2e-3
    np.testing.assert_allclose(mixed, fd, atol=1e-3)

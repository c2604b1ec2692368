r"""JAX integration: the prox as a differentiable JAX function, and a jaxopt prox.

:func:`prox` computes the exact prox on the host (a :func:`jax.pure_callback`
into :func:`wsprox.prox_result`) and differentiates it exactly with a custom
JVP, so it works under :func:`jax.jit`, :func:`jax.vmap`, :func:`jax.jvp`,
:func:`jax.grad` and their compositions; :func:`prox_jaxopt` is the same
operator with the signature jaxopt's solvers expect of a prox (for
``jaxopt.ProximalGradient``).

**The derivative.** The prox :math:`y` of :math:`x` is piecewise linear. With
the clusters :math:`G` of the result (the entries that share a value,
``ProxResult.labels``; each is a run of sorted ranks :math:`k`) and
:math:`y_G` the value of a cluster,

.. math::

    \frac{\partial y}{\partial x} = \sum_{G:\,y_G \ne 0} \frac{1_G 1_G^\top}{|G|},
    \qquad
    \frac{\partial y_G}{\partial \lambda} = \frac{1}{|G|}\sum_{k \in G} \frac{d + 1 - 2k}{d - 1},
    \qquad
    \frac{\partial y_G}{\partial \ell_1} = -\operatorname{sign}(y_G),

and all three vanish on the entries that ``l1`` thresholds to 0: the Jacobian
averages the tangent within each cluster, and a cluster moves with the mean
velocity of its particles. For :math:`\lambda = 0` the prox is soft
thresholding and the Jacobian is diagonal, whatever ties ``x`` has; the
derivative in :math:`\lambda` there is the right derivative. Where the
clusters are stable (no two clusters about to merge or split, no value at
:math:`\pm\ell_1` before thresholding) this is the derivative; at such kinks
it is the element of the generalised Jacobian that the clusters of the result
give, as in :mod:`wsprox.derivatives` (the NumPy products). ``jax.grad``
differentiates it by transposing the JVP, so both directions are exact and
cost :math:`O(d)` on top of the prox.

JAX is an optional dependency: ``import wsprox`` never imports it,
``import wsprox.jax`` does (the ``jax`` extra: ``pip install -e ".[jax]"`` in a
checkout).
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ._extras import require

jax = require("jax", extra="jax", feature="wsprox.jax")
jnp = require("jax.numpy", extra="jax", feature="wsprox.jax")

from ._backend import METHODS
from ._prox import prox_result
from ._rows import from_rows, to_rows
from ._validation import check_choice, check_penalty_weight, normalize_axis
from .core.validation import finite_magnitude
from .derivatives import linearize

__all__ = ["prox", "prox_jaxopt"]


def prox(x: Any, lam: Any, *, l1: Any = 0.0, method: str = "auto", axis: int | None = None) -> jax.Array:
    r"""The exact proximal operator of :math:`\lambda R + \ell_1 \|\cdot\|_1` as a JAX function.

    .. math::

        \operatorname{prox}(x) = \arg\min_y \tfrac12\|y - x\|^2
            + \lambda R(y) + \ell_1 \|y\|_1,
        \qquad R(y) = \frac{1}{d-1}\sum_{i>j}|y_i - y_j|.

    Differentiable in ``x``, ``lam`` and ``l1`` (the derivative of the module
    docstring, exact), and usable under :func:`jax.jit` and :func:`jax.vmap`
    (one host call for the whole batch when ``lam`` and ``l1`` are the same
    for every element).

    Parameters
    ----------
    x : jax.Array or array_like
        Real, finite values (any shape). Floating dtypes are kept (float32,
        the JAX default, stays float32; float64 needs ``jax_enable_x64``);
        float16 and bfloat16 are computed in float32 and returned in their
        own dtype; integers and booleans give JAX's default float dtype.
    lam : float or scalar jax.Array
        Weight of the weight-sharing penalty, finite and ``>= 0``; like
        ``l1``, it is rounded to the dtype of the computation (float32
        unless ``x`` is float64), and the result is the exact prox for the
        rounded weights.
    l1 : float or scalar jax.Array, optional
        Weight of the L1 penalty, finite and ``>= 0``.
    method : str, optional
        The collision algorithm of the CPU backend (see :func:`wsprox.prox`);
        ``"auto"`` picks the fastest.
    axis : int or None, optional
        ``None`` (default) treats ``x`` as one flattened vector; an integer
        proxes every 1-D slice along that axis independently.

    Returns
    -------
    jax.Array
        The prox, of ``x``'s shape and dtype (see ``x``).

    Raises
    ------
    TypeError
        ``x`` complex or not numeric; ``lam`` or ``l1`` not a real scalar.
    ValueError
        An unknown ``method``, an axis out of range; and, for values known
        when :func:`prox` is called (not traced), NaN or infinity in ``x``,
        ``lam`` or ``l1`` negative or not finite. Traced values are checked
        in the host callback: a bad one makes the computation fail with a
        :class:`jax.errors.JaxRuntimeError` that carries the same message.

    Notes
    -----
    The prox runs on the host CPU (the arrays are copied there and back by
    :func:`jax.pure_callback`); the derivative is computed with ``jnp``
    operations on the cluster labels, on the device. XLA on the CPU flushes
    subnormal numbers to zero, so JAX hands them to the prox as zeros. Under
    :func:`jax.jit`, ``method`` and ``axis`` are static arguments
    (``jax.jit(prox, static_argnames=("method", "axis"))``); ``lam`` and
    ``l1`` may be traced.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> import wsprox.jax as wj
    >>> x = jnp.array([0.0, 1.0, 10.0])
    >>> wj.prox(x, 2.0)                          # the two small weights share a value
    Array([1.5, 1.5, 8. ], dtype=float32)
    >>> jax.jacobian(wj.prox)(x, 2.0)            # averages within each cluster
    Array([[0.5, 0.5, 0. ],
           [0.5, 0.5, 0. ],
           [0. , 0. , 1. ]], dtype=float32)
    >>> jax.grad(lambda lam: wj.prox(x, lam)[2])(2.0)   # the top weight's velocity is -1
    Array(-1., dtype=float32, weak_type=True)
    >>> jax.jit(jax.vmap(wj.prox, in_axes=(0, None)))(jnp.array([[0.0, 4.0], [1.0, 1.5]]), 1.0)
    Array([[1.  , 3.  ],
           [1.25, 1.25]], dtype=float32)
    """
    x = jnp.asarray(x)
    if not (jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype, jnp.integer)
            or x.dtype == jnp.bool_):
        raise TypeError(f"x must hold real numbers (bool, integer or floating), got dtype {x.dtype}")
    method = check_choice(method, "method", ("auto", *METHODS))
    axis = normalize_axis(axis, x.ndim)
    dtype = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.result_type(float)
    work = jnp.float32 if jnp.finfo(dtype).bits < 32 else dtype
    xw = x.astype(work)
    lam = _weight(lam, "lam", work)
    l1 = _weight(l1, "l1", work)
    if x.size == 0:
        return xw.astype(dtype)
    if not isinstance(xw, jax.core.Tracer):
        finite_magnitude(np.asarray(xw), "x")
    return _prox(xw, lam, l1, method, axis).astype(dtype)


def prox_jaxopt(x: Any, hyperparams: Any, scaling: Any = 1.0) -> Any:
    r"""The prox in jaxopt's convention: ``prox(x, hyperparams, scaling)``.

    Returns :math:`\operatorname{prox}_{s(\lambda R + \ell_1\|\cdot\|_1)}(x)`
    for ``hyperparams = lam`` or ``(lam, l1)`` and ``scaling`` :math:`s` (the
    step size jaxopt's proximal solvers pass), with :func:`prox` applied to
    every leaf of the pytree ``x`` as one flattened vector: the prox of the
    separable penalty :math:`\sum_{\text{leaves}} s(\lambda R + \ell_1\|\cdot\|_1)`.

    Parameters
    ----------
    x : jax.Array or pytree of arrays
        The point (the parameters of the solver).
    hyperparams : float, scalar array, or tuple ``(lam, l1)``
        The penalty weights, ``>= 0``.
    scaling : float or scalar array, optional
        The factor :math:`s > 0` of the penalty.

    Returns
    -------
    jax.Array or pytree of arrays
        The prox, of ``x``'s structure, shapes and dtypes.

    Examples
    --------
    Least squares with shared weights, solved by jaxopt:

    >>> import jax.numpy as jnp, jaxopt, numpy as np
    >>> from wsprox.jax import prox_jaxopt
    >>> A = jnp.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    >>> b = jnp.array([1.0, 1.2, 3.0, 5.0])
    >>> def least_squares(w):
    ...     return 0.5 * jnp.sum((A @ w - b) ** 2)
    >>> solver = jaxopt.ProximalGradient(fun=least_squares, prox=prox_jaxopt, tol=1e-6)
    >>> np.asarray(solver.run(jnp.zeros(3), hyperparams_prox=1.0).params).round(3)   # two shared
    array([1.55, 1.55, 1.95], dtype=float32)
    """
    if isinstance(hyperparams, (tuple, list)):
        if len(hyperparams) != 2:
            raise ValueError(f"hyperparams must be lam or (lam, l1), got a sequence of length {len(hyperparams)}")
        lam, l1 = hyperparams
    else:
        lam, l1 = hyperparams, 0.0
    return jax.tree_util.tree_map(lambda leaf: prox(leaf, lam * scaling, l1=l1 * scaling), x)


def _weight(value, name, dtype):
    """``lam`` or ``l1`` as a scalar array of ``dtype``, checked when it is not traced."""
    if isinstance(value, jax.core.Tracer):
        if value.shape != () or not (jnp.issubdtype(value.dtype, jnp.floating)
                                     or jnp.issubdtype(value.dtype, jnp.integer)):
            raise TypeError(f"{name} must be a real scalar, got a traced array of shape {value.shape} "
                            f"and dtype {value.dtype}")
        return value.astype(dtype)
    if isinstance(value, jax.Array):
        value = np.asarray(value)
    return jnp.asarray(check_penalty_weight(value, name), dtype)


def _host(x, lam, l1, *, method, axis, core_ndim):
    """The prox and its clusters on the host, for ``x`` with leading batch axes (from :func:`jax.vmap`).

    ``lam`` and ``l1`` carry the batch axes too (of size 1 when not batched):
    one :func:`wsprox.prox_result` call proxes the whole batch when they are
    the same everywhere, else one call per batch element. Returns the prox,
    the labels, the signs of the prox and ``lam > 0`` (decided here: XLA on
    the CPU flushes subnormal numbers to zero, so ``jnp`` would see a
    subnormal value or ``lam`` as 0).
    """
    x, lam, l1 = np.asarray(x), np.asarray(lam), np.asarray(l1)
    finite_magnitude(x, "x")          # the index in x as the caller sees it (with vmap's axes in front)
    lead = x.ndim - core_ndim
    batch = np.broadcast_shapes(x.shape[:lead], lam.shape, l1.shape)
    core = x.shape[lead:]
    x = np.broadcast_to(x, batch + core).reshape((-1, *core))
    lam, l1 = np.broadcast_to(lam, batch).ravel(), np.broadcast_to(l1, batch).ravel()
    rows, along = (x.reshape(len(x), -1), 1) if axis is None else (x, axis + 1)
    y = np.empty(rows.shape, x.dtype)
    labels = np.empty(rows.shape, np.int32)
    uniform = len(x) > 0 and (lam == lam[0]).all() and (l1 == l1[0]).all()
    for part in [slice(None)] if uniform else [slice(i, i + 1) for i in range(len(x))]:
        res = prox_result(rows[part], lam[part][0], l1=l1[part][0], method=method, axis=along)
        y[part], labels[part] = res.x, res.labels
    y, labels = y.reshape(batch + core), labels.reshape(batch + core)
    return y, labels, np.sign(y).astype(np.int8), (lam > 0).reshape(batch), (l1 > 0).reshape(batch)


def _solve(x, lam, l1, method, axis):
    shapes = (jax.ShapeDtypeStruct(x.shape, x.dtype), jax.ShapeDtypeStruct(x.shape, jnp.int32),
              jax.ShapeDtypeStruct(x.shape, jnp.int8), jax.ShapeDtypeStruct((), jnp.bool_),
              jax.ShapeDtypeStruct((), jnp.bool_))
    host = functools.partial(_host, method=method, axis=axis, core_ndim=x.ndim)
    return jax.pure_callback(host, shapes, x, lam, l1, vmap_method="expand_dims")


@functools.partial(jax.custom_jvp, nondiff_argnums=(3, 4))
def _prox(x, lam, l1, method, axis):
    return _solve(x, lam, l1, method, axis)[0]


@_prox.defjvp
def _prox_jvp(method, axis, primals, tangents):
    # The clusters are piecewise constant in the arguments: computed from the primals with their
    # derivatives stopped, so that differentiating this rule again (jax.hessian, jacfwd of grad)
    # never differentiates the host callback. The result is y plus the tangent map applied to
    # (argument - stopped argument), which is 0 in value and has the derivative J: a second
    # differentiation sees the prox's own first derivative, as torch's double backward does.
    stopped = [jax.lax.stop_gradient(a) for a in primals]
    y, *clusters = _solve(*stopped, method, axis)
    y = y + _tangent(*clusters, *(a - s for a, s in zip(primals, stopped)), axis)
    return y, _tangent(*clusters, *tangents, axis)


def _tangent(labels, sign, shared, thresholds, dx, dlam, dl1, axis):
    """The JVP of the prox from its clusters (:func:`wsprox.derivatives.linearize`): linear in the
    tangents ``dx``, ``dlam``, ``dl1``."""
    lin = linearize(to_rows(labels, axis, xp=jnp), to_rows(sign, axis, xp=jnp).astype(dx.dtype), shared,
                    l1=thresholds, xp=jnp)
    return from_rows(lin.jvp(to_rows(dx, axis, xp=jnp), dlam, dl1), labels.shape, axis, xp=jnp)

r"""Proximal gradient for a smooth loss plus weight sharing: FISTA with a certificate.

:func:`minimize_composite` solves the composite problem

.. math::

    \min_x\ F(x) = f(x) + \lambda R(x) + \ell_1 \|x\|_1,
    \qquad R(x) = \frac{1}{d-1}\sum_{i>j}|x_i - x_j|,

for a convex, differentiable :math:`f` with a Lipschitz gradient, by
proximal gradient steps :math:`x^+ = \operatorname{prox}_{t(\lambda R +
\ell_1\|\cdot\|_1)}(y - t \nabla f(y))` (:func:`wsprox.prox`, exact), from
the extrapolated point :math:`y` of FISTA (Beck and Teboulle, 2009) or from
the last iterate (ISTA, ``accelerated=False``).

Step size
    ``step="backtracking"``: Beck and Teboulle's backtracking. The first
    step is the inverse of the curvature of :math:`f` measured along
    :math:`-\nabla f(x_0)` (a lower bound on the Lipschitz constant
    :math:`L`, one extra evaluation); a step is accepted when
    :math:`f(x^+) \le f(y) + \langle \nabla f(y), x^+ - y\rangle +
    \|x^+ - y\|^2 / (2t)` and otherwise halved, so it never falls below
    :math:`1/(2L)` and never grows. Where that test is below the rounding
    of :math:`f` (near the minimum), it is replaced by the Lipschitz test
    :math:`\langle \nabla f(x^+) - \nabla f(y), x^+ - y\rangle \le
    \|x^+ - y\|^2/t`, which rounding does not swamp. A positive float is a
    fixed step (at most :math:`1/L` for convergence).
Adaptive restart
    (O'Donoghue and Candès, 2015) The momentum is reset whenever it points
    uphill: ``restart="gradient"`` (default) when
    :math:`\langle y - x^+, x^+ - x\rangle > 0`, ``restart="function"`` when
    :math:`F(x^+) > F(x)`. This recovers the linear rate on problems that are
    strongly convex near the minimum, without knowing the modulus.
Warm starts
    One :class:`wsprox.ProxState` serves every prox of a run (``warm=``): the
    order of the iterates changes little from step to step, so the prox
    repairs the previous order instead of sorting afresh.
Certificate
    Every iterate :math:`x` comes out of the prox, with its clusters (groups
    of equal entries) and zeros exact, and the solver evaluates
    :math:`\nabla f(x)` there anyway (the backtracking test). The optimality
    measure is the exact distance

    .. math::

        \operatorname{dist}\bigl(0,\ \nabla f(x) + \lambda\,\partial R(x)
        + \ell_1\,\partial\|x\|_1\bigr),

    computed from the cluster structure of :math:`x` by
    :func:`wsprox.certificate.subdifferential_distance` (the residual of
    :func:`wsprox.check_optimality`); zero exactly at a minimiser, and for a
    :math:`\mu`-strongly convex :math:`f` a bound :math:`\mu \|x - x^\star\|
    \le \operatorname{dist}` on the error. The run stops at the first iterate
    whose measure is at most ``tol * max(1, ||grad f(x)||)``: relative to the
    size of the gradient where it is taken, which at a minimiser is that of
    the penalty's subgradient, and independent of the start (a warm start
    does not make the test stricter).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import OptimizeResult

from ._prox import prox
from ._validation import check_choice, check_penalty_weight
from .certificate import subdifferential_distance
from .core.validation import as_float_array
from .regularizer import penalty
from .warm import ProxState

__all__ = ["minimize_composite"]

RESTARTS = ("gradient", "function", None)


def _value_and_gradient(returned, size):
    # What fun_and_grad returned, as (float f, float64 g of the given size), or a clear error.
    if not (isinstance(returned, (tuple, list)) and len(returned) == 2):
        what = (f"a {type(returned).__name__} of length {len(returned)}"
                if isinstance(returned, (tuple, list)) else f"a {type(returned).__name__}")
        raise TypeError(f"fun_and_grad must return a pair (f, g): the value f (a real scalar) and the "
                        f"gradient g (an array of x's size), got {what}")
    f, g = returned
    f_array = np.asarray(f)
    if f_array.size != 1 or not (np.issubdtype(f_array.dtype, np.floating)
                                 or np.issubdtype(f_array.dtype, np.integer)):
        raise TypeError(f"fun_and_grad must return (f, g) with f a real scalar (the value), got f of "
                        f"type {type(f).__name__}, shape {f_array.shape} and dtype {f_array.dtype}")
    try:
        g = np.asarray(g, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"fun_and_grad must return (f, g) with g a real array (the gradient), got g of "
                        f"type {type(g).__name__}") from None
    if g.size != size:
        raise ValueError(f"fun_and_grad returned a gradient of size {g.size}, expected {size}")
    return float(f_array.reshape(())), g.reshape(-1)


def minimize_composite(fun_and_grad, x0, lam, *, l1=0.0, step="backtracking", accelerated=True,
                       restart="gradient", tol=1e-8, max_iter=1000, callback=None) -> OptimizeResult:
    r"""Minimise :math:`f(x) + \lambda R(x) + \ell_1\|x\|_1` by FISTA, with an exact optimality measure.

    See :mod:`wsprox.optimize` for the method (backtracking, adaptive
    restart, warm-started prox) and the optimality measure.

    Parameters
    ----------
    fun_and_grad : callable
        ``fun_and_grad(x) -> (f, g)``: the value of the smooth, convex part
        :math:`f` at ``x`` (an array of ``x0``'s shape) and its gradient, of
        ``x``'s shape. It may return ``f = inf`` outside the domain of
        :math:`f`; backtracking then shortens the step.
    x0 : array_like
        The starting point, real and finite, of any shape: the penalty treats
        it as one flattened vector (as :func:`wsprox.prox` with
        ``axis=None``) and ``x`` comes back in its shape.
    lam : float
        Weight of the weight-sharing penalty :math:`R`, finite and ``>= 0``.
    l1 : float, optional
        Weight of the L1 penalty, finite and ``>= 0``.
    step : "backtracking" or float, optional
        Backtracking (default) or a fixed step size ``> 0``.
    accelerated : bool, optional
        FISTA (default) or plain proximal gradient (ISTA).
    restart : {"gradient", "function", None}, optional
        The adaptive restart of the momentum (FISTA only); ``None`` never
        restarts.
    tol : float, optional
        Stop when the optimality measure at ``x`` is at most ``tol * max(1,
        ||grad f(x)||)``; ``>= 0``.
    max_iter : int, optional
        The most proximal gradient steps, ``>= 0``.
    callback : callable, optional
        ``callback(intermediate_result)`` after every step, with an
        :class:`~scipy.optimize.OptimizeResult` holding ``x``, ``fun``,
        ``optimality``, ``nit`` and ``step``; raising :class:`StopIteration`
        ends the run (as in :func:`scipy.optimize.minimize`).

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``x`` (the last iterate, of ``x0``'s shape, float64), ``fun`` (the
        composite objective :math:`F(x)`), ``optimality`` (its exact measure
        at ``x``), ``nit`` (steps), ``nfev`` (calls of ``fun_and_grad``),
        ``step`` (the last step size), ``n_clusters`` (distinct values of
        ``x``), ``success`` (the measure met the tolerance), ``status`` (0:
        converged, 1: ``max_iter`` reached, 2: stopped by the callback, 3: the
        step underflowed or ``f`` was not finite at a fixed step) and
        ``message``.

    Raises
    ------
    ValueError
        ``x0`` empty or not finite; ``lam``, ``l1``, ``tol`` negative or not
        finite; ``step`` neither ``"backtracking"`` nor a finite float
        ``> 0``; an unknown ``restart``; ``max_iter < 0``; ``fun_and_grad``
        not finite at ``x0`` or returning a gradient of another size.
    TypeError
        ``fun_and_grad`` or ``callback`` not callable; ``x0`` not real;
        ``max_iter`` not an integer.

    Notes
    -----
    With backtracking each step calls ``fun_and_grad`` at the new iterate
    (once per trial step) and, unless the momentum is zero, at the
    extrapolated point; the prox and the measure cost one sort each,
    :math:`O(d \log d)`. FISTA converges as :math:`F(x_k) - F^\star =
    O(L\|x_0 - x^\star\|^2 / k^2)`.

    Examples
    --------
    Least squares with shared coefficients: the true coefficients take two
    values, and the solution finds them.

    >>> import numpy as np
    >>> from wsprox.optimize import minimize_composite
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((50, 6))
    >>> b = A @ np.array([1.0, 1.0, 1.0, -2.0, -2.0, -2.0]) + 0.01 * rng.standard_normal(50)
    >>> def fun_and_grad(x):
    ...     r = A @ x - b
    ...     return 0.5 * r @ r / 50, A.T @ r / 50
    >>> res = minimize_composite(fun_and_grad, np.zeros(6), 0.05, tol=1e-10)
    >>> res.success, res.n_clusters, bool(res.optimality < 1e-8)
    (True, 2, True)
    >>> np.round(res.x, 2)
    array([ 0.97,  0.97,  0.97, -1.97, -1.97, -1.97])
    """
    if not callable(fun_and_grad):
        raise TypeError(f"fun_and_grad must be callable, got {type(fun_and_grad).__name__}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    start = as_float_array(x0, "x0")
    if start.size == 0:
        raise ValueError("x0 is empty: there is nothing to minimise over")
    shape = start.shape
    lam = check_penalty_weight(lam, "lam")
    l1 = check_penalty_weight(l1, "l1")
    tol = check_penalty_weight(tol, "tol")
    fixed = _check_step(step)
    if not isinstance(accelerated, (bool, np.bool_)):
        raise TypeError(f"accelerated must be a bool, got {type(accelerated).__name__}")
    if restart not in RESTARTS:
        check_choice(restart, "restart", ("gradient", "function"))
    if isinstance(max_iter, (bool, np.bool_)) or not isinstance(max_iter, (int, np.integer)):
        raise TypeError(f"max_iter must be an integer, got {type(max_iter).__name__}")
    max_iter = int(max_iter)
    if max_iter < 0:
        raise ValueError(f"max_iter must be >= 0, got {max_iter}")

    nfev = 0

    def evaluate(z):
        nonlocal nfev
        nfev += 1
        return _value_and_gradient(fun_and_grad(z.reshape(shape)), z.size)

    def objective(z, fz):
        return fz + lam * penalty(z) + l1 * float(np.abs(z).sum())

    x = start.astype(np.float64).ravel()
    fx, gx = evaluate(x)
    if not (math.isfinite(fx) and np.all(np.isfinite(gx))):
        raise ValueError("fun_and_grad(x0) is not finite: start inside the domain of f")
    measure = subdifferential_distance(gx, x, lam, l1=l1)
    t = fixed if fixed is not None else _initial_step(evaluate, x, gx)
    state = ProxState()
    y, fy, gy = x, fx, gx
    momentum = 1.0
    fun_x = objective(x, fx) if restart == "function" else None
    status, nit = (0, 0) if measure <= tol * max(1.0, float(np.linalg.norm(gx))) else (1, 0)
    while status == 1 and nit < max_iter:
        z, fz, gz, t = _prox_step(evaluate, y, fy, gy, t, lam, l1, state, backtrack=fixed is None)
        if z is None:
            status = 3
            break
        nit += 1
        restarting = False
        if accelerated and restart == "gradient":
            restarting = float((y - z) @ (z - x)) > 0.0
        elif accelerated and restart == "function":
            fun_z = objective(z, fz)
            restarting, fun_x = fun_z > fun_x, fun_z
        previous, x, fx, gx = x, z, fz, gz
        measure = subdifferential_distance(gx, x, lam, l1=l1)
        if measure <= tol * max(1.0, float(np.linalg.norm(gx))):
            status = 0
        y, fy, gy = x, fx, gx
        if accelerated and not restarting:
            following = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * momentum * momentum))
            beta, momentum = (momentum - 1.0) / following, following
            if beta > 0.0 and status == 1:
                y = x + beta * (x - previous)
                fy, gy = evaluate(y)
                if not (math.isfinite(fy) and np.all(np.isfinite(gy))):
                    restarting = True         # y left the domain of f: restart from x
        if restarting:
            momentum = 1.0
            y, fy, gy = x, fx, gx
        if callback is not None:
            intermediate = OptimizeResult(x=x.reshape(shape).copy(), fun=objective(x, fx),
                                          optimality=measure, nit=nit, step=t)
            try:
                callback(intermediate)
            except StopIteration:
                status = 2 if status else 0
    messages = {
        0: "the optimality measure is within tol",
        1: f"max_iter = {max_iter} steps reached before the optimality measure met tol",
        2: "stopped by the callback",
        3: "the step size underflowed (is fun_and_grad's gradient that of its value?)" if fixed is None
        else "f is not finite at the new iterate: the fixed step is too long",
    }
    return OptimizeResult(
        x=x.reshape(shape), fun=objective(x, fx), optimality=measure, nit=nit, nfev=nfev, step=t,
        n_clusters=int(np.unique(x).size), success=status == 0, status=status, message=messages[status],
    )


def _check_step(step):
    """``None`` for backtracking, else the fixed step as a float (finite, > 0)."""
    if isinstance(step, str):
        check_choice(step, "step", ("backtracking",))
        return None
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, (int, float, np.integer, np.floating)):
        raise TypeError(f"step must be 'backtracking' or a positive float, got {type(step).__name__}")
    value = float(step)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"step must be 'backtracking' or a finite float > 0, got {step!r}")
    return value


def _initial_step(evaluate, x, gx):
    """``1 / (curvature of f along -grad f(x))``: at least ``1/L``; 1 where that curvature is zero."""
    norm = float(np.linalg.norm(gx))
    if norm == 0.0:
        return 1.0
    s = (-1e-4 * max(1.0, float(np.linalg.norm(x))) / norm) * gx
    fs, gs = evaluate(x + s)
    curvature = float(np.linalg.norm(gs - gx)) / float(np.linalg.norm(s)) if math.isfinite(fs) else 0.0
    return 1.0 / curvature if curvature > 0.0 else 1.0


def _prox_step(evaluate, y, fy, gy, t, lam, l1, state, *, backtrack):
    """One proximal gradient step from ``y``: ``(z, f(z), grad f(z), t)``, ``z`` None on failure."""
    while t > 0.0:
        z = prox(y - t * gy, t * lam, l1=t * l1, warm=state)
        fz, gz = evaluate(z)
        finite = math.isfinite(fz) and bool(np.all(np.isfinite(gz)))
        if not backtrack:
            return (z, fz, gz, t) if finite else (None, None, None, t)
        diff = z - y
        quadratic = 0.5 * float(diff @ diff) / t
        if finite:
            excess = fz - fy - float(gy @ diff)
            rounding = 8 * np.finfo(np.float64).eps * (abs(fy) + abs(fz))
            if excess <= quadratic or (quadratic <= rounding and float((gz - gy) @ diff) <= 2 * quadratic):
                return z, fz, gz, t
        t *= 0.5
    return None, None, None, t

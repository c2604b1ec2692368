r"""Exact references for the prox: rational arithmetic and cvxpy.

They are slow and meant for checking: :func:`prox_exact` is the ground truth
(every operation exact in :class:`fractions.Fraction`), as is
:func:`penalty_exact` for the penalty itself; :func:`prox_cvxpy`
states the problem for a generic conic solver, literally
(``formulation="pairwise"``) or in its :math:`O(d)` sorted form.
"""
from __future__ import annotations

import warnings
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._extras import require
from ._validation import check_choice, check_penalty_weight
from .core.validation import as_float_array

__all__ = ["penalty_exact", "prox_cvxpy", "prox_exact"]


def _as_fraction(value, name):
    if isinstance(value, (Fraction, int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        f = Fraction(int(value)) if isinstance(value, np.integer) else Fraction(value)
    else:
        f = Fraction(check_penalty_weight(value, name))
    if f < 0:
        raise ValueError(f"{name} must be non-negative, got {f}")
    return f


def _fraction_vector(w):
    if isinstance(w, np.ndarray) and w.dtype == object or (
        not isinstance(w, np.ndarray) and any(isinstance(v, Fraction) for v in np.ravel(np.asarray(w, dtype=object)))
    ):
        values = np.asarray(w, dtype=object)
        out = []
        for i, v in enumerate(values.ravel()):
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (Fraction, int, float, np.integer, np.floating)):
                raise TypeError(f"w[{i}] is not a real number: {v!r}")
            if isinstance(v, (float, np.floating)) and not np.isfinite(v):
                raise ValueError(f"w contains a non-finite value at index {i}")
            out.append(Fraction(v) if not isinstance(v, np.integer) else Fraction(int(v)))
        return values.shape, out
    a = as_float_array(w)
    return a.shape, [Fraction(float(v)) for v in a.ravel()]


def prox_exact(w: ArrayLike, lam: float | Fraction, *, l1: float | Fraction = 0,
               rational: bool = False) -> np.ndarray:
    r"""The prox of ``lam*R + l1*||.||_1`` in exact rational arithmetic.

    Sorts ``w``, adds the velocities :math:`v_k = \lambda(d+1-2k)/(d-1)`,
    runs pool-adjacent-violators on the exact values, soft-thresholds and
    un-sorts, every step in :class:`fractions.Fraction`. Floating inputs are
    converted exactly (every float is a rational), so the answer is the exact
    prox of the floats given.

    Parameters
    ----------
    w : array_like
        Real, finite numbers; may hold :class:`~fractions.Fraction` or
        Python ``int`` objects. Treated as one flattened vector.
    lam, l1 : float, int or Fraction
        Penalty weights, ``>= 0``; floats are converted exactly.
    rational : bool, optional
        Return an object array of :class:`~fractions.Fraction` instead of
        float64 (each entry correctly rounded).

    Returns
    -------
    ndarray
        The prox, of ``w``'s shape.

    Notes
    -----
    :math:`O(d \log d)` rational operations whose size can grow with ``d``:
    meant for ``d`` up to a few thousand.

    Examples
    --------
    >>> from fractions import Fraction
    >>> from wsprox.reference import prox_exact
    >>> prox_exact([0, 1, 10], Fraction(1, 2), rational=True)
    array([Fraction(1, 2), Fraction(1, 1), Fraction(19, 2)], dtype=object)
    """
    lam = _as_fraction(lam, "lam")
    l1 = _as_fraction(l1, "l1")
    shape, values = _fraction_vector(w)
    d = len(values)
    order = sorted(range(d), key=values.__getitem__)
    # Blocks on the stack: [start, sum of z, count]; z_k = x_k + lam (d-1-2k)/(d-1).
    stack = []
    for k, i in enumerate(order):
        z = values[i] + (lam * (d - 1 - 2 * k) / (d - 1) if d > 1 else 0)
        block = [k, z, 1]
        while stack and stack[-1][1] / stack[-1][2] >= block[1] / block[2]:
            start, total, count = stack.pop()
            block = [start, total + block[1], count + block[2]]
        stack.append(block)
    result = [Fraction(0)] * d
    for start, total, count in stack:
        value = total / count
        value = value - l1 if value > l1 else (value + l1 if value < -l1 else Fraction(0))
        for k in range(start, start + count):
            result[order[k]] = value
    if rational:
        out = np.empty(d, dtype=object)
        out[:] = result
        return out.reshape(shape)
    return np.array([float(v) for v in result], dtype=np.float64).reshape(shape)


def penalty_exact(w: ArrayLike, *, rational: bool = False) -> float | Fraction:
    r"""The penalty :math:`R(w) = \frac{1}{d-1}\sum_{i>j}|w_i - w_j|` in exact rational arithmetic.

    Sorts ``w`` and sums :math:`c_k x_k`, :math:`c_k = (2k - d - 1)/(d - 1)`,
    in :class:`fractions.Fraction`: the exact penalty of the floats given.

    Parameters
    ----------
    w : array_like
        Real, finite numbers; may hold :class:`~fractions.Fraction` or
        Python ``int`` objects. Treated as one flattened vector.
    rational : bool, optional
        Return the :class:`~fractions.Fraction` instead of its float.

    Returns
    -------
    float or Fraction
        The penalty; as a float correctly rounded, ``inf`` when it exceeds the
        largest float64. Zero for ``d <= 1``.

    Examples
    --------
    >>> from wsprox.reference import penalty_exact
    >>> penalty_exact([0, 1, 3], rational=True)
    Fraction(3, 1)
    >>> penalty_exact([-1e308, 1e308, 1e308])   # 2e308 does not fit a float
    inf
    """
    values = sorted(_fraction_vector(w)[1])
    d = len(values)
    r = sum((2 * k - d - 1) * v for k, v in enumerate(values, 1)) / (d - 1) if d > 1 else Fraction(0)
    if rational:
        return r
    try:
        return float(r)
    except OverflowError:
        return float("inf")


def prox_cvxpy(w: ArrayLike, lam: float, *, l1: float = 0.0, formulation: str = "pairwise", solver: str = "SCS",
               eps: float = 1e-12, **solver_options: Any) -> np.ndarray:
    r"""The prox as a cvxpy problem, solved to high accuracy.

    Parameters
    ----------
    w : array_like
        Real, finite values; treated as one flattened vector.
    lam, l1 : float
        Penalty weights, ``>= 0``.
    formulation : {"pairwise", "sorted"}, optional
        ``"pairwise"`` states :math:`R` literally with all
        :math:`d(d-1)/2` terms :math:`|x_i - x_j|` (small ``d`` only).
        ``"sorted"`` uses that the prox keeps the order of ``w``: with
        :math:`\sigma` sorting ``w``, it minimises
        :math:`\tfrac12\|x - w\|^2 + \lambda \sum_k c_k x_{\sigma(k)} +
        \ell_1\|x\|_1` subject to :math:`x_{\sigma(1)} \le \dots \le
        x_{\sigma(d)}`, an equivalent program of size :math:`O(d)`.
    solver : str, optional
        A cvxpy solver name; default SCS.
    eps : float, optional
        Accuracy asked of SCS (``eps_abs = eps_rel = eps``); measured here,
        both forms with SCS at 1e-12 are within about 1e-12 of the exact prox
        for ``d <= 200`` (Clarabel stops near 1e-9 at that size and OSQP hits
        its iteration limit on the pairwise form). When SCS reports
        ``optimal_inaccurate`` the solve is repeated once at ``100 * eps``.
        Ignored for other solvers; pass their own options instead.
    **solver_options
        Passed on to :meth:`cvxpy.Problem.solve`.

    Returns
    -------
    ndarray of float64
        The solver's answer, of ``w``'s shape.

    Raises
    ------
    RuntimeError
        If the solver does not report an optimal status.
    ImportError
        If cvxpy or SCS is not installed (the ``reference`` extra:
        ``pip install -e ".[reference]"`` in a checkout).

    Examples
    --------
    >>> from wsprox.reference import prox_cvxpy
    >>> prox_cvxpy([0.0, 1.0, 10.0], 0.5).round(8)
    array([0.5, 1. , 9.5])
    """
    cp = _import_cvxpy()
    from .regularizer import sorted_weights

    a = as_float_array(w).astype(np.float64)
    lam = check_penalty_weight(lam, "lam")
    l1 = check_penalty_weight(l1, "l1")
    check_choice(formulation, "formulation", ("pairwise", "sorted"))
    wf = a.ravel()
    d = wf.size
    if d == 0:
        return a.copy()
    x = cp.Variable(d)
    objective = 0.5 * cp.sum_squares(x - wf) + l1 * cp.norm1(x)
    constraints = []
    if d > 1 and formulation == "pairwise":
        i, j = np.triu_indices(d, k=1)
        objective += lam / (d - 1) * cp.norm1(x[i] - x[j])
    elif d > 1:
        sigma = np.argsort(wf, kind="stable")
        objective += lam * (sorted_weights(d) @ x[sigma])
        constraints.append(cp.diff(x[sigma]) >= 0)
    problem = cp.Problem(cp.Minimize(objective), constraints)
    for accuracy in (eps, 100 * eps):
        options = dict(solver_options)
        if solver == "SCS":
            options = {"eps_abs": accuracy, "eps_rel": accuracy, "max_iters": 1_000_000, **options}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)   # cvxpy's "may be inaccurate"
            problem.solve(solver=solver, **options)
        if problem.status == cp.OPTIMAL or solver != "SCS":
            break
    if problem.status != cp.OPTIMAL:
        raise RuntimeError(f"cvxpy solver {solver} ended with status {problem.status}")
    return np.asarray(x.value, dtype=np.float64).reshape(a.shape)


def _import_cvxpy():
    require("scs", extra="reference", feature="prox_cvxpy (with SCS, its default solver)")
    return require("cvxpy", extra="reference", feature="prox_cvxpy")

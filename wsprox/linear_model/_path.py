r"""The warm-started path of ``alpha``: its grid, and its solutions and scores on one fold.

The grid runs from :func:`alpha_max` (the smallest ``alpha`` at which all
the coefficients share one value) down; :func:`fold_path` solves it in that
order on the training samples of a fold, each fit warm-started by
:func:`warm_start`, and scores every solution on the test samples.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..optimize import minimize_composite
from ..path import collapse_threshold
from ..regularizer import penalty

__all__ = ["alpha_grid", "alpha_max", "check_alphas", "check_eps", "fold_path", "warm_start"]


def check_alphas(alphas):
    """A number of alphas (an int >= 1) or the alphas, finite and ``>= 0``, sorted from the largest."""
    if isinstance(alphas, (bool, np.bool_)):
        raise TypeError("alphas must be an int (how many alphas) or an array of alphas, got a bool")
    if isinstance(alphas, numbers.Integral):
        if alphas < 1:
            raise ValueError(f"alphas must be an int >= 1 (how many alphas) or an array of alphas, "
                             f"got {alphas}")
        return int(alphas)
    try:
        values = np.asarray(alphas, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"alphas must be an int (how many alphas) or an array of alphas, got "
                        f"{type(alphas).__name__}") from exc
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"alphas must be an int (how many alphas) or a non-empty 1-D array of alphas, got "
                         f"{alphas!r}")
    if not (np.all(np.isfinite(values)) and np.all(values >= 0)):
        raise ValueError(f"alphas must be finite and >= 0, got {alphas!r}")
    return np.sort(values)[::-1]


def check_eps(eps):
    """``eps``, a finite float ``> 0``."""
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, numbers.Real):
        raise TypeError(f"eps must be a float, got {type(eps).__name__}")
    if not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be finite and > 0, got {eps!r}")
    return float(eps)


def alpha_max(problem, alpha_l1, tol, max_iter):
    r"""The smallest ``alpha`` at which all the coefficients share one value.

    The common value ``c`` minimises :math:`f(c\mathbf 1) + \ell_1 p|c|` (a
    one-dimensional solve); all equal is optimal for ``alpha`` at least
    :func:`wsprox.path.collapse_threshold` of :math:`-\nabla f(c\mathbf 1)`.
    """
    p = problem.n_features
    ones = np.ones(p)

    def along_ones(c):
        f, g = problem(c[0] * ones)
        return f, np.array([g.sum()])

    c = minimize_composite(along_ones, np.zeros(1), 0.0, l1=alpha_l1 * p, tol=tol, max_iter=max_iter).x[0]
    return collapse_threshold(-problem(c * ones)[1])


def alpha_grid(problem, n_alphas, eps, alpha_l1, tol, max_iter):
    """``n_alphas`` alphas, geometrically spaced from :func:`alpha_max` of ``problem`` down to ``eps`` times it."""
    largest = alpha_max(problem, alpha_l1, tol, max_iter)
    resolution = np.finfo(np.float64).resolution
    return (np.geomspace(largest, largest * eps, num=n_alphas) if largest > resolution
            else np.full(n_alphas, resolution))


def warm_start(problem, coefs, alphas, k, alpha_l1):
    r"""The start of the fit at ``alphas[k]``: the previous solution, or its secant extrapolation.

    Where the clusters (and zeros) stay the same, the least-squares solution
    is affine in ``alpha`` (it solves a linear system whose right-hand side
    is), so the line through the last two solutions predicts the next one
    exactly; it is taken where the objective is lower there than at the
    previous solution.
    """
    if k == 0:
        return np.zeros(problem.n_features)
    previous = coefs[k - 1]
    if k == 1 or alphas[k - 1] == alphas[k - 2]:
        return previous
    ratio = (alphas[k] - alphas[k - 1]) / (alphas[k - 1] - alphas[k - 2])
    predicted = previous + ratio * (previous - coefs[k - 2])

    def objective(w):
        return problem(w)[0] + alphas[k] * penalty(w) + alpha_l1 * float(np.abs(w).sum())

    return predicted if objective(predicted) < objective(previous) else previous


def fold_path(make_problem, score, X, target, y, train, test, alphas, alpha_l1, tol, max_iter):
    """The path of one fold: ``(scores, coefs, n_failed)`` over ``alphas`` (largest first), warm-started.

    ``make_problem(X, target)`` is the smooth part on the training samples;
    ``score(coef, intercept, X, y)`` the score of a solution on the test
    samples, greater for better.
    """
    problem = make_problem(X[train], target[train])
    X_test, y_test = X[test], y[test]
    coefs = np.empty((alphas.size, problem.n_features))
    scores = np.empty(alphas.size)
    failed = 0
    for k, alpha in enumerate(alphas):
        start = warm_start(problem, coefs, alphas, k, alpha_l1)
        res = minimize_composite(problem, start, alpha, l1=alpha_l1, tol=tol, max_iter=max_iter)
        coefs[k], failed = res.x, failed + (not res.success)
        scores[k] = score(res.x, problem.intercept(res.x), X_test, y_test)
    return scores, coefs, failed

r"""Benchmark of the solvers: ``python -m wsprox.bench.solvers``.

Times :class:`wsprox.linear_model.WeightSharingRegression` ``.fit`` against
cvxpy on the same problem,

.. math::

    \min_{w, b}\ \frac{1}{2n}\|y - Xw - b\|^2 + \alpha R(w) + \alpha_{\ell_1}\|w\|_1,

on synthetic data of every ``--sizes`` ``NxP`` (``N`` samples of ``P``
standard normal features, true coefficients drawn from the values -1, 1, 2,
noise 0.5). cvxpy writes :math:`R` as its :math:`P(P-1)/2` pairwise
absolute differences (as :func:`wsprox.reference.prox_cvxpy` does), so its
cost grows with :math:`P^2`; the estimator's prox costs a sort. Columns:

``fit_s``
    The median wall time of ``fit`` over ``--repeat`` calls (after one
    untimed call: Numba compiles on first use), and ``n_iter`` its FISTA steps.
``cvxpy_s``, ``solver_s``
    The median wall time of building and solving the cvxpy problem, and the
    solver's own share of it (``solver_stats.solve_time``).
``max_dcoef``, ``dobj``
    The largest coefficient difference between the two answers, and the
    estimator's objective minus cvxpy's (negative: the estimator's point is
    the better one), both at the tolerances given (``--tol`` for the
    estimator, the solver's defaults for cvxpy).

Every timing is one process on one machine state: on a loaded machine the
absolute times drift; run it on a quiet one to quote figures.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from ..linear_model import WeightSharingRegression
from ..regularizer import penalty

__all__ = ["compare", "main", "synthetic"]


def synthetic(n, p, *, seed=0):
    """The benchmark's data: ``X`` (n, p) standard normal, ``y = X @ coef + 0.5 noise``.

    The true coefficients are drawn from -1, 1 and 2.

    Examples
    --------
    >>> from wsprox.bench.solvers import synthetic
    >>> X, y, coef = synthetic(5, 3)
    >>> X.shape, y.shape, sorted(set(coef) - {-1.0, 1.0, 2.0})
    ((5, 3), (5,), [])
    """
    rng = np.random.default_rng(seed)
    coef = rng.choice([-1.0, 1.0, 2.0], size=p)
    X = rng.standard_normal((n, p))
    return X, X @ coef + 0.5 * rng.standard_normal(n), coef


def compare(n, p, *, alpha=0.1, alpha_l1=0.0, tol=1e-6, repeat=3, solver="CLARABEL", seed=0):
    """Fit one problem with the estimator and with cvxpy; a dict of the columns of the module docstring.

    Examples
    --------
    >>> from wsprox.bench.solvers import compare
    >>> row = compare(40, 5, repeat=1)
    >>> sorted(row)
    ['cvxpy_s', 'dobj', 'fit_s', 'max_dcoef', 'n', 'n_iter', 'p', 'solver_s']
    >>> bool(row["max_dcoef"] < 1e-4)
    True
    """
    import cvxpy as cp

    X, y, _ = synthetic(n, p, seed=seed)
    model = WeightSharingRegression(alpha=alpha, alpha_l1=alpha_l1, tol=tol)
    model.fit(X, y)
    fit_times = []
    for _ in range(repeat):
        start = time.perf_counter()
        model.fit(X, y)
        fit_times.append(time.perf_counter() - start)

    cvxpy_times, solver_times = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        w, b = cp.Variable(p), cp.Variable()
        i, j = np.triu_indices(p, 1)
        pairs = cp.norm1(w[i] - w[j]) / (p - 1) if p > 1 else 0
        objective = cp.sum_squares(y - X @ w - b) / (2 * n) + alpha * pairs + alpha_l1 * cp.norm1(w)
        problem = cp.Problem(cp.Minimize(objective))
        problem.solve(solver=solver)
        cvxpy_times.append(time.perf_counter() - start)
        solver_times.append(problem.solver_stats.solve_time or float("nan"))

    def value(coef, intercept):
        r = y - X @ coef - intercept
        return 0.5 * r @ r / n + alpha * penalty(coef) + alpha_l1 * np.abs(coef).sum()

    return {
        "n": n, "p": p,
        "fit_s": statistics.median(fit_times), "n_iter": model.n_iter_,
        "cvxpy_s": statistics.median(cvxpy_times), "solver_s": statistics.median(solver_times),
        "max_dcoef": float(np.abs(model.coef_ - w.value).max()),
        "dobj": float(value(model.coef_, model.intercept_) - value(w.value, float(b.value))),
    }


def main(argv=None):
    """Run the benchmark and print one line per size.

    Examples
    --------
    >>> from wsprox.bench.solvers import main
    >>> main(["--sizes", "40x5", "--repeat", "1"])       # doctest: +ELLIPSIS
    WeightSharingRegression.fit against cvxpy (CLARABEL), alpha = 0.1, alpha_l1 = 0.0, tol = 1e-06
          n      p     fit_s  n_iter   cvxpy_s  solver_s  max_dcoef      dobj
         40      5 ...
    """
    parser = argparse.ArgumentParser(prog="python -m wsprox.bench.solvers", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["200x20", "500x50", "1000x100", "2000x200"],
                        help="problem sizes NxP (samples x features)")
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--alpha-l1", type=float, default=0.0)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--solver", default="CLARABEL", help="the cvxpy solver")
    args = parser.parse_args(argv)
    sizes = []
    for size in args.sizes:
        try:
            n, p = (int(part) for part in size.lower().split("x"))
        except ValueError:
            parser.error(f"--sizes takes NxP, got {size!r}")
        sizes.append((n, p))
    print(f"WeightSharingRegression.fit against cvxpy ({args.solver}), alpha = {args.alpha}, "
          f"alpha_l1 = {args.alpha_l1}, tol = {args.tol}")
    print(f"{'n':>7} {'p':>6} {'fit_s':>9} {'n_iter':>7} {'cvxpy_s':>9} {'solver_s':>9} {'max_dcoef':>10} {'dobj':>9}")
    for n, p in sizes:
        row = compare(n, p, alpha=args.alpha, alpha_l1=args.alpha_l1, tol=args.tol, repeat=args.repeat,
                      solver=args.solver)
        print(f"{n:>7} {p:>6} {row['fit_s']:>9.4f} {row['n_iter']:>7} {row['cvxpy_s']:>9.4f} "
              f"{row['solver_s']:>9.4f} {row['max_dcoef']:>10.2e} {row['dobj']:>9.1e}", flush=True)


if __name__ == "__main__":
    main()

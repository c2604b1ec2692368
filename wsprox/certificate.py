r"""Optimality certificates: how far a candidate is from the prox, exactly.

The prox :math:`x` of :math:`\lambda R + \ell_1\|\cdot\|_1` at :math:`w` is
the unique point with

.. math::

    w - x \in \lambda\, \partial R(x) + \ell_1\, \partial \|x\|_1 .

The right-hand side splits over the clusters of :math:`x` (groups of equal
entries). For a cluster :math:`G` occupying sorted ranks :math:`a..b` its part
of :math:`\partial R(x)` is the permutahedron :math:`P(c_a, \dots, c_b)`;
its part of :math:`\partial\|x\|_1` is :math:`\operatorname{sign}(x_G)` when
the cluster's value is non-zero, and the box :math:`[-1, 1]^G` when it is
zero. The distance from :math:`r = w - x` to that set has a closed form: sort
:math:`r_G` descending into :math:`y`, let :math:`t = y - \ell_1
\operatorname{sign}(x_G) - \lambda (c_b, \dots, c_a)` and :math:`q` the
non-increasing isotonic regression of :math:`t`; then

.. math::

    \operatorname{dist}^2 = \|q\|^2 \ \ (x_G \ne 0), \qquad
    \operatorname{dist}^2 = \|(|q| - \ell_1)_+\|^2 \ \ (x_G = 0),

the first being the projection onto a permutahedron (Blondel et al., 2020)
and the second its Fenchel dual with the box added. The KKT residual is the
root of the sum over clusters: the exact distance of :math:`w - x` from the
subdifferential, computed in :math:`O(d \log d)`.

Because the objective is 1-strongly convex, the residual bounds the error:
:math:`\|x - \operatorname{prox}(w)\| \le \operatorname{dist}(w - x,
\partial h(x))`. A candidate from an iterative solver has no exact ties or
zeros; ``cluster_tol`` snaps it first to :math:`\tilde x` (entries closer
than ``cluster_tol`` share their mean, those within it of zero become zero)
and reports :math:`\|x - \tilde x\| + \operatorname{dist}(w - \tilde x,
\partial h(\tilde x))`, still a bound on :math:`\|x - \operatorname{prox}(w)\|`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ._rows import to_rows
from ._validation import (
    as_float_array,
    check_penalty_weight,
    finite_magnitude,
    normalize_axis,
    overflow_scale,
)
from .cpu.pava import pava_row
from .penalty import penalty, sorted_weights

__all__ = ["OptimalityCertificate", "check_optimality"]


@dataclass(frozen=True)
class OptimalityCertificate:
    """The outcome of :func:`check_optimality`.

    Attributes
    ----------
    residual : float
        Euclidean distance from ``w - x`` to ``lam*dR(x) + l1*d||x||_1``
        (over all slices when ``axis`` is given), plus the snapping distance
        when ``cluster_tol > 0``. Zero exactly at the prox, and an upper bound
        on ``||x - prox(w)||`` always.
    tol : float
        The tolerance ``residual`` was compared with.
    optimal : bool
        ``residual <= tol``.
    objective : float
        ``0.5*||x - w||^2 + lam*R(x) + l1*||x||_1`` (summed over slices).
    n_clusters : int
        Number of clusters (groups of equal entries) of ``x``, over all slices.

    Examples
    --------
    >>> import wsprox
    >>> cert = wsprox.check_optimality([0.0, 1.0, 10.0], [1.5, 1.5, 8.0], 2.0)
    >>> cert.optimal, cert.n_clusters, bool(cert)
    (True, 2, True)
    """

    residual: float
    tol: float
    optimal: bool
    objective: float
    n_clusters: int

    def __bool__(self) -> bool:
        return self.optimal


def check_optimality(w, x, lam, *, l1=0.0, tol=None, axis=None, cluster_tol=0.0) -> OptimalityCertificate:
    r"""Certify that ``x`` is the prox of ``lam*R + l1*||.||_1`` at ``w``.

    Works for any candidate ``x``, whatever produced it: the residual is the
    exact distance of ``w - x`` from the subdifferential at ``x``, computed
    cluster by cluster (see :mod:`wsprox.certificate`), not by sampling.

    Parameters
    ----------
    w : array_like
        The point the prox was taken at.
    x : array_like
        The candidate, of ``w``'s shape.
    lam, l1 : float
        Penalty weights, finite and ``>= 0``.
    tol : float, optional
        Tolerance on the residual. Default
        ``10 * (eps_x * sqrt(N) + eps_64 * N) * max(|w|_max, |x|_max, lam, l1)``
        for ``N`` entries: the rounding of ``x`` to its dtype (machine epsilon
        ``eps_x``, independent per cluster) plus the float64 sums of the
        certificate itself.
    axis : int or None, optional
        As in :func:`wsprox.prox`: ``None`` certifies one flattened vector,
        an integer every slice along that axis (one residual over all).
    cluster_tol : float, optional
        Entries of ``x`` (sorted) whose gaps are at most this share one
        cluster, and clusters within it of zero are zero; the snapping
        distance is added to the residual. The default 0 takes the clusters
        of ``x`` exactly as they are, right for the output of
        :func:`wsprox.prox`; use about the solver's accuracy for iterative
        solvers such as :func:`wsprox.reference.prox_cvxpy`.

    Returns
    -------
    OptimalityCertificate

    Raises
    ------
    ValueError, TypeError
        Bad input, as for :func:`wsprox.prox`, or shapes that differ.

    Notes
    -----
    :math:`O(d \log d)`: one sort of ``x`` and, within each cluster, of
    ``w - x``, then isotonic regression per cluster.

    Examples
    --------
    >>> import numpy as np, wsprox
    >>> w = np.array([0.0, 1.0, 10.0])
    >>> wsprox.check_optimality(w, wsprox.prox(w, 2.0), 2.0).optimal
    True
    >>> wsprox.check_optimality(w, wsprox.prox(w, 2.1), 2.0).optimal
    False
    """
    a = as_float_array(w, "w")
    b = as_float_array(x, "x")
    if a.shape != b.shape:
        raise ValueError(f"x has shape {b.shape}, expected w's shape {a.shape}")
    lam = check_penalty_weight(lam, "lam")
    l1 = check_penalty_weight(l1, "l1")
    axis = normalize_axis(axis, a.ndim)
    wr = to_rows(a, axis).astype(np.float64, copy=False)
    xr = to_rows(b, axis).astype(np.float64, copy=False)
    n, d = wr.shape

    cluster_tol = check_penalty_weight(cluster_tol, "cluster_tol")
    snap_distance = 0.0
    if cluster_tol > 0:
        snapped = _snap(xr, cluster_tol)
        snap_distance = float(np.linalg.norm(snapped - xr))
        xr = snapped
    magnitude = max(finite_magnitude(wr), finite_magnitude(xr))
    scale = overflow_scale(magnitude, wr.size + xr.size, lam, l1)
    residual, n_clusters = _residual(wr * scale, xr * scale, lam * scale, l1 * scale)
    residual = residual / scale + snap_distance
    pen = penalty(xr, axis=1).sum() if d > 1 else 0.0
    with np.errstate(over="ignore"):
        objective = 0.5 * float(np.sum((xr - wr) ** 2)) + lam * float(pen) + l1 * float(np.abs(xr).sum())
    if tol is None:
        size = max(n * d, 1)
        rounding = np.finfo(b.dtype).eps * np.sqrt(size) + np.finfo(np.float64).eps * size
        scale = max(float(np.abs(wr).max(initial=0.0)), float(np.abs(xr).max(initial=0.0)), lam, l1)
        tol = 10.0 * rounding * scale
    else:
        tol = check_penalty_weight(tol, "tol")
    return OptimalityCertificate(float(residual), float(tol), bool(residual <= tol), objective, n_clusters)


def _snap(xr, delta):
    """Entries of each row within ``delta`` of their sorted neighbour share their mean."""
    n, d = xr.shape
    order = np.argsort(xr, axis=1, kind="stable")
    xs = np.take_along_axis(xr, order, axis=1)
    new = np.ones((n, d), dtype=bool)
    new[:, 1:] = np.diff(xs, axis=1) > delta
    group = np.cumsum(new.ravel()) - 1
    means = np.bincount(group, weights=xs.ravel()) / np.bincount(group)
    lo = np.minimum.reduceat(xs.ravel(), np.flatnonzero(new.ravel()))
    hi = np.maximum.reduceat(xs.ravel(), np.flatnonzero(new.ravel()))
    means[(lo <= delta) & (hi >= -delta)] = 0.0
    snapped = np.empty_like(xr)
    np.put_along_axis(snapped, order, means[group].reshape(n, d), axis=1)
    return snapped


def _residual(wr, xr, lam, l1):
    n, d = wr.shape
    if n * d == 0:
        return 0.0, 0
    r = wr - xr
    rows = np.repeat(np.arange(n), d)
    # Within each row: x ascending (the ranks), then w - x descending.
    order = np.lexsort((-r.ravel(), xr.ravel(), rows))
    xs = xr.ravel()[order]
    rs = r.ravel()[order]
    rank = np.tile(np.arange(d), n)
    new = np.ones(n * d, dtype=bool)
    new[1:] = (xs[1:] != xs[:-1]) | (rows[1:] != rows[:-1])
    group_start = np.flatnonzero(new)
    group_end = np.append(group_start[1:], n * d)
    # Rank p of a cluster a..b pairs with c[a + b - p]: c of the cluster, descending.
    first = np.repeat(rank[group_start], group_end - group_start)
    last = np.repeat(rank[group_end - 1], group_end - group_start)
    t = rs - lam * sorted_weights(d)[first + last - rank] - l1 * np.sign(xs)
    return np.sqrt(_sum_sq_distance(t, group_start, group_end, xs, l1)), group_start.size


@njit(cache=True)
def _sum_sq_distance(t, group_start, group_end, xs, l1):
    total = 0.0
    scratch_starts = np.empty(t.size + 1, dtype=np.int64)
    scratch_sums = np.empty(t.size)
    for g in range(group_start.size):
        a = group_start[g]
        e = group_end[g]
        # Non-increasing isotonic regression of t = -(non-decreasing of -t).
        neg = -t[a:e]
        k = pava_row(neg, 0.0, scratch_starts, scratch_sums)
        for b in range(k):
            m = scratch_starts[b + 1] - scratch_starts[b]
            q = -scratch_sums[b] / m
            if xs[a] == 0.0:
                q = max(abs(q) - l1, 0.0)
            total += m * q * q
    return total

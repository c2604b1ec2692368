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

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from ._rows import to_rows
from ._validation import check_penalty_weight, normalize_axis
from .core.pava import pava_row
from .core.validation import as_float_array, finite_magnitude
from .regularizer import penalty, sorted_weights

__all__ = ["OptimalityCertificate", "check_optimality", "subdifferential_distance"]


@dataclass(frozen=True)
class OptimalityCertificate:
    """The outcome of :func:`check_optimality`.

    Attributes
    ----------
    residual : float
        Euclidean distance from ``w - x`` to ``lam*dR(x) + l1*d||x||_1``
        (over all slices when ``axis`` is given), plus the snapping distance
        when ``cluster_tol > 0``. Zero exactly at the prox, and an upper bound
        on ``||x - prox(w)||`` always (up to the rounding of subnormal numbers).
    tol : float
        The tolerance ``residual`` was compared with.
    optimal : bool
        ``residual <= tol``.
    objective : float
        ``0.5*||x - w||^2 + lam*R(x) + l1*||x||_1`` (summed over slices);
        ``inf`` only when it exceeds the largest float64.
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


def check_optimality(w: ArrayLike, x: ArrayLike, lam: float, *, l1: float = 0.0, tol: float | None = None,
                     axis: int | None = None, cluster_tol: float = 0.0) -> OptimalityCertificate:
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
        ``10 * ((eps_x * sqrt(N) + eps_64 * N) * max(|w|_max, |x|_max, lam, l1)
        + tiny_x * sqrt(N))`` for ``N`` entries: the rounding of ``x`` to its
        dtype (machine epsilon ``eps_x``, independent per cluster, and at
        least its smallest subnormal ``tiny_x``) plus the float64 sums of the
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

    Finite and accurate at every magnitude. Where the sums of the residual
    could overflow (the largest of ``w``, ``x``, ``lam``, ``l1`` within a
    factor of about ``4 N`` of the largest float64), ``w``, ``x``, ``lam``,
    ``l1`` and ``cluster_tol`` are first multiplied by a power of two
    :math:`2^{-e}`, which is exact but for parts below :math:`2^{e-1074}`,
    and the residual multiplied back; the clusters are those of ``x`` itself.
    Every norm sums its squares at the scale of its largest term (a power
    of two), so no square overflows or underflows on its own; the penalty
    in the objective is :func:`wsprox.penalty`, accurate at every magnitude.
    ``inf`` comes out only where the value exceeds the largest float64: the
    objective of huge inputs, the residual of a candidate far from optimal.

    Examples
    --------
    >>> import numpy as np, wsprox
    >>> w = np.array([0.0, 1.0, 10.0])
    >>> wsprox.check_optimality(w, wsprox.prox(w, 2.0), 2.0).optimal
    True
    >>> wsprox.check_optimality(w, wsprox.prox(w, 2.1), 2.0).optimal
    False
    """
    a, b, lam, l1 = _checked(("w", w), ("x", x), lam, l1)
    axis = normalize_axis(axis, a.ndim)
    cluster_tol = check_penalty_weight(cluster_tol, "cluster_tol")
    wr = to_rows(a, axis).astype(np.float64, copy=False)
    xr = to_rows(b, axis).astype(np.float64, copy=False)
    n, d = wr.shape
    largest = max(finite_magnitude(wr, "w"), finite_magnitude(xr, "x"), lam, l1)
    # The sums of the residual, at most 4 * size * largest, stay below 2**1022.
    e = max(math.frexp(largest)[1] + (n * d).bit_length() - 1020, 0)
    ws, xs = np.ldexp(wr, -e), np.ldexp(xr, -e)
    snap_distance = 0.0
    if cluster_tol > 0:
        snapped = _snap(xs, _ldexp(cluster_tol, -e))
        snap_distance = _norm(snapped - xs)
        xs = snapped
        xr = np.ldexp(xs, e)
    # The clusters and signs are those of x itself, not of its scaled copy.
    residual, n_clusters = _scaled_distance(xs - ws, xr, _ldexp(lam, -e), _ldexp(l1, -e))
    residual = _ldexp(residual + snap_distance, e)
    objective = _objective(wr, xr, lam, l1)
    if tol is None:
        size = max(n * d, 1)
        info = np.finfo(b.dtype)
        rounding = info.eps * np.sqrt(size) + np.finfo(np.float64).eps * size
        tol = 10.0 * (rounding * largest + info.smallest_subnormal * np.sqrt(size))
    else:
        tol = check_penalty_weight(tol, "tol")
    return OptimalityCertificate(residual, float(tol), bool(residual <= tol), objective, n_clusters)


def subdifferential_distance(g: ArrayLike, x: ArrayLike, lam: float, *, l1: float = 0.0) -> float:
    r"""The exact distance :math:`\operatorname{dist}(-g,\ \lambda\,\partial R(x) + \ell_1\,\partial\|x\|_1)`.

    For a smooth :math:`f` with :math:`g = \nabla f(x)` this is the
    optimality measure of the composite problem
    :math:`\min_x f(x) + \lambda R(x) + \ell_1 \|x\|_1`: the distance from
    0 to its subdifferential :math:`\nabla f(x) + \lambda\,\partial R(x) +
    \ell_1\,\partial\|x\|_1` at ``x``, zero exactly at the minimiser. It is
    the residual of :func:`check_optimality`, which is this distance with
    ``g = x - w``, computed cluster by cluster from the clusters (groups of
    equal entries) and zeros of ``x`` as they are (see
    :mod:`wsprox.certificate`). Where :math:`f` is :math:`\mu`-strongly
    convex it bounds the error: :math:`\|x - x^\star\| \le
    \operatorname{dist}/\mu`.

    Parameters
    ----------
    g : array_like
        The gradient of the smooth part at ``x``, of ``x``'s shape.
    x : array_like
        The point, treated as one flattened vector.
    lam, l1 : float
        Penalty weights, finite and ``>= 0``.

    Returns
    -------
    float
        The distance, finite and accurate at every magnitude (``inf`` only
        where it exceeds the largest float64).

    Raises
    ------
    ValueError, TypeError
        Bad input, as for :func:`check_optimality`.

    Examples
    --------
    >>> import numpy as np, wsprox
    >>> from wsprox.certificate import subdifferential_distance
    >>> w = np.array([0.0, 1.0, 10.0])
    >>> x = wsprox.prox(w, 2.0)              # minimises 0.5||x - w||^2 + 2 R(x)
    >>> float(subdifferential_distance(x - w, x, 2.0))
    0.0
    >>> round(subdifferential_distance(x - w, x, 1.0), 6)   # not optimal for lam = 1
    1.224745
    """
    a, b, lam, l1 = _checked(("g", g), ("x", x), lam, l1)
    gr = a.astype(np.float64, copy=False).reshape(1, -1)
    xr = b.astype(np.float64, copy=False).reshape(1, -1)
    return _scaled_distance(gr, xr, lam, l1)[0]


def _checked(first, second, lam, l1):
    """The ``(name, array)`` pairs ``first`` and ``second`` as float arrays of one
    shape, and the validated weights ``lam``, ``l1``."""
    (name_a, a), (name_b, b) = first, second
    a, b = as_float_array(a, name_a), as_float_array(b, name_b)
    if a.shape != b.shape:
        raise ValueError(f"{name_a} has shape {a.shape} and {name_b} {b.shape}: they must have one shape")
    return a, b, check_penalty_weight(lam, "lam"), check_penalty_weight(l1, "l1")


def _scaled_distance(g, xr, lam, l1):
    """``(dist(-g, lam dR(x) + l1 d|x|), n_clusters)`` over the rows of ``xr``, with
    ``g``, ``lam``, ``l1`` multiplied by a power of two first where the sums could overflow."""
    largest = max(finite_magnitude(g, "g"), lam, l1)
    # The sums of the residual, at most 4 * size * largest, stay below 2**1022.
    e = max(math.frexp(largest)[1] + (g.size).bit_length() - 1020, 0)
    residual, n_clusters = _residual(np.ldexp(-g, -e), xr, _ldexp(lam, -e), _ldexp(l1, -e))
    return _ldexp(residual, e), n_clusters


def _ldexp(value, exponent):
    """``value * 2**exponent`` as a float, ``inf`` where that exceeds the largest float64."""
    with np.errstate(over="ignore"):
        return float(np.ldexp(value, exponent))


def _norm(v):
    """``||v||``, its squares summed at the scale of ``max|v|`` (a power of two):
    ``inf`` only where its value exceeds the largest float."""
    e = math.frexp(float(np.abs(v).max(initial=0.0)))[1]
    return _ldexp(math.sqrt(float(np.sum(np.ldexp(v, -e) ** 2))), e)


def _objective(wr, xr, lam, l1):
    """``0.5*||x - w||^2 + lam*R(x) + l1*||x||_1``, each part at its own scale:
    ``inf`` only where the objective exceeds the largest float."""
    with np.errstate(over="ignore"):
        distance = _norm(xr - wr)                       # xr - wr is inf only where its square is
        e = math.frexp(float(np.abs(xr).max(initial=0.0)))[1]
        xs = np.ldexp(xr, -e)
        return (0.5 * distance * distance + _scaled_product(lam, float(penalty(xs, axis=1).sum()), e)
                + _scaled_product(l1, float(np.abs(xs).sum()), e))


def _scaled_product(a, b, e):
    """``a * b * 2**e`` for finite ``a, b >= 0``, rounded once."""
    (ma, ea), (mb, eb) = math.frexp(a), math.frexp(b)
    return _ldexp(ma * mb, ea + eb + e)


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


def _residual(r, xr, lam, l1):
    # r = w - x (at the scale of lam and l1); xr gives the clusters and signs.
    n, d = r.shape
    if n * d == 0:
        return 0.0, 0
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
    return _distance(t, group_start, group_end, xs, l1), group_start.size


@njit(cache=True)
def _distance(t, group_start, group_end, xs, l1):
    # sqrt(sum m q^2) as scale * sqrt(ssq), scale the largest |q| so far (as
    # LAPACK's dnrm2): a tiny residual does not underflow in its squares.
    scale = 0.0
    ssq = 0.0
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
            q = max(abs(q) - l1, 0.0) if xs[a] == 0.0 else abs(q)
            if q > scale:
                ssq = m + ssq * (scale / q) ** 2
                scale = q
            elif q > 0.0:
                ssq += m * (q / scale) ** 2
    return scale * np.sqrt(ssq)

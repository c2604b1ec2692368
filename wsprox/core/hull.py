r"""The lower-hull view of a sorted row, in double-double arithmetic.

A sorted row ``x_0..x_{d-1}`` is the point set ``P_j = (j, S_j)``,
``S_j = x_0 + ... + x_{j-1}``, ``j = 0..d``; the cluster ``a..b-1`` of the
prox is the edge ``P_a P_b`` and its value is the edge's slope
(:func:`edge_slope`: :func:`~wsprox.core.clusters.cluster_value` of
:math:`S_b - S_a`). The clusters of the prox are the edges of the lower convex
hull of the points (the greatest convex minorant), which PAVA in hull form
finds (:func:`wsprox.core.pava.hull_pava`).

Sums of points are kept in double-double (``S = h + l``, :func:`dd_add`), and
a difference of two is exact by :func:`two_sum` up to their low parts: a
cluster of tiny entries after large ones keeps its value, which a float64
prefix sum loses (at ``d = 1e8`` such losses exceed the velocity step
``2 lam/(d-1)``). The same range always goes through the same formula, so
equal ranges have equal values.

Used by the CUDA backend's search collisions (:mod:`wsprox.cuda.hull`, which
compiles these functions for the device and sums tile by tile) and by
:mod:`wsprox.distributed` (prefix sums of a rank's range: :func:`prefix_sums`,
:func:`slope`).

Examples
--------
>>> import numpy as np
>>> from wsprox.core.hull import prefix_sums, slope
>>> Sh, Sl = np.empty(4), np.empty(4)
>>> prefix_sums(np.array([0.0, 1.0, 2.0]), Sh, Sl)
>>> Sh.tolist(), slope((Sh, Sl, 0), 2.0, 3, 0, 2)    # the cluster 0..1 of z = [2, 1, 0]
([0.0, 0.0, 1.0, 3.0], 1.5)
"""
from numba import njit

from .clusters import cluster_value

__all__ = ["dd_add", "edge_slope", "prefix_sums", "slope", "two_sum"]


def _two_sum(a, b):
    """``(s, e)`` with ``s = fl(a + b)`` and ``s + e == a + b`` exactly (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _dd_add(ah, al, bh, bl):
    """The double-double sum ``(ah + al) + (bh + bl)``, renormalised."""
    s, e = two_sum(ah, bh)
    e += al + bl
    h = s + e
    return h, e - (h - s)


def _edge_slope(ha, la, hb, lb, lam, d, a, b):
    """The value of the cluster ``a..b-1`` of a row of length ``d`` whose points are
    ``S_a = ha + la`` and ``S_b = hb + lb``: the slope of the hull edge ``P_a P_b``."""
    s, e = two_sum(hb, -ha)
    e += lb - la
    return cluster_value(s + e, lam, d, a, b - 1)


def _prefix_sums(x, Sh, Sl):
    """The points of the row ``x``: ``Sh[k] + Sl[k]`` is the sum of its first ``k`` entries
    (``k = 0..x.size``), in double-double."""
    h = 0.0
    lo = 0.0
    Sh[0] = 0.0
    Sl[0] = 0.0
    for k in range(x.size):
        h, lo = dd_add(h, lo, x[k], 0.0)
        Sh[k + 1] = h
        Sl[k + 1] = lo


def _slope(pts, lam, d, a, b):
    """The value of the cluster ``a..b-1`` from the points ``pts = (Sh, Sl, o)``:
    :func:`prefix_sums` of a stretch of the row that starts at its index ``o``."""
    Sh, Sl, o = pts
    return edge_slope(Sh[a], Sl[a], Sh[b], Sl[b], lam, d, o + a, o + b)


two_sum = njit(cache=True, inline="always")(_two_sum)
dd_add = njit(cache=True, inline="always")(_dd_add)
edge_slope = njit(cache=True, inline="always")(_edge_slope)
prefix_sums = njit(cache=True)(_prefix_sums)
slope = njit(cache=True, inline="always")(_slope)

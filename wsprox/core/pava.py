r"""Pool adjacent violators (PAVA), written once: on a sorted row, and in hull form.

The sequential collision algorithm of both backends (its pseudocode is in
:mod:`wsprox.cpu.pava` and :mod:`wsprox.cuda.pava`): particles are pushed
left to right onto a stack of clusters, and the top two merge while the lower
one's value (its position at time 1) is not below the upper one's. Each
particle is pushed once and popped at most once: :math:`O(d)` work and depth
after the sort. Two forms of the same loop:

* :func:`pava_row` on a sorted row, the clusters' sums kept on the stack
  (:func:`~wsprox.core.clusters.cluster_value`): the PAVA of both backends
  (:mod:`wsprox.cpu.pava`, :mod:`wsprox.cuda.pava`, the fused short rows of
  :mod:`wsprox.cuda.short_rows`) and of the certificate;
* :func:`hull_pava` on the points of the lower-hull view
  (:mod:`wsprox.core.hull`), a cluster's value the slope of an edge, sums in
  double-double; the stack holds the hull's vertices, the cluster starts:

  .. code-block:: text

      for k in lo..hi-1:
          push vertex k
          while slope(V[top-1], V[top]) >= slope(V[top], k + 1):   # the edge to k + 1
              pop V[top]

  It calls ``slope(pts, lam, d, a, b)``; compiled here over the prefix sums
  of :func:`wsprox.core.hull.slope` (:mod:`wsprox.distributed`), and by
  :mod:`wsprox.cuda.hull` over the tile sums of search collisions.

Examples
--------
Both forms find the clusters ``0..1`` and ``2`` of ``x = [0, 1, 10]``:

>>> import numpy as np
>>> from wsprox.core.hull import prefix_sums
>>> x, starts, V = np.array([0.0, 1.0, 10.0]), np.empty(4, dtype=np.int64), np.empty(3, dtype=np.int64)
>>> pava_row(x, 2.0, starts, np.empty(3)), starts[:3]
(2, array([0, 2, 3]))
>>> Sh, Sl = np.empty(4), np.empty(4)
>>> prefix_sums(x, Sh, Sl)
>>> hull_pava((Sh, Sl, 0), 2.0, 3, 0, 3, V), V[:2]
(2, array([0, 2]))
"""
from numba import njit

from .clusters import cluster_value
from .hull import slope

__all__ = ["hull_pava", "pava_row"]


def _pava_row(x, lam, starts, sums):
    """Clusters of one sorted row ``x``; returns their number.

    ``starts`` (length ``d + 1``) receives the cluster starts and the sentinel
    ``d``; ``sums`` (length ``d``) is scratch for the clusters' sums of ``x``.
    The value of the top cluster stays in a register (``v``), so a particle
    that collides with nothing costs one cluster value.
    """
    d = x.size
    top = 0
    v = 0.0
    for k in range(d):
        a = k
        s = x[k]
        u = cluster_value(s, lam, d, k, k)
        while top > 0 and v >= u:
            top -= 1
            a = starts[top]
            s += sums[top]
            u = cluster_value(s, lam, d, a, k)
            if top > 0:
                v = cluster_value(sums[top - 1], lam, d, starts[top - 1], a - 1)
        starts[top] = a
        sums[top] = s
        v = u
        top += 1
    starts[top] = d
    return top


def _hull_pava(pts, lam, d, lo, hi, V):
    """PAVA in hull form on the entries ``lo..hi-1`` of a row of ``d``; the cluster
    starts go to ``V[lo:lo + count]``; returns ``count``.

    Push every point; pop the last vertex while the cluster before it is not
    below the cluster it ends (``>=``: equal neighbours merge, as in PAVA).
    """
    top = 0
    for k in range(lo, hi):
        V[lo + top] = k
        top += 1
        while top >= 2 and slope(pts, lam, d, V[lo + top - 2], V[lo + top - 1]) >= slope(
                pts, lam, d, V[lo + top - 1], k + 1):
            top -= 1
    return top


#: The host PAVA of one sorted row.
pava_row = njit(cache=True)(_pava_row)

#: The host PAVA in hull form, over the prefix sums of :func:`wsprox.core.hull.slope`.
hull_pava = njit(cache=True)(_hull_pava)

r"""The prox pipeline around a collision algorithm, on the CPU.

For each row ``w`` of a batch:

1. rank: an ascending ``order`` of ``w`` and ``x = w[order]`` (float64), by
   the packed-key sort of :mod:`wsprox.cpu.sort`, or, warm, by repairing
   the order of a previous call (:mod:`wsprox.cpu.repair`);
2. collide: ``solve`` partitions ``0..d-1`` into the clusters of the isotonic
   regression of ``z = x + v`` (:mod:`wsprox.cpu` states the contract);
3. settle and scatter, in one pass: every cluster's value,
   ``mean(x_a..x_b) + lam (d-1-a-b)/(d-1)``, summed over the cluster in
   compensated float64 (:func:`wsprox.core.clusters.cluster_mean`), the
   running max of the values soft-thresholded by ``l1``
   (:func:`wsprox.core.clusters.settle_values`, here fused with the values
   and the scatter), and written to ``out[order[k]]`` for every ``k`` of the
   cluster.

Steps 1 and 3 are the same for every algorithm and run in parallel over
pieces of a row (one row) or over the rows (a batch), as tasks on the pool
of :mod:`wsprox.core.pool`.
"""
import numpy as np
from numba import njit

from ..core.clusters import cluster_mean, cluster_value, soft_threshold
from ..core.pool import kernel, row_parts
from ..core.workspace import default_workspace
from .parallel import serial_unless_large
from .repair import resort_rows
from .sort import rank_rows

__all__ = ["prox_rows"]


def prox_rows(solve, rows, lam, l1, out, labels=None, *, warm=None):
    """Prox every row of ``rows`` into ``out`` with the collision kernel ``solve``.

    Parameters
    ----------
    solve : numba dispatcher
        A collision kernel of :mod:`wsprox.cpu`.
    rows : ndarray, shape (n, d), float32 or float64, C-contiguous
        The input rows; read only.
    lam, l1 : float
        Penalty weights, validated.
    out : ndarray, shape (n, d), float32 or float64, C-contiguous
        Receives the prox; may be ``rows`` itself.
    labels : ndarray, shape (n, d), int64, optional
        Receives the cluster labels (0..K-1 by increasing value).
    warm : wsprox.ProxState, optional
        Warm start: when ``warm.order`` holds the order of a previous call on
        rows of this shape, it is repaired instead of sorting from scratch;
        on return ``warm.order`` is this call's order and ``warm.reused``
        says whether the previous one could be repaired. The work arrays
        are ``warm.workspace``'s (the thread's default workspace without
        ``warm``: :mod:`wsprox.core.workspace`).

    Returns
    -------
    n_clusters, rounds : ndarray of int64, shape (n,)
        ``n_clusters`` counts distinct output values per row when ``labels``
        is given, else the clusters found by ``solve``.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.cpu import SOLVERS
    >>> out = np.empty((1, 3))
    >>> prox_rows(SOLVERS["pava"], np.array([[0.0, 1.0, 10.0]]), 2.0, 0.0, out)
    (array([2]), array([3]))
    >>> out
    array([[1.5, 1.5, 8. ]])
    """
    n, d = rows.shape
    work = default_workspace() if warm is None else warm.workspace
    if warm is not None and warm.order is not None and warm.order.shape == rows.shape:
        order, x, reused = resort_rows(rows, warm.order, work)
    else:
        (order, x), reused = rank_rows(rows, work), False
    if warm is not None:
        warm.order, warm.reused = order, reused
    starts = work.array("starts", (n, d + 1), np.int64)
    sums = work.array("keys", (n, d), np.uint64).view(np.float64)  # the keys are spent
    counts = np.empty(n, dtype=np.int64)
    rounds = np.zeros(n, dtype=np.int64)
    with serial_unless_large(n * d):
        solve(x, lam, starts, counts, rounds, sums)
    parts = row_parts(n, d)
    _settle(x, starts, counts, order, lam, l1, parts, out)
    if labels is not None:
        _labels(n, out, order, starts, counts, labels)
    return counts, rounds


@njit(cache=True, inline="always")
def _fill(out, order, r, a, e, v):
    for k in range(a, e):
        out[r, order[r, k]] = v


@njit(cache=True)
def _settle_run(x, starts, order, lam, l1, r, lo, hi, out):
    # Clusters lo..hi-1 of row r at the running max of their values; returns it.
    d = x.shape[1]
    top = -np.inf
    for b in range(lo, hi):
        a = starts[r, b]
        e = starts[r, b + 1]
        if e == a + 1:             # most clusters: a singleton, no loops to set up
            top = max(x[r, a] + cluster_value(0.0, lam, d, a, a), top)
            out[r, order[r, a]] = soft_threshold(top, l1)
        else:
            top = max(cluster_mean(x[r], lam, a, e), top)
            _fill(out, order, r, a, e, soft_threshold(top, l1))
    return top


@kernel
def _settle_parts(lo, hi, x, starts, counts, order, lam, l1, parts, out, tops):
    # Part t % parts of the clusters of row t // parts, with its own running max.
    for t in range(lo, hi):
        r = t // parts
        p = t - r * parts
        tops[r, p] = _settle_run(x, starts, order, lam, l1, r,
                                 p * counts[r] // parts, (p + 1) * counts[r] // parts, out)


@njit(cache=True)
def _raise_heads(x, starts, counts, order, lam, l1, tops, out):
    # In order, the clusters at the head of a part that lie below the max of the
    # parts before it are raised to it.
    n, parts = tops.shape
    for r in range(n):
        top = -np.inf
        for p in range(parts):
            b = p * counts[r] // parts
            while b < (p + 1) * counts[r] // parts and (
                cluster_mean(x[r], lam, starts[r, b], starts[r, b + 1]) < top
            ):
                _fill(out, order, r, starts[r, b], starts[r, b + 1], soft_threshold(top, l1))
                b += 1
            top = max(top, tops[r, p])


def _settle(x, starts, counts, order, lam, l1, parts, out):
    """Cluster values, soft-thresholded, scattered to ``out`` in one pass.

    Rounding can leave neighbouring clusters a few ulps out of order; a running
    max restores the order the exact answer has. Every row is cut into
    ``parts`` runs of clusters settled in parallel, each with its own running
    max; then, in order, the clusters at the head of a run that lie below the
    max of the runs before it are raised to it (rare, and only a few).
    """
    tops = np.empty((counts.size, parts))
    _settle_parts(tops.size, x, starts, counts, order, lam, l1, parts, out, tops)
    if parts > 1:
        _raise_heads(x, starts, counts, order, lam, l1, tops, out)


@kernel
def _labels(lo, hi, out, order, starts, counts, labels):
    # Labels number the distinct *output* values: soft-thresholding and the
    # output dtype can make neighbouring clusters equal, and then they share one.
    for r in range(lo, hi):
        label = -1
        prev = 0.0
        for b in range(counts[r]):
            a = starts[r, b]
            v = out[r, order[r, a]]
            if label < 0 or v != prev:
                label += 1
                prev = v
            for k in range(a, starts[r, b + 1]):
                labels[r, order[r, k]] = label
        counts[r] = label + 1

r"""Imminent collisions: in each round every run of out-of-order clusters merges.

Neighbouring clusters whose positions at time 1 are out of order,
:math:`z_{k-1} \ge z_k` (``z`` of a cluster is its value), always end in
one cluster. A round takes every maximal run of adjacent clusters whose ``z``
does not increase and merges each run into one cluster, all runs at once:

.. code-block:: text

    clusters = the d particles
    repeat:
        head[k] = (k == 0) or z[k-1] < z[k]          # k starts a run
        new clusters = the runs: compact the heads (a prefix sum of the flags),
                       sum each run's masses and sums (segmented reduction)
    until no run holds two clusters

A round is a parallel map, a prefix sum and a segmented reduction, work
:math:`O(K)` for ``K`` clusters. The map and the scan have depth
:math:`O(\log d)`; the segmented sums run one run per thread (each summed
in order, exactly as the clusters' own sums), so a round's depth is also at
most its longest run. Few rounds suffice on
typical inputs, but a cluster can absorb a single neighbour per round, so
:math:`\Theta(d)` rounds are possible (:func:`wsprox.worstcase.growing_cluster`).
``rounds`` counts the rounds run, the last one finding nothing to merge.
"""
import numpy as np
from numba import njit, prange

from ..core.clusters import cluster_value
from .scan import compact

__all__ = ["imminent_collisions_row", "solve"]


@njit(cache=True, parallel=True)
def imminent_collisions_row(x, lam, starts, sums):
    """Clusters of one sorted row ``x`` into ``starts``; returns (their number, rounds).

    ``sums`` (length ``d``) is scratch for the clusters' sums of ``x``.

    Examples
    --------
    >>> starts = np.empty(4, dtype=np.int64)
    >>> imminent_collisions_row(np.array([0.0, 1.0, 10.0]), 2.0, starts, np.empty(3)), starts[:3]
    ((2, 2), array([0, 2, 3]))
    """
    d = x.size
    first = np.empty(d + 1, dtype=np.int64)      # first particle of each cluster, sentinel d
    next_first = np.empty(d + 1, dtype=np.int64)
    next_sums = np.empty(d)
    head = np.empty(d, dtype=np.int64)
    pos = np.empty(d, dtype=np.int64)
    run_head = np.empty(d + 1, dtype=np.int64)   # first cluster of each run, sentinel K
    for k in prange(d):
        first[k] = k
        sums[k] = x[k]
    first[d] = d
    n = d
    rounds = 0
    while True:
        rounds += 1
        for k in prange(n):
            if k == 0:
                head[k] = 1
            else:
                left = cluster_value(sums[k - 1], lam, d, first[k - 1], first[k] - 1)
                right = cluster_value(sums[k], lam, d, first[k], first[k + 1] - 1)
                head[k] = 1 if left < right else 0
        m = compact(head, n, pos, run_head)
        if m == n:
            break
        run_head[m] = n
        for q in prange(m):
            total = 0.0
            for k in range(run_head[q], run_head[q + 1]):
                total += sums[k]
            next_sums[q] = total
            next_first[q] = first[run_head[q]]
        next_first[m] = d
        first, next_first = next_first, first
        sums, next_sums = next_sums, sums
        n = m
    for k in prange(n + 1):
        starts[k] = first[k]
    return n, rounds


@njit(cache=True)
def solve(x, lam, starts, counts, rounds, sums):
    """Clusters of every sorted row of ``x`` (see :mod:`wsprox.cpu`); rows in turn, each in parallel."""
    for r in range(x.shape[0]):
        counts[r], rounds[r] = imminent_collisions_row(x[r], lam, starts[r], sums[r])

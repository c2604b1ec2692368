r"""Search collisions: merge solved halves level by level, binary-searching the new cluster.

The paper's algorithm. Pad the row to :math:`D = 2^k` particles,
:math:`k = \lceil \log_2 d \rceil` (the padding particles have no mass: a
segment is cut at ``d``). At level :math:`L = 1..k` the row is split into
segments of :math:`2^L` particles, each made of two halves already solved at
level :math:`L-1`. Merging two solved halves creates at most one new cluster,
and it crosses the midpoint ``mid``. For a cluster start ``s`` of the left
half let
``J(s)`` be the last minimiser of the prefix means of ``z`` from ``s`` inside
the segment (:func:`wsprox.cpu.scan.last_argmin_prefix_means`): the end of the
cluster ``s`` would join. Over the cluster starts of the left half (not over
all its particles: a particle inside a cluster may fail where the cluster's
start holds) the predicate ``J(s) >= mid`` is monotone, so a binary search
finds the smallest ``s*`` for which it holds, if any, and ``s*..J(s*)``
becomes one cluster:

.. code-block:: text

    for L in 1..k:                            # all segments of a level in parallel
        for every segment [lo, lo + 2^L) with mid = lo + 2^(L-1) < d:
            binary search the smallest cluster start s in [lo, mid) with J(s) >= mid
            if found: merge s..J(s)

Why one cluster suffices: the left neighbour of ``s*`` is not pulled across
the midpoint (the predicate fails at ``s* - 1``), and the right neighbour of
``J(s*)`` sits at or above the merged cluster (``J`` minimises the prefix
means); the clusters of the halves outside ``s*..J(s*)`` stay as they are.

Cost: a level numbers the clusters (a prefix sum of the start flags); its
binary search over the at most :math:`2^{L-1}` cluster starts of a left half
and "none" takes at most :math:`L` steps, each one prefix-mean argmin over
every segment at once (depth :math:`O(\log d)`, work :math:`O(d)`). ``rounds``
counts the steps, summed over the levels (the most of any segment per level):
at most :math:`k(k+1)/2 \le \lceil\log_2 d\rceil^2`, hence depth
:math:`O(\log^3 d)` and work :math:`O(d \log^2 d)`.
"""
import numpy as np
from numba import njit, prange

from .scan import compact, last_argmin_prefix_means

__all__ = ["search_collisions_row", "solve"]


@njit(cache=True, parallel=True)
def search_collisions_row(x, lam, starts):
    """Clusters of one sorted row ``x`` into ``starts``; returns (their number, steps).

    Examples
    --------
    >>> starts = np.empty(4, dtype=np.int64)
    >>> search_collisions_row(np.array([0.0, 1.0, 10.0]), 2.0, starts), starts[:3]
    ((2, 2), array([0, 2, 3]))
    """
    d = x.size
    is_start = np.ones(d, dtype=np.int64)
    pos = np.empty(d, dtype=np.int64)
    cluster_starts = np.empty(d, dtype=np.int64)
    levels = 0
    while (1 << levels) < d:
        levels += 1
    n_segs_max = (d + 1) // 2
    lo = np.empty(n_segs_max, dtype=np.int64)      # binary search over cluster numbers [lo, hi]
    hi = np.empty(n_segs_max, dtype=np.int64)      # of the left half; hi == no_merge[b]: no new cluster
    no_merge = np.empty(n_segs_max, dtype=np.int64)
    mid = np.empty(n_segs_max, dtype=np.int64)
    end = np.empty(n_segs_max, dtype=np.int64)
    seg_end = np.empty(n_segs_max, dtype=np.int64)
    cand = np.empty(n_segs_max, dtype=np.int64)
    last = np.empty(n_segs_max, dtype=np.int64)
    found = np.empty(n_segs_max, dtype=np.int64)   # J at the left end of the new cluster
    steps = 0
    for level in range(1, levels + 1):
        size = 1 << level
        half = size >> 1
        n_segs = (d - half + size - 1) // size       # segments whose right half is not empty
        compact(is_start, d, pos, cluster_starts)    # pos[j]: clusters starting at or before j
        for b in prange(n_segs):
            mid[b] = b * size + half
            end[b] = min(b * size + size, d)
            lo[b] = pos[b * size] - 1
            no_merge[b] = pos[mid[b] - 1]
            hi[b] = no_merge[b]
        active = n_segs
        while active > 0:
            for b in prange(n_segs):
                if lo[b] < hi[b]:
                    cand[b] = cluster_starts[(lo[b] + hi[b]) // 2]
                    seg_end[b] = end[b]
                else:                                # settled segment: an empty-work argmin
                    cand[b] = mid[b] - 1
                    seg_end[b] = mid[b]
            last_argmin_prefix_means(x, lam, cand[:n_segs], seg_end[:n_segs], size, last)
            active = 0
            for b in prange(n_segs):
                if lo[b] < hi[b]:
                    c = (lo[b] + hi[b]) // 2
                    if last[b] >= mid[b]:
                        hi[b] = c
                        found[b] = last[b]
                    else:
                        lo[b] = c + 1
                    if lo[b] < hi[b]:
                        active += 1
            steps += 1
        for j in prange(d):
            b = j // size
            if b < n_segs and hi[b] < no_merge[b] and cluster_starts[hi[b]] < j <= found[b]:
                is_start[j] = 0
    count = compact(is_start, d, pos, starts)
    starts[count] = d
    return count, steps


@njit(cache=True)
def solve(x, lam, starts, counts, rounds, sums):
    """Clusters of every sorted row of ``x`` (see :mod:`wsprox.cpu`); rows in turn,
    each in parallel; ``sums`` is not needed (prefix means are scanned)."""
    for r in range(x.shape[0]):
        counts[r], rounds[r] = search_collisions_row(x[r], lam, starts[r])

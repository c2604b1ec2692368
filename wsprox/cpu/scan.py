r"""Parallel primitives shared by the collision algorithms: scans and argmins.

The parallel collision algorithms of the paper are built from two steps, each
of logarithmic depth with enough processors, here chunked over the threads
with ``prange``:

* :func:`compact` -- a prefix sum of 0/1 flags (:func:`inclusive_scan`) that
  gathers the flagged indices in order (stream compaction): how clusters get
  their new numbers after a round of merges.
* :func:`last_argmin_prefix_means` -- for each of several segments
  :math:`[s, e)` of a sorted row, the last minimiser

  .. math::

      J(s) = \max \arg\min_{s \le j < e} \operatorname{mean}(z_s..z_j),
      \qquad z = x + v,

  the end of the cluster that particle ``s`` joins when it collides only with
  particles of :math:`[s, e)` (the first cluster of their isotonic
  regression). Each segment is cut into chunks of :data:`CHUNK` particles:
  chunk sums, a scan of the chunk sums, then a running minimum inside every
  chunk and a reduction over the chunks. All (segment, chunk) pairs run in
  parallel, so one call serves a single long segment (end collisions) and
  many short ones (a level of search collisions) alike.

Sums start at ``s`` (never as differences of a global prefix sum, which loses
the small values of a row that also holds large ones), in float64, and cluster
values use the closed form of :func:`wsprox.core.clusters.cluster_value`; ties of
the prefix means go to the last minimiser, as pool-adjacent-violators merges
clusters of equal value.
"""
import numpy as np
from numba import njit, prange

from ..core.clusters import cluster_value

__all__ = ["CHUNK", "compact", "inclusive_scan", "last_argmin_prefix_means"]

#: Particles per chunk of the parallel scans.
CHUNK = 4096


@njit(cache=True, parallel=True)
def inclusive_scan(a, n, out):
    """``out[:n] = cumsum(a[:n])`` for int64 arrays, in parallel chunks.

    Examples
    --------
    >>> out = np.empty(4, dtype=np.int64)
    >>> inclusive_scan(np.array([1, 0, 1, 1]), 4, out)
    >>> out
    array([1, 1, 2, 3])
    """
    n_chunks = (n + CHUNK - 1) // CHUNK
    totals = np.zeros(n_chunks, dtype=np.int64)
    for c in prange(n_chunks):
        run = 0
        for k in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            run += a[k]
            out[k] = run
        totals[c] = run
    if n_chunks == 1:
        return
    for c in range(1, n_chunks):
        totals[c] += totals[c - 1]
    for c in prange(1, n_chunks):
        offset = totals[c - 1]
        for k in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            out[k] += offset


@njit(cache=True, parallel=True)
def compact(flags, n, pos, out):
    """Gather the indices ``k < n`` with ``flags[k] != 0`` into ``out``, in order.

    ``pos`` (int64, length ``>= n``) is scratch for the scan; returns how many
    indices were gathered.

    Examples
    --------
    >>> out = np.empty(5, dtype=np.int64)
    >>> m = compact(np.array([1, 0, 0, 1, 1]), 5, np.empty(5, dtype=np.int64), out)
    >>> out[:m]
    array([0, 3, 4])
    """
    if n == 0:
        return 0
    inclusive_scan(flags, n, pos)
    for k in prange(n):
        if flags[k] != 0:
            out[pos[k] - 1] = k
    return pos[n - 1]


@njit(cache=True)
def _chunk_sum(x, a, b):
    total = 0.0
    for j in range(a, b):
        total += x[j]
    return total


@njit(cache=True)
def _chunk_argmin(x, lam, s, a, b, offset):
    # Running sum of x[s..j] for j in a..b-1 (offset = sum of x[s..a-1]);
    # the smallest cluster value of s..j and the last j attaining it.
    d = x.size
    total = offset
    best = np.inf
    arg = -1
    for j in range(a, b):
        total += x[j]
        value = cluster_value(total, lam, d, s, j)
        if value <= best:
            best = value
            arg = j
    return best, arg


@njit(cache=True, parallel=True)
def last_argmin_prefix_means(x, lam, seg_start, seg_end, width, out):
    r"""For every segment ``g``: the last ``j`` minimising ``mean(z_s..z_j)``.

    Parameters
    ----------
    x : ndarray of float64, shape (d,)
        A sorted row; ``z = x + v`` with the velocities of a row of length ``d``.
    lam : float
        The penalty weight.
    seg_start, seg_end : ndarray of int64, shape (n_seg,)
        The segments :math:`[s, e)`, each non-empty.
    width : int
        An upper bound on ``e - s`` over the segments.
    out : ndarray of int64, shape (n_seg,)
        Receives :math:`J(s) = \max\arg\min_{s \le j < e}` of the prefix means.

    Notes
    -----
    :math:`O(\sum (e - s))` work; depth :math:`O(\mathrm{CHUNK} +
    \mathrm{width}/\mathrm{CHUNK})`, the chunked form of a scan and a
    reduction of depth :math:`O(\log \mathrm{width})`.

    Examples
    --------
    With ``lam = 0`` this is the prefix mean of ``x`` itself: from ``s = 0``
    the means are 3, 2, 1, 1.5, the smallest ends at index 2.

    >>> x = np.array([3.0, 1.0, -1.0, 3.0])
    >>> out = np.empty(2, dtype=np.int64)
    >>> last_argmin_prefix_means(x, 0.0, np.array([0, 3]), np.array([4, 4]), 4, out)
    >>> out
    array([2, 3])
    """
    n_seg = seg_start.size
    per_seg = max(1, (width + CHUNK - 1) // CHUNK)
    if per_seg == 1:                       # one chunk per segment: a single parallel pass
        for g in prange(n_seg):
            s = seg_start[g]
            out[g] = _chunk_argmin(x, lam, s, s, seg_end[g], 0.0)[1]
        return
    n_tasks = n_seg * per_seg
    offsets = np.empty(n_tasks)
    for t in prange(n_tasks):
        g = t // per_seg
        a = seg_start[g] + (t - g * per_seg) * CHUNK
        offsets[t] = _chunk_sum(x, a, min(a + CHUNK, seg_end[g]))
    for g in prange(n_seg):
        run = 0.0
        for t in range(g * per_seg, (g + 1) * per_seg):
            chunk_total = offsets[t]
            offsets[t] = run
            run += chunk_total
    best = np.empty(n_tasks)
    args = np.empty(n_tasks, dtype=np.int64)
    for t in prange(n_tasks):
        g = t // per_seg
        s = seg_start[g]
        a = s + (t - g * per_seg) * CHUNK
        best[t], args[t] = _chunk_argmin(x, lam, s, a, min(a + CHUNK, seg_end[g]), offsets[t])
    for g in prange(n_seg):
        value = np.inf
        arg = -1
        for t in range(g * per_seg, (g + 1) * per_seg):
            if args[t] >= 0 and best[t] <= value:
                value = best[t]
                arg = args[t]
        out[g] = arg

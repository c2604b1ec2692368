r"""The prox pipeline around a collision algorithm, on CUDA.

The mirror of :mod:`wsprox.cpu.pipeline`, every step on the device, every
weight read from the call's weights (:mod:`wsprox.cuda.weights`: the rows
read times the overflow scale, the prox written divided by it):

1. rank: :func:`wsprox.cuda.sort.rank_rows` (the owner's argsort and a
   gather, or a bitonic sort) gives ``order`` and ``x = w[order]`` in float64;
2. collide: ``solve`` partitions ``0..d-1`` into the clusters of the isotonic
   regression of ``z = x + v`` (:mod:`wsprox.cuda` states the contract);
3. settle: one cooperative kernel over the whole device
   (:mod:`wsprox.cuda.grid`), on the batch flattened to ``q = r d + k``,
   every step at once for every row and cluster, the clusters of the prox
   being segments of the grid-wide scans (:mod:`wsprox.cuda.scan`):

   .. code-block:: text

       flag[q]  = ROW at a row's first entry, CLUSTER at a cluster start  # from starts
       first[q] = (x[a], a) of q's cluster a..e                          # MAX scan, by clusters
       off[q]   = x[a+1]-x[a] + ... + x[k]-x[a]                          # SUM scan, by clusters
       at e:    val[a] = x[a] + cluster_value(off[e], lam, d, a, e)      # the core's formula
       top[q]   = max of val over the clusters up to q's, in its row     # MAX scan, by rows
       out[order[q]] = soft(top[q], l1)                                  # scatter
       labels (if asked): a new label at a cluster start whose output value
       (in the output dtype) differs from the cluster before it; a SUM
       scan by rows numbers them; counts[r] = the row's labels
       out[order[q]] /= scale                                    # with the scatter, or the labels

   The sum of the offsets from the cluster's first value makes a cluster of
   equal values keep their value exactly; the running max (the host's
   :func:`wsprox.core.clusters.settle_values`, as a grid-wide scan) repairs the few
   ulps by which rounding can leave neighbouring clusters out of order; the
   labels number the distinct *output* values (before the division by the
   scale, as on the CPU). Work :math:`O(n d)`, depth
   :math:`O(n d/(G T) + \log T)` on ``G`` blocks of ``T`` threads; one launch,
   9 grid barriers (12 with labels).

Steps 1 and 3 are the same for every algorithm. The work arrays and the
settle's launch are a plan per call shape (:func:`wsprox.cuda._device.plan`).
"""
import math

import numpy as np

from ._device import cuda, plan, scratch
from .clusters import Clusters, cluster_value, soft_threshold
from .grid import grid_launcher, launch_key
from .scan import CLUSTER, MAX, ROW, SUM, grid_scan, own_entries, scratch_scan
from .sort import rank_rows
from .weights import L1, LAM, as_weights, unscale

__all__ = ["prox_rows"]


@cuda.jit(cache=True)
def _settle(gc, x, order, clusters, weights, out, labels, want_labels, scan, tops):
    # scan: the clusters' first values and sums; tops: their values and running max (the flags of scan).
    starts, counts, _ = clusters
    fv, iv, fl = scan
    vals, vi, _ = tops
    lam = weights[LAM]
    l1 = weights[L1]
    grid = cuda.cg.this_grid()
    d = x.shape[1]
    N = x.shape[0] * d
    first, stop, step = own_entries(gc, N)
    for q in range(first, stop, step):
        fl[q] = ROW if q % d == 0 else 0
    grid.sync()  # orders: the flags cleared, before other blocks mark cluster starts in this range
    for q in range(first, stop, step):  # q = (r, b): cluster b of row r; writes anywhere in row r
        r = q // d
        b = q - r * d
        if 0 < b < counts[r]:
            fl[r * d + starts[r, b]] = CLUSTER
    grid.sync()  # orders: every cluster start marked, before the scans and the cluster ends read flags
    # (x[a], a) of every entry's cluster a..e, then the offsets from x[a], summed over the cluster:
    # the cluster value of the core's formula, exact for a cluster of equal values (the CPU sums the
    # offsets compensated, here a float64 scan: equal on exact inputs, a few ulps apart otherwise).
    for q in range(first, stop, step):
        r = q // d
        fv[q] = x[r, q - r * d] if fl[q] != 0 else -math.inf
        iv[q] = q - r * d
    cuda.syncthreads()  # the scan reads this block's own entries first
    grid_scan(MAX, fv, iv, fl, ROW | CLUSTER, N, gc)
    for q in range(first, stop, step):
        r = q // d
        fv[q] = x[r, q - r * d] - fv[q]
        iv[q] = iv[q] if fl[q] != 0 else 0
    cuda.syncthreads()
    grid_scan(SUM, fv, iv, fl, ROW | CLUSTER, N, gc)
    # The cluster values, written at the clusters' starts by their ends (maybe another block's
    # range; the clearing writes only the other entries, so the writes are disjoint).
    for q in range(first, stop, step):
        r = q // d
        k = q - r * d
        vi[q] = 0
        if fl[q] == 0:
            vals[q] = -math.inf
        if k == d - 1 or fl[q + 1] != 0:
            a = iv[q]
            vals[r * d + a] = x[r, a] + cluster_value(fv[q], lam, d, a, k)
    grid.sync()  # orders: every cluster value at its start, before the running max reads them
    grid_scan(MAX, vals, vi, fl, ROW, N, gc)
    for q in range(first, stop, step):
        r = q // d
        o = order[r, q - r * d]
        out[r, o] = soft_threshold(vals[q], l1)
        if not want_labels:
            unscale(out, r, o, weights)
    if want_labels:
        grid.sync()  # orders: the scatter complete, before the labels compare output values
        # A new label where the output value (in the output dtype) changes.
        for q in range(first, stop, step):
            r = q // d
            k = q - r * d
            fv[q] = 0.0
            iv[q] = 0
            if fl[q] != 0 and (k == 0 or out[r, order[r, k]] != out[r, order[r, k - 1]]):
                iv[q] = 1
        cuda.syncthreads()
        grid_scan(SUM, fv, iv, fl, ROW, N, gc)  # (its grid barriers: every output value compared)
        for q in range(first, stop, step):
            r = q // d
            k = q - r * d
            labels[r, order[r, k]] = iv[q] - 1
            unscale(out, r, order[r, k], weights)
            if k == d - 1:
                counts[r] = iv[q]


def prox_rows(solve, rows, lam, l1, out, labels=None, owner=None, *, weights=None):
    """Prox every row of the device array ``rows`` into ``out`` with the kernel ``solve``.

    Parameters
    ----------
    solve : callable
        A collision kernel of :mod:`wsprox.cuda` (``SOLVERS[method]``).
    rows : device array, shape (n, d), float32 or float64, C-contiguous
        The input rows (``d >= 1``); read only.
    lam, l1 : float
        Penalty weights, validated.
    out : device array, shape (n, d), float32 or float64
        Receives the prox; may be ``rows`` itself.
    labels : device array, shape (n, d), int64, optional
        Receives the cluster labels (0..K-1 by increasing value).
    owner : {"cupy", "torch"} or None
        Whose argsort ranks the rows (see :func:`wsprox.cuda.sort.rank_rows`).
    weights : device array, optional
        The call's weights (:mod:`wsprox.cuda.weights`: the overflow scale
        and ``lam``, ``l1`` scaled, found on the device), which the kernels
        read; by default those of ``lam`` and ``l1`` unscaled (one launch).

    Returns
    -------
    n_clusters, rounds : device arrays of int64, shape (n,)
        As in :func:`wsprox.cpu.pipeline.prox_rows`, in the thread's device
        work memory (:func:`wsprox.cuda._device.scratch`): valid until its
        next call. Nothing is synchronised.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.cuda import SOLVERS, _device, prox_rows
    >>> rows = _device.cuda.to_device(np.array([[0.0, 1.0, 10.0]]))
    >>> out = _device.cuda.device_array((1, 3))
    >>> counts, rounds = prox_rows(SOLVERS["pava"], rows, 2.0, 0.0, out)
    >>> out.copy_to_host(), counts.copy_to_host()
    (array([[1.5, 1.5, 8. ]]), array([2]))
    """
    n, d = rows.shape
    weights = as_weights(lam, l1) if weights is None else weights
    order, x = rank_rows(rows, owner, weights)
    want = labels is not None
    settle, clusters, work = plan(("pipeline", n, d, order.dtype, out.dtype, want, *launch_key()),
                                  lambda: _plan(x, order, out, labels, weights))
    solve(x, lam, *clusters, weights=weights)
    settle(x, order, clusters, weights, out, labels if want else clusters.starts, want, *work)
    return clusters.counts, clusters.rounds


def _plan(x, order, out, labels, weights):
    # The clusters and work arrays of a call of x's shape, and the settle's launch.
    n, d = x.shape
    clusters = Clusters(scratch("pipeline.starts", (n, d + 1), np.int64),
                        scratch("pipeline.counts", (n,), np.int64), scratch("pipeline.rounds", (n,), np.int64))
    scan = scratch_scan("pipeline.scan", n * d)
    work = (scan, scratch_scan("pipeline.tops", n * d, scan.flags))
    want = labels is not None
    settle = grid_launcher(_settle, n * d, x, order, clusters, weights, out,
                           labels if want else clusters.starts, want, *work)
    return settle, clusters, work

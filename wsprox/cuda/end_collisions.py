r"""End collisions on CUDA over the whole device: settle the leftmost cluster, one per iteration.

The mirror of :mod:`wsprox.cpu.end_collisions`. The leftmost unsettled
particle ``i`` ends in the cluster ``i..j*``, where ``j*`` is the last
minimiser of the prefix means of ``z`` from ``i``:

.. code-block:: text

    i = 0
    while i < d:
        S[j]  = x[i] + ... + x[j]                           # scan, j >= i
        m[j]  = S[j] / (j - i + 1) + lam (d-1-i-j)/(d-1)    # mean of z_i..z_j
        j*    = last argmin of m                            # argmin scan
        settle i..j*; i = j* + 1

One cooperative kernel runs the whole loop for every row of the batch at once
(:mod:`wsprox.cuda.grid`; the scans of :mod:`wsprox.cuda.scan`: the batch
flattened, rows as segments): an
iteration is a grid-wide SUM scan by rows of ``x[k]`` for ``k >= i_r``
(0 before), the means ``m`` (``+inf`` before ``i_r``), a grid-wide ARGMIN scan
by rows, and, at every unsettled row's last entry, the new cluster start
``j* + 1`` (the row's ``i`` is ``starts[r, counts[r]]``, so the last start
written is the sentinel ``d``). The loop runs until every row is settled
(an integer count of unsettled rows, decremented atomically). Each iteration
has work :math:`O(n d)` and depth :math:`O(n d/(G T) + \log T)` on ``G``
blocks of ``T`` threads, and five grid barriers (two per scan, one after the
update); the rows run ``max_r K_r`` iterations, one per final cluster of the
row with the most, so it is slow when clusters are many (small ``lam``).
``rounds[r]`` is the number of iterations of row ``r``, ``K_r``. One launch.
"""
import math

import numpy as np

from ._device import cuda, scratch
from .clusters import cluster_value, planned_solve
from .grid import grid_launcher, launch_key
from .scan import ARGMIN, ROW, SUM, grid_scan, own_entries, scratch_scan
from .weights import LAM

__all__ = ["solve"]


@cuda.jit(cache=True)
def _kernel(gc, x, weights, clusters, unsettled, scan):
    starts, counts, rounds = clusters
    fv, iv, fl = scan
    lam = weights[LAM]
    grid = cuda.cg.this_grid()
    n, d = x.shape
    first, stop, step = own_entries(gc, x.size)
    for q in range(first, stop, step):
        fl[q] = ROW if q % d == 0 else 0
        if q % d == 0:
            starts[q // d, 0] = 0
            counts[q // d] = 0
    if cuda.blockIdx.x == 0 and cuda.threadIdx.x == 0:
        unsettled[0] = n if d > 0 else 0  # (rows of d = 0: nothing to settle, no loop)
    grid.sync()  # orders: every row's state initialised, before any block reads it
    while unsettled[0] > 0:
        for q in range(first, stop, step):
            r = q // d
            k = q - r * d
            fv[q] = x[r, k] if k >= starts[r, counts[r]] else 0.0
            iv[q] = 0
        cuda.syncthreads()  # the scan reads this block's own entries first
        grid_scan(SUM, fv, iv, fl, ROW, x.size, gc)
        for q in range(first, stop, step):
            r = q // d
            k = q - r * d
            i = starts[r, counts[r]]
            fv[q] = cluster_value(fv[q], lam, d, i, k) if k >= i else math.inf
            iv[q] = k
        cuda.syncthreads()
        grid_scan(ARGMIN, fv, iv, fl, ROW, x.size, gc)
        for q in range(first, stop, step):
            r = q // d
            if q - r * d == d - 1 and starts[r, counts[r]] < d:
                j = max(iv[q], starts[r, counts[r]])  # progress whatever the arithmetic
                counts[r] += 1
                starts[r, counts[r]] = j + 1
                if j + 1 == d:
                    cuda.atomic.sub(unsettled, 0, 1)
        grid.sync()  # orders: the rows' new starts, counts and the unsettled count, before the next iteration
    for q in range(first, stop, step):
        if q % d == 0:
            rounds[q // d] = counts[q // d]


def solve(x, lam, starts, counts, rounds, weights=None):
    """Clusters of every sorted row of the device array ``x`` (see :mod:`wsprox.cuda`)."""
    key = ("end_collisions", *x.shape, *launch_key())
    planned_solve(key, _plan, x, lam, starts, counts, rounds, weights)


def _plan(x, weights, clusters):
    # The launch of a solve of x's shape, with its work arrays: the count of unsettled rows, the scan.
    n, d = x.shape
    work = (scratch("end_collisions.unsettled", (1,), np.int64), scratch_scan("end_collisions.scan", n * d))
    run = grid_launcher(_kernel, n * d, x, weights, clusters, *work)
    return lambda x, weights, clusters: run(x, weights, clusters, *work)

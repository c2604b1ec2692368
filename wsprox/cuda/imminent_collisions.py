r"""Imminent collisions on CUDA over the whole device: every run of out-of-order neighbours merges at once.

The mirror of :mod:`wsprox.cpu.imminent_collisions`. In a round, cluster
``c`` (with value ``z_c``, its position at time 1) starts a new cluster iff
``c = 0`` or ``z_{c-1} < z_c``; every maximal run of clusters whose ``z`` does
not increase merges (neighbours out of order at time 1 always end in one
cluster). Per round, for every row of the batch at once:

.. code-block:: text

    flag[c]  = c == 0 or z[c-1] < z[c]            # all clusters at once
    run[c]   = prefix count of flag                # grid-wide scan, by rows
    sums'    = segmented sum of sums over runs     # grid-wide scan, by runs
    starts'[run[c] - 1] = starts[c] where flag[c]  # compaction into the other buffer
    until no run merges, in any row

One cooperative kernel runs the whole loop (:mod:`wsprox.cuda.grid`; the scans
of :mod:`wsprox.cuda.scan`: the batch flattened, rows as segments; the ``K_r`` clusters of row ``r`` are the
entries ``0..K_r-1`` of its row, the others are inert). The clusters
(starts with their sentinel, counts, sums: a :class:`Buffer`) alternate between two buffers,
one round reading one and writing the other. A row whose round merges
nothing is done: ``rounds[r]`` is that round's number, and in later rounds
its clusters are only copied to the other buffer. The loop ends when every
row is done (an integer count of rows not done, decremented atomically).
A round has work :math:`O(n d)` and depth :math:`O(n d/(G T) + \log T)` on
``G`` blocks of ``T`` threads, and five grid barriers (two per scan, one
after the compaction); few rounds on typical inputs, :math:`\Theta(d)` on
adversarial ones (:func:`wsprox.worstcase.growing_cluster`). ``rounds``
counts the rounds run, the last one finding nothing to merge. One launch.
"""
from collections import namedtuple

import numpy as np

from ._device import cuda, scratch
from .clusters import cluster_value, planned_solve
from .grid import grid_launcher, launch_key
from .scan import CLUSTER, ROW, SUM, grid_scan, own_entries, scratch_scan
from .weights import LAM

__all__ = ["Buffer", "solve"]

#: The second buffer of the clusters of a round, for every row: ``starts``
#: ``(n, d + 1)`` and ``counts`` ``(n,)`` int64 (as a solve writes them), and
#: their ``sums`` of ``x`` ``(n, d)`` float64.
Buffer = namedtuple("Buffer", "starts counts sums")


@cuda.jit(cache=True)
def _kernel(gc, x, weights, clusters, sums, busy, other, scan, runs):
    # clusters (and their sums): the first buffer, where the kernel ends; other: the
    # second; scan: the sums over runs; runs: the run numbers (the flags of scan).
    starts, counts, rounds = clusters
    fv, iv, fl = scan
    hf, hc, _ = runs
    lam = weights[LAM]
    grid = cuda.cg.this_grid()
    n, d = x.shape
    first, stop, step = own_entries(gc, x.size)
    for q in range(first, stop, step):
        r = q // d
        c = q - r * d
        starts[r, c] = c
        sums[r, c] = x[r, c]
        if c == 0:
            counts[r] = d
            rounds[r] = 0
        if c == d - 1:
            starts[r, d] = d
    if cuda.blockIdx.x == 0 and cuda.threadIdx.x == 0:
        busy[0] = n if d > 0 else 0  # (rows of d = 0: nothing to merge, no loop)
    grid.sync()  # orders: the singleton clusters, before any block reads them
    st, sm, nc, st2, sm2, nc2 = starts, sums, counts, other.starts, other.sums, other.counts
    n_rounds = 0
    while busy[0] > 0:
        n_rounds += 1
        for q in range(first, stop, step):
            r = q // d
            c = q - r * d
            head = 1
            fv[q] = 0.0
            if c < nc[r]:
                a = st[r, c]
                if c > 0 and (cluster_value(sm[r, c - 1], lam, d, st[r, c - 1], a - 1)
                              >= cluster_value(sm[r, c], lam, d, a, st[r, c + 1] - 1)):
                    head = 0
                fv[q] = sm[r, c]
                hc[q] = head
            else:
                hc[q] = 0  # inert: its own segment, no run
            fl[q] = ROW if c == 0 else CLUSTER * head
            iv[q] = 0
            hf[q] = 0.0  # the float half of the run count
        cuda.syncthreads()  # the scans read this block's own entries first
        grid_scan(SUM, fv, iv, fl, ROW | CLUSTER, x.size, gc)  # sums over runs, whole at their last cluster
        grid_scan(SUM, hf, hc, fl, ROW, x.size, gc)  # run numbers
        # The runs, compacted into the other buffer (at run number - 1 <= c: maybe another block's range).
        for q in range(first, stop, step):
            r = q // d
            c = q - r * d
            m = nc[r]
            if c < m:
                j = hc[q] - 1
                if fl[q] != 0:
                    st2[r, j] = st[r, c]
                if c == m - 1 or fl[q + 1] != 0:
                    sm2[r, j] = fv[q]
                if c == m - 1:
                    nc2[r] = j + 1
                    st2[r, j + 1] = d
                    if j + 1 == m and rounds[r] == 0:
                        rounds[r] = n_rounds
                        cuda.atomic.sub(busy, 0, 1)
        grid.sync()  # orders: the new clusters and the count of busy rows, before the next round reads them
        st, sm, nc, st2, sm2, nc2 = st2, sm2, nc2, st, sm, nc
    if n_rounds % 2 == 1:  # the clusters are in the second buffer: copy them back
        for q in range(first, stop, step):
            r = q // d
            c = q - r * d
            if c <= nc[r]:
                starts[r, c] = st[r, c]
            if c == 0:
                counts[r] = nc[r]


def solve(x, lam, starts, counts, rounds, weights=None):
    """Clusters of every sorted row of the device array ``x`` (see :mod:`wsprox.cuda`)."""
    key = ("imminent_collisions", *x.shape, *launch_key())
    planned_solve(key, _plan, x, lam, starts, counts, rounds, weights)


def _plan(x, weights, clusters):
    # The launch of a solve of x's shape, with its work arrays: the sums of the
    # first buffer, the count of busy rows, the second buffer, the scans.
    n, d = x.shape
    sums = scratch("imminent_collisions.sums", (n, d), np.float64)
    busy = scratch("imminent_collisions.busy", (1,), np.int64)
    other = Buffer(scratch("imminent_collisions.starts", (n, d + 1), np.int64),
                   scratch("imminent_collisions.counts", (n,), np.int64),
                   scratch("imminent_collisions.sums2", (n, d), np.float64))
    scan = scratch_scan("imminent_collisions.scan", n * d)
    work = (sums, busy, other, scan, scratch_scan("imminent_collisions.runs", n * d, scan.flags))
    run = grid_launcher(_kernel, n * d, x, weights, clusters, *work)
    return lambda x, weights, clusters: run(x, weights, clusters, *work)

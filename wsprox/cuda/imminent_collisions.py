r"""Imminent collisions on CUDA over the whole device: every run of out-of-order neighbours merges at once.

The mirror of :mod:`wsprox.cpu.imminent_collisions`. In a round, cluster
``c`` (with value ``z_c``, its position at time 1) starts a new cluster iff
``c = 0`` or ``z_{c-1} < z_c``; every maximal run of clusters whose ``z`` does
not increase merges (neighbours out of order at time 1 always end in one
block). Per round, for every row of the batch at once:

.. code-block:: text

    flag[c]  = c == 0 or z[c-1] < z[c]            # all clusters at once
    run[c]   = prefix count of flag                # grid-wide scan, by rows
    sums'    = segmented sum of sums over runs     # grid-wide scan, by runs
    starts'[run[c] - 1] = starts[c] where flag[c]  # compaction into the other buffer
    until no run merges, in any row

One cooperative kernel runs the whole loop (:mod:`wsprox.cuda.grid`: the
batch flattened, rows as segments; the ``K_r`` clusters of row ``r`` are the
entries ``0..K_r-1`` of its row, the others are inert). The clusters
(starts with their sentinel, sums, counts) alternate between two buffers,
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
import numpy as np

from ._device import cuda, plan, scratch
from .blocks import block_value
from .grid import BLOCK, ROW, grid_launcher, grid_scan, launch_key, own_range
from .scan import SUM
from .weights import LAM, as_weights

__all__ = ["solve"]


@cuda.jit(cache=True)
def _kernel(parts, chunk, totf, toti, x, weights, starts, counts, rounds, busy, starts2, counts2, sums, sums2,
            fv, iv, fl, hf, hc):
    gc = (parts, chunk, totf, toti)
    lam = weights[LAM]
    grid = cuda.cg.this_grid()
    t = cuda.threadIdx.x
    T = cuda.blockDim.x
    n, d = x.shape
    N = n * d
    lo, hi = own_range(parts, N)
    for q in range(lo + t, hi, T):
        r = q // d
        c = q - r * d
        starts[r, c] = c
        sums[r, c] = x[r, c]
        if c == 0:
            counts[r] = d
            rounds[r] = 0
        if c == d - 1:
            starts[r, d] = d
    if cuda.blockIdx.x == 0 and t == 0:
        busy[0] = n if d > 0 else 0  # (rows of d = 0: nothing to merge, no loop)
    grid.sync()  # orders: the singleton clusters, before any block reads them
    st, sm, nc, st2, sm2, nc2 = starts, sums, counts, starts2, sums2, counts2
    n_rounds = 0
    while busy[0] > 0:
        n_rounds += 1
        for q in range(lo + t, hi, T):
            r = q // d
            c = q - r * d
            head = 1
            fv[q] = 0.0
            if c < nc[r]:
                a = st[r, c]
                if c > 0 and (block_value(sm[r, c - 1], lam, d, st[r, c - 1], a - 1)
                              >= block_value(sm[r, c], lam, d, a, st[r, c + 1] - 1)):
                    head = 0
                fv[q] = sm[r, c]
                hc[q] = head
            else:
                hc[q] = 0  # inert: its own segment, no run
            fl[q] = ROW if c == 0 else BLOCK * head
            iv[q] = 0
            hf[q] = 0.0  # the float half of the run count
        cuda.syncthreads()  # the scans read this block's own entries first
        grid_scan(SUM, fv, iv, fl, ROW | BLOCK, N, gc)  # sums over runs, complete at their last cluster
        grid_scan(SUM, hf, hc, fl, ROW, N, gc)  # run numbers
        # The runs, compacted into the other buffer (at run number - 1 <= c: maybe another block's range).
        for q in range(lo + t, hi, T):
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
        for q in range(lo + t, hi, T):
            r = q // d
            c = q - r * d
            if c <= nc[r]:
                starts[r, c] = st[r, c]
            if c == 0:
                counts[r] = nc[r]


def solve(x, lam, starts, counts, rounds, weights=None):
    """Blocks of every sorted row of the device array ``x`` (see :mod:`wsprox.cuda`).

    The kernel reads the penalty from ``weights`` (the call's,
    :mod:`wsprox.cuda.weights`), by default those of ``lam``.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.cuda import imminent_collisions, _device
    >>> x = _device.cuda.to_device(np.array([[0.0, 1.0, 10.0]]))
    >>> starts = _device.cuda.device_array((1, 4), dtype=np.int64)
    >>> counts = _device.cuda.device_array(1, dtype=np.int64)
    >>> rounds = _device.cuda.device_array(1, dtype=np.int64)
    >>> imminent_collisions.solve(x, 2.0, starts, counts, rounds)
    >>> starts.copy_to_host()[0, :counts.copy_to_host()[0] + 1], rounds.copy_to_host()
    (array([0, 2, 3]), array([2]))
    """
    n, d = x.shape
    weights = as_weights(lam) if weights is None else weights
    run, work = plan(("imminent_collisions", n, d, *launch_key()),
                     lambda: _plan(x, weights, starts, counts, rounds))
    run(x, weights, starts, counts, rounds, *work)


def _plan(x, *args):
    # The launch and work arrays of a solve of x's shape.
    n, d = x.shape
    starts2 = scratch("imminent_collisions.starts2", (n, d + 1), np.int64)
    counts2 = scratch("imminent_collisions.counts2", (n,), np.int64)
    busy = scratch("imminent_collisions.busy", (1,), np.int64)
    sums, sums2 = (scratch(f"imminent_collisions.{a}", (n, d), np.float64) for a in ("sums", "sums2"))
    fv, hf = (scratch(f"imminent_collisions.{a}", (n * d,), np.float64) for a in ("fv", "hf"))
    iv, hc = (scratch(f"imminent_collisions.{a}", (n * d,), np.int64) for a in ("iv", "hc"))
    fl = scratch("imminent_collisions.fl", (n * d,), np.int8)
    work = (busy, starts2, counts2, sums, sums2, fv, iv, fl, hf, hc)
    return grid_launcher(_kernel, n * d, x, *args, *work), work

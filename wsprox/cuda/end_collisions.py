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
(:mod:`wsprox.cuda.grid`: the batch flattened, rows as segments): an
iteration is a grid-wide SUM scan by rows of ``x[k]`` for ``k >= i_r``
(0 before), the means ``m`` (``+inf`` before ``i_r``), a grid-wide ARGMIN scan
by rows, and, at every unsettled row's last entry, the new block start
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

from ._device import cuda, plan, scratch
from .blocks import block_value
from .grid import ROW, grid_launcher, grid_scan, launch_key, own_range
from .scan import ARGMIN, SUM
from .weights import LAM, as_weights

__all__ = ["solve"]


@cuda.jit(cache=True)
def _kernel(parts, chunk, totf, toti, x, weights, starts, counts, rounds, unsettled, fv, iv, fl):
    gc = (parts, chunk, totf, toti)
    lam = weights[LAM]
    grid = cuda.cg.this_grid()
    t = cuda.threadIdx.x
    T = cuda.blockDim.x
    n, d = x.shape
    N = n * d
    lo, hi = own_range(parts, N)
    for q in range(lo + t, hi, T):
        fl[q] = ROW if q % d == 0 else 0
        if q % d == 0:
            starts[q // d, 0] = 0
            counts[q // d] = 0
    if cuda.blockIdx.x == 0 and t == 0:
        unsettled[0] = n if d > 0 else 0  # (rows of d = 0: nothing to settle, no loop)
    grid.sync()  # orders: every row's state initialised, before any block reads it
    while unsettled[0] > 0:
        for q in range(lo + t, hi, T):
            r = q // d
            k = q - r * d
            fv[q] = x[r, k] if k >= starts[r, counts[r]] else 0.0
            iv[q] = 0
        cuda.syncthreads()  # the scan reads this block's own entries first
        grid_scan(SUM, fv, iv, fl, ROW, N, gc)
        for q in range(lo + t, hi, T):
            r = q // d
            k = q - r * d
            i = starts[r, counts[r]]
            fv[q] = block_value(fv[q], lam, d, i, k) if k >= i else math.inf
            iv[q] = k
        cuda.syncthreads()
        grid_scan(ARGMIN, fv, iv, fl, ROW, N, gc)
        for q in range(lo + t, hi, T):
            r = q // d
            if q - r * d == d - 1 and starts[r, counts[r]] < d:
                j = max(iv[q], starts[r, counts[r]])  # progress whatever the arithmetic
                counts[r] += 1
                starts[r, counts[r]] = j + 1
                if j + 1 == d:
                    cuda.atomic.sub(unsettled, 0, 1)
        grid.sync()  # orders: the rows' new starts, counts and the unsettled count, before the next iteration
    for q in range(lo + t, hi, T):
        if q % d == 0:
            rounds[q // d] = counts[q // d]


def solve(x, lam, starts, counts, rounds, weights=None):
    """Blocks of every sorted row of the device array ``x`` (see :mod:`wsprox.cuda`).

    The kernel reads the penalty from ``weights`` (the call's,
    :mod:`wsprox.cuda.weights`), by default those of ``lam``.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.cuda import end_collisions, _device
    >>> x = _device.cuda.to_device(np.array([[0.0, 1.0, 10.0]]))
    >>> starts = _device.cuda.device_array((1, 4), dtype=np.int64)
    >>> counts = _device.cuda.device_array(1, dtype=np.int64)
    >>> rounds = _device.cuda.device_array(1, dtype=np.int64)
    >>> end_collisions.solve(x, 2.0, starts, counts, rounds)
    >>> starts.copy_to_host()[0, :counts.copy_to_host()[0] + 1], rounds.copy_to_host()
    (array([0, 2, 3]), array([2]))
    """
    n, d = x.shape
    weights = as_weights(lam) if weights is None else weights
    run, work = plan(("end_collisions", n, d, *launch_key()),
                     lambda: _plan(x, weights, starts, counts, rounds))
    run(x, weights, starts, counts, rounds, *work)


def _plan(x, *args):
    # The launch and work arrays of a solve of x's shape.
    n, d = x.shape
    fv = scratch("end_collisions.fv", (n * d,), np.float64)
    iv = scratch("end_collisions.iv", (n * d,), np.int64)
    fl = scratch("end_collisions.fl", (n * d,), np.int8)
    unsettled = scratch("end_collisions.unsettled", (1,), np.int64)
    work = (unsettled, fv, iv, fl)
    return grid_launcher(_kernel, n * d, x, *args, *work), work

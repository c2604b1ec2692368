r"""Search collisions on CUDA: merge solved halves by a binary search, all blocks at once.

The paper's parallel algorithm (the mirror of
:mod:`wsprox.cpu.search_collisions`). The row is cut into aligned blocks of
``S = 2, 4, 8, ...`` particles (the last one clipped at ``d``, which is the
padding with zero-mass particles); every block consists of two solved halves
``lo..mid-1`` and ``mid..hi-1``, and at most one new cluster forms, crossing
the midpoint. For a cluster start ``s`` of the left half let ``J(s)`` be the
last minimiser over cluster ends ``j`` of ``mean(z_s..z_j)`` in the block;
``J(s) >= mid`` is monotone in ``s``, so a binary search finds the smallest
such start ``s*`` and ``s*..J(s*)`` merges:

.. code-block:: text

    head[k] = k                                   # every particle a cluster
    for S = 2, 4, ..., >= d:                      # levels
        for log2 S steps, every block at once:    # binary search on lo..mid-1
            s     = head[middle of the block's search range]
            S[j]  = x[s] + ... + x[j]             # scan, segmented by block
            m[j]  = S[j]/(j-s+1) + lam (d-1-s-j)/(d-1) at cluster ends j >= s
            J     = last argmin of m in the block # segmented argmin scan
            keep the left or the right half of the range by J >= mid
        head[s*..J(s*)] = s*                      # the one merge per block

Levels :math:`\log d`, steps :math:`\log d` per level, each step two scans of
depth :math:`O(d/T + \log T)` on ``T`` threads (:math:`O(\log d)` with a
thread per element): work :math:`O(d \log^2 d)`. ``rounds`` is the number of
binary-search steps. One CUDA block per row, the whole loop in one launch.
"""
import math

import numpy as np

from ._device import cuda, threads_for
from .blocks import block_value
from .scan import ARGMIN, SUM, seg_scan, shared_bytes

__all__ = ["solve"]


@cuda.jit
def _kernel(x, lam, starts, counts, rounds, head, fv, iv, fl, lo_, hi_, jj):
    r = cuda.blockIdx.x
    t = cuda.threadIdx.x
    T = cuda.blockDim.x
    d = x.shape[1]
    xr, st, hd, fvr, ivr, flr = x[r], starts[r], head[r], fv[r], iv[r], fl[r]
    blo, bhi, bj = lo_[r], hi_[r], jj[r]
    for k in range(t, d, T):
        hd[k] = k
    cuda.syncthreads()
    steps = 0
    size = 2
    level = 1
    while size // 2 < d:
        half = size // 2
        nb = (d + size - 1) // size
        for b in range(t, nb, T):
            blo[b] = b * size
            bhi[b] = min(b * size + half, d)  # an empty search range without a right half
            bj[b] = -1
        for k in range(t, d, T):
            flr[k] = 1 if k % size == 0 else 0
        cuda.syncthreads()
        for _ in range(level):
            steps += 1
            # Prefix sums of x from the candidate start s of every block.
            for k in range(t, d, T):
                b = k // size
                fvr[k] = 0.0
                ivr[k] = 0
                if blo[b] < bhi[b] and k >= hd[(blo[b] + bhi[b]) // 2]:
                    fvr[k] = xr[k]
            cuda.syncthreads()
            seg_scan(SUM, fvr, ivr, flr, True, d)
            # Means of z_s..z_j at cluster ends j >= s, +inf elsewhere.
            for k in range(t, d, T):
                b = k // size
                m = math.inf
                if blo[b] < bhi[b]:
                    s = hd[(blo[b] + bhi[b]) // 2]
                    if k >= s and (k == d - 1 or hd[k + 1] == k + 1):
                        m = block_value(fvr[k], lam, d, s, k)
                fvr[k] = m
                ivr[k] = k
            cuda.syncthreads()
            seg_scan(ARGMIN, fvr, ivr, flr, True, d)
            for b in range(t, nb, T):
                if blo[b] < bhi[b]:
                    j = ivr[min(b * size + size, d) - 1]
                    p = (blo[b] + bhi[b]) // 2
                    if j >= b * size + half:
                        bhi[b] = p
                        bj[b] = j
                    else:
                        blo[b] = p + 1
            cuda.syncthreads()
        # The merge: s* = head[bhi] (a cluster start), through J(s*).
        for b in range(t, nb, T):
            if bj[b] >= 0:
                blo[b] = hd[bhi[b]]
        cuda.syncthreads()
        for k in range(t, d, T):
            b = k // size
            if bj[b] >= 0 and blo[b] <= k <= bj[b]:
                hd[k] = blo[b]
        cuda.syncthreads()
        size *= 2
        level += 1
    # The cluster starts, compacted by a prefix count.
    for k in range(t, d, T):
        fvr[k] = 0.0
        ivr[k] = 1 if hd[k] == k else 0
    cuda.syncthreads()
    seg_scan(SUM, fvr, ivr, flr, False, d)
    for k in range(t, d, T):
        if hd[k] == k:
            st[ivr[k] - 1] = k
    if t == 0:
        st[ivr[d - 1]] = d
        counts[r] = ivr[d - 1]
        rounds[r] = steps


def solve(x, lam, starts, counts, rounds):
    """Blocks of every sorted row of the device array ``x`` (see :mod:`wsprox.cuda`).

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.cuda import search_collisions, _device
    >>> x = _device.cuda.to_device(np.array([[0.0, 1.0, 10.0]]))
    >>> starts = _device.cuda.device_array((1, 4), dtype=np.int64)
    >>> counts = _device.cuda.device_array(1, dtype=np.int64)
    >>> rounds = _device.cuda.device_array(1, dtype=np.int64)
    >>> search_collisions.solve(x, 2.0, starts, counts, rounds)
    >>> starts.copy_to_host()[0, :counts.copy_to_host()[0] + 1], rounds.copy_to_host()
    (array([0, 2, 3]), array([3]))
    """
    n, d = x.shape
    head, iv = (cuda.device_array((n, d), dtype=np.int64) for _ in range(2))
    fv = cuda.device_array((n, d), dtype=np.float64)
    fl = cuda.device_array((n, d), dtype=np.int8)
    half = max(d // 2 + 1, 1)
    blo, bhi, bj = (cuda.device_array((n, half), dtype=np.int64) for _ in range(3))
    threads = threads_for(d)
    _kernel[n, threads, 0, shared_bytes(threads)](x, lam, starts, counts, rounds, head, fv, iv, fl, blo, bhi, bj)

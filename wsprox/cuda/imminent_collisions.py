r"""Imminent collisions on CUDA: every run of out-of-order neighbours merges at once.

The mirror of :mod:`wsprox.cpu.imminent_collisions`. In a round, cluster
``c`` (with value ``z_c``, its position at time 1) starts a new cluster iff
``c = 0`` or ``z_{c-1} < z_c``; every maximal run of clusters whose ``z`` does
not increase merges (neighbours out of order at time 1 always end in one
block). Per round, on the block of threads that owns the row:

.. code-block:: text

    flag[c]  = c == 0 or z[c-1] < z[c]            # all clusters at once
    run[c]   = prefix count of flag                # scan
    sums'    = segmented sum of sums over runs     # segmented scan
    starts'[run[c] - 1] = starts[c] where flag[c]
    until no run merges

Depth :math:`O(K/T + \log T)` per round for ``K`` clusters and ``T``
threads; few rounds on typical inputs, :math:`\Theta(d)` on adversarial ones.
``rounds`` counts the rounds run, the last one finding nothing to merge. One
CUDA block per row, the whole loop in one launch (the round loop needs no
host round trip).
"""
import numpy as np

from ._device import cuda, scratch, threads_for
from .blocks import block_value
from .scan import SUM, seg_scan, shared_bytes

__all__ = ["solve"]


@cuda.jit
def _kernel(x, lam, starts, counts, rounds, sums, starts2, sums2, fv, iv, cnt, fl):
    r = cuda.blockIdx.x
    t = cuda.threadIdx.x
    T = cuda.blockDim.x
    d = x.shape[1]
    xr, st, sm, st2, sm2 = x[r], starts[r], sums[r], starts2[r], sums2[r]
    fvr, ivr, cr, flr = fv[r], iv[r], cnt[r], fl[r]
    for k in range(t, d, T):
        st[k] = k
        sm[k] = xr[k]
    if t == 0:
        st[d] = d
    cuda.syncthreads()
    n = d
    n_rounds = 0
    while True:
        n_rounds += 1
        for c in range(t, n, T):
            a = st[c]
            f = 1
            if c > 0:
                prev = block_value(sm[c - 1], lam, d, st[c - 1], a - 1)
                if prev >= block_value(sm[c], lam, d, a, st[c + 1] - 1):
                    f = 0
            flr[c] = f
            fvr[c] = sm[c]
            ivr[c] = 0
            cr[c] = f
            sm2[c] = 0.0  # the float half of the count scan; refilled below
        cuda.syncthreads()
        seg_scan(SUM, fvr, ivr, flr, True, n)  # sums over runs
        seg_scan(SUM, sm2, cr, flr, False, n)  # run numbers
        merged = cr[n - 1]
        for c in range(t, n, T):
            j = cr[c] - 1
            if flr[c] != 0:
                st2[j] = st[c]
            if c == n - 1 or flr[c + 1] != 0:
                sm2[j] = fvr[c]
        cuda.syncthreads()
        for c in range(t, merged, T):
            st[c] = st2[c]
            sm[c] = sm2[c]
        if t == 0:
            st[merged] = d
        cuda.syncthreads()
        if merged == n:
            break
        n = merged
    if t == 0:
        counts[r] = n
        rounds[r] = n_rounds


def solve(x, lam, starts, counts, rounds):
    """Blocks of every sorted row of the device array ``x`` (see :mod:`wsprox.cuda`).

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
    sums, sums2, fv = (scratch(f"imminent_collisions.{a}", (n, d), np.float64) for a in ("sums", "sums2", "fv"))
    starts2, iv, cnt = (scratch(f"imminent_collisions.{a}", (n, d), np.int64) for a in ("starts2", "iv", "cnt"))
    fl = scratch("imminent_collisions.fl", (n, d), np.int8)
    threads = threads_for(d)
    _kernel[n, threads, 0, shared_bytes(threads)](x, lam, starts, counts, rounds, sums, starts2, sums2, fv, iv, cnt, fl)

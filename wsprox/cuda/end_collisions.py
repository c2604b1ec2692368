r"""End collisions on CUDA: settle the leftmost cluster, one per iteration.

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

Each iteration has depth :math:`O((d-i)/T + \log T)` on ``T`` threads; one
iteration per final cluster, so it is slow when clusters are many (small
``lam``). ``rounds`` is the number of iterations, ``K``. One CUDA block per
row, the whole loop in one launch.
"""
import numpy as np

from ._device import cuda, scratch, threads_for
from .blocks import block_value
from .scan import ARGMIN, SUM, seg_scan, shared_bytes

__all__ = ["solve"]


@cuda.jit
def _kernel(x, lam, starts, counts, rounds, fv, iv):
    r = cuda.blockIdx.x
    t = cuda.threadIdx.x
    T = cuda.blockDim.x
    d = x.shape[1]
    xr, st, fvr, ivr = x[r], starts[r], fv[r], iv[r]
    i = 0
    n = 0
    while i < d:
        for k in range(i + t, d, T):
            fvr[k] = xr[k]
            ivr[k] = 0
        cuda.syncthreads()
        seg_scan(SUM, fvr[i:], ivr[i:], ivr, False, d - i)
        for k in range(i + t, d, T):
            fvr[k] = block_value(fvr[k], lam, d, i, k)
            ivr[k] = k
        cuda.syncthreads()
        seg_scan(ARGMIN, fvr[i:], ivr[i:], ivr, False, d - i)
        j = ivr[d - 1]
        if t == 0:
            st[n] = i
        n += 1
        i = j + 1
        cuda.syncthreads()
    if t == 0:
        st[n] = d
        counts[r] = n
        rounds[r] = n


def solve(x, lam, starts, counts, rounds):
    """Blocks of every sorted row of the device array ``x`` (see :mod:`wsprox.cuda`).

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
    fv = scratch("end_collisions.fv", (n, d), np.float64)
    iv = scratch("end_collisions.iv", (n, d), np.int64)
    threads = threads_for(d)
    _kernel[n, threads, 0, shared_bytes(threads)](x, lam, starts, counts, rounds, fv, iv)

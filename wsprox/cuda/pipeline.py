r"""The prox pipeline around a collision algorithm, on CUDA.

The mirror of :mod:`wsprox.cpu.pipeline`, every step on the device:

1. rank: :func:`wsprox.cuda.sort.rank_rows` (the owner's argsort or a bitonic
   sort) gives ``order`` and ``x = w[order]`` in float64;
2. collide: ``solve`` partitions ``0..d-1`` into the blocks of the isotonic
   regression of ``z = x + v`` (:mod:`wsprox.cuda` states the contract);
3. settle (one kernel, one CUDA block per row, block-level scans of
   :mod:`wsprox.cuda.scan`): block sums of the offsets of ``x`` from the
   block's first value in float64 (segmented scans), block values
   ``first + mean offset + lam (d-1-a-b)/(d-1)`` as on the CPU (so a block of
   equal values keeps their value exactly), a running max over the
   blocks (rounding can leave neighbours a few ulps out of order), the
   soft-threshold by ``l1``, the scatter ``out[order[k]] = value of the block
   of k`` (the block of ``k`` is a prefix count of block starts), and the
   labels, which number the distinct *output* values.

Steps 1 and 3 are the same for every algorithm.
"""
import math

import numpy as np

from ._device import cuda, scratch, threads_for
from .blocks import block_value
from .scan import MAX, SUM, seg_scan, shared_bytes
from .sort import rank_rows

__all__ = ["prox_rows"]


@cuda.jit
def _settle(x, order, starts, counts, lam, l1, out, labels, want_labels, fv, iv, fl, vals, vi):
    r = cuda.blockIdx.x
    t = cuda.threadIdx.x
    T = cuda.blockDim.x
    d = x.shape[1]
    nb = counts[r]
    xr, st, ordr, outr = x[r], starts[r], order[r], out[r]
    fvr, ivr, flr, valr, vir = fv[r], iv[r], fl[r], vals[r], vi[r]
    for k in range(t, d, T):
        flr[k] = 0
        ivr[k] = 0
        valr[k] = -math.inf
    cuda.syncthreads()
    for b in range(t, nb, T):
        flr[st[b]] = 1
        valr[st[b]] = xr[st[b]]
    cuda.syncthreads()
    # Every entry's offset from its block's first value (spread by a scan
    # restarting at every block start), then the blocks' sums of the offsets:
    # the CPU's block value, exact for a block of equal values.
    seg_scan(MAX, valr, ivr, flr, True, d)
    for k in range(t, d, T):
        fvr[k] = xr[k] - valr[k]
        ivr[k] = 0
    cuda.syncthreads()
    seg_scan(SUM, fvr, ivr, flr, True, d)
    for b in range(t, nb, T):
        a = st[b]
        e = st[b + 1] - 1
        valr[b] = xr[a] + block_value(fvr[e], lam, d, a, e)
        vir[b] = 0
    cuda.syncthreads()
    seg_scan(MAX, valr, vir, flr, False, nb)
    for b in range(t, nb, T):
        v = valr[b]
        if v > l1:
            valr[b] = v - l1
        elif v < -l1:
            valr[b] = v + l1
        else:
            valr[b] = 0.0
    for k in range(t, d, T):
        fvr[k] = 0.0
        ivr[k] = flr[k]
    cuda.syncthreads()
    # ivr[k] - 1 is the block of sorted position k.
    seg_scan(SUM, fvr, ivr, flr, False, d)
    for k in range(t, d, T):
        outr[ordr[k]] = valr[ivr[k] - 1]
    if want_labels:
        cuda.syncthreads()
        # A new label where the output value (in the output dtype) changes.
        for b in range(t, nb, T):
            fvr[b] = 0.0
            vir[b] = 1
            if b > 0 and outr[ordr[st[b]]] == outr[ordr[st[b - 1]]]:
                vir[b] = 0
        cuda.syncthreads()
        seg_scan(SUM, fvr, vir, flr, False, nb)
        labr = labels[r]
        for k in range(t, d, T):
            labr[ordr[k]] = vir[ivr[k] - 1] - 1
        if t == 0:
            counts[r] = vir[nb - 1]


def prox_rows(solve, rows, lam, l1, out, labels=None, owner=None):
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
    order, x = rank_rows(rows, owner)
    starts = scratch("pipeline.starts", (n, d + 1), np.int64)
    counts = scratch("pipeline.counts", (n,), np.int64)
    rounds = scratch("pipeline.rounds", (n,), np.int64)
    solve(x, lam, starts, counts, rounds)
    fv = scratch("pipeline.fv", (n, d), np.float64)
    vals = scratch("pipeline.vals", (n, d), np.float64)
    iv = scratch("pipeline.iv", (n, d), np.int64)
    vi = scratch("pipeline.vi", (n, d), np.int64)
    fl = scratch("pipeline.fl", (n, d), np.int8)
    want = labels is not None
    if not want:
        labels = vi  # a placeholder of the right rank, never written
    threads = threads_for(d)
    _settle[n, threads, 0, shared_bytes(threads)](x, order, starts, counts, lam, l1, out, labels, want, fv, iv, fl, vals, vi)
    return counts, rounds

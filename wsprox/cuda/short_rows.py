r"""Batches of short rows in one fused kernel: sort, PAVA, settle, scatter.

For rows of at most :data:`MAX_D` entries the whole prox of
:func:`wsprox.cuda.pipeline.prox_rows` with ``"pava"`` (rank, collide,
settle) runs in *one* launch, every row in the shared memory of the CUDA
block that owns it, with no work array in global memory:

.. code-block:: text

    one CUDA block owns R rows, H threads per row (R * H threads)
    for each of its rows r (its H threads):
        load   key[k] = (float64(w[r, k]), k) for k < d, (+inf, k) for d <= k < P
        sort   bitonic network on the P = 2^ceil(log2 d) keys, comparing
               (value, index), so every key is distinct and the padding sorts last:
               for k = 2, 4, ..., P:  for j = k/2, ..., 1:  (barrier after each step)
                   each of the P/2 pairs (i, i | j), i & j == 0, ascending iff i & k == 0
        PAVA   one thread per row (the block's first R threads, one warp):
               wsprox.core.pava.pava_row on the sorted
               values x (the same source as every other backend's PAVA)
        value  per cluster a..e (threads over clusters): x[a] + cluster_value(compensated
               sum of x[k] - x[a], lam, d, a, e), as in wsprox.cpu.pipeline
        settle one thread per row: running max over the clusters, soft-threshold by l1
               (wsprox.core.clusters.settle_values, the same source as the host's)
        scatter out[r, index[k]] = value of the cluster of k (threads over k)
        labels (wanted) one flag per cluster where the output value, in the output
               dtype, differs from the previous cluster's; a prefix count numbers them
        unscale out /= scale, where the call's weights scale (wsprox.cuda.weights:
               the rows are loaded times the scale, lam and l1 read from them)

Cost per row of length :math:`d` (:math:`P` the padded length): work
:math:`O(P \log^2 P)` for the sort and :math:`O(d)` for the rest; depth
:math:`O((P/H) \log^2 P)` for the sort (:math:`\log_2 P (\log_2 P + 1)/2`
barriers) and :math:`O(d)` for the sequential PAVA and settle (one thread,
all in shared memory). Shared memory: :func:`shared_bytes`, :math:`28 P + 8`
bytes a row (float64 keys and cluster sums, int32 indices, cluster starts and
clusters of entries; the labels' flags reuse the keys' memory), so
``MAX_D = 1024`` rows take 28 KiB, within the 48 KiB of dynamic shared
memory every CUDA device grants without an opt-in, and leave room for
several resident blocks per SM (an H100 has 228 KiB); 2048 entries would take
56 KiB.

Launch geometry (:func:`geometry`): rows are packed ``R`` to a block while
they fit in :data:`SHARED_BUDGET` bytes (at most :data:`ROWS_PER_BLOCK` and
:data:`THREADS`); each row gets ``H`` threads, the largest power of two at
most ``P/2``, ``THREADS // R`` and, when rows share a block,
:data:`ROW_THREADS`. The PAVA of a row is sequential, so what bounds a batch
of rows of ~100 is how many rows an SM holds at once: one row of 128 a block
of 64 threads would be 32 rows an SM (the limit of resident blocks); blocks of
3 rows of 32 threads (10.5 KiB) are 21 blocks, 63 rows an SM (the limit of
shared memory, 228 KiB on an H100). Rows of 1024 run one to a block of 256
threads, 8 blocks an SM. The four are module parameters, read at every call,
so tests may lower them.

The counts and rounds come from the thread's device scratch
(:func:`wsprox.cuda._device.scratch`) and nothing synchronises with the host.

Examples
--------
>>> import numpy as np
>>> from wsprox.cuda import _device, short_rows
>>> short_rows.MAX_D
1024
>>> rows = _device.cuda.to_device(np.array([[3.0, 1.0, 2.0, 2.0]]))
>>> counts, rounds = short_rows.prox_short_rows(rows, 1.5, 0.0, rows)  # in place
>>> rows.copy_to_host(), counts.copy_to_host()
(array([[2., 2., 2., 2.]]), array([1]))
"""
import math

import numpy as np
from numba import float64, int32

from ._device import cuda, launch, plan, scratch
from .clusters import cluster_mean, settle_values
from .pava import pava_row
from .weights import INV, L1, LAM, as_weights, load, unscale

__all__ = ["MAX_D", "geometry", "prox_short_rows", "shared_bytes"]

#: The longest row the fused kernel takes: 1024 padded entries take 28 KiB of
#: shared memory (:func:`shared_bytes`), within the default 48 KiB.
MAX_D = 1024

#: Threads per block when one row fills a block.
THREADS = 256

#: Threads per row when several rows share a block.
ROW_THREADS = 32

#: Most rows packed in one block.
ROWS_PER_BLOCK = 32

#: Shared memory (bytes) a block of several rows may take.
SHARED_BUDGET = 12 * 1024

def _padded(d):
    p = 1
    while p < d:
        p *= 2
    return p


def shared_bytes(d, rows=1):
    """Dynamic shared memory (bytes) of a block of ``rows`` rows of length ``d``.

    Per row of padded length ``P``: float64 keys and cluster values (16 P),
    int32 indices and clusters of entries (8 P), int32 cluster starts (4 P + 4)
    and the row's cluster count (4).

    Examples
    --------
    >>> from wsprox.cuda.short_rows import shared_bytes
    >>> shared_bytes(1000), shared_bytes(100, rows=2)
    (28680, 7184)
    """
    p = _padded(d)
    return rows * (28 * p + 8)


def geometry(n, d):
    """``(blocks, rows_per_block, threads_per_row)`` of the launch for ``n`` rows of length ``d``.

    Examples
    --------
    >>> from wsprox.cuda.short_rows import geometry
    >>> geometry(16, 128), geometry(100000, 100), geometry(4096, 1024)
    ((6, 3, 32), (33334, 3, 32), (4096, 1, 256))
    """
    p = _padded(d)
    rows = max(1, min(n, ROWS_PER_BLOCK, THREADS, SHARED_BUDGET // shared_bytes(d)))
    cap = ROW_THREADS if rows > 1 else THREADS
    h = 1
    while 2 * h <= min(p // 2, cap, max(1, THREADS // rows)):
        h *= 2
    return (n + rows - 1) // rows, rows, h


@cuda.jit(device=True, inline="always")
def _row(f64, i32, R, p, g):
    # Row g's views of the block's dynamic shared memory: float64 keys and
    # cluster values first (alignment), then the int32 indices, clusters of
    # entries, cluster starts and the rows' cluster counts; the labels' flags
    # reuse the row's keys, spent by then.
    keys = f64[g * p:(g + 1) * p]
    vals = f64[(R + g) * p:(R + g + 1) * p]
    base = 4 * R * p
    index = i32[base + g * p:base + (g + 1) * p]
    base += R * p
    cid = i32[base + g * p:base + (g + 1) * p]
    base += R * p
    starts = i32[base + g * (p + 1):base + (g + 1) * (p + 1)]
    flags = i32[2 * g * p:(2 * g + 1) * p]
    return keys, vals, index, cid, starts, flags


@cuda.jit(cache=True)
def _fused(rows, weights, out, labels, want_labels, rows_per_block, counts, rounds):
    n, d = rows.shape
    lam = weights[LAM]
    l1 = weights[L1]
    R = rows_per_block
    H = cuda.blockDim.x // R
    t = cuda.threadIdx.x
    g = t // H                       # the block's row this thread sorts and scatters
    lt = t - g * H
    r = cuda.blockIdx.x * R + g
    valid = r < n
    # The row PAVA runs on when t < R (one thread per row, the first warp).
    solo = t < R and cuda.blockIdx.x * R + t < n
    p = 1
    while p < d:
        p *= 2
    f64 = cuda.shared.array(0, float64)
    i32 = cuda.shared.array(0, int32)
    nclusters = i32[4 * R * p + 3 * R * p + R:4 * R * p + 3 * R * p + 2 * R]
    keys, vals, index, cid, starts, flags = _row(f64, i32, R, p, g)
    # Load: everything of the row is read before anything is written (out may be rows).
    for k in range(lt, p, H):
        if valid and k < d:
            keys[k] = load(rows, r, k, weights)
        else:
            keys[k] = math.inf
        index[k] = k
    cuda.syncthreads()
    # Bitonic sort of (value, index) pairs: the P/2 pairs of a step, H at a time.
    half = p // 2
    k2 = 2
    while k2 <= p:
        j = k2 // 2
        while j >= 1:
            for q in range(lt, half, H):
                i = ((q & ~(j - 1)) << 1) | (q & (j - 1))
                o = i | j
                a = keys[i]
                b = keys[o]
                ia = index[i]
                ib = index[o]
                greater = a > b or (a == b and ia > ib)
                if greater == ((i & k2) == 0):
                    keys[i] = b
                    keys[o] = a
                    index[i] = ib
                    index[o] = ia
            cuda.syncthreads()
            j //= 2
        k2 *= 2
    if solo:
        skeys, svals, _, _, sstarts, _ = _row(f64, i32, R, p, t)
        nclusters[t] = pava_row(skeys[:d], lam, sstarts[:d + 1], svals[:d])
    cuda.syncthreads()
    nb = 0
    if valid:
        nb = nclusters[g]
    # Cluster values (threads over clusters) and the cluster of every sorted entry.
    for b in range(lt, nb, H):
        a = starts[b]
        e = starts[b + 1]
        vals[b] = cluster_mean(keys[:d], lam, a, e)
        for k in range(a, e):
            cid[k] = b
    cuda.syncthreads()
    # Running max (rounding can leave neighbours a few ulps out of order), soft-threshold.
    if solo:
        _, svals, _, _, _, _ = _row(f64, i32, R, p, t)
        settle_values(svals, nclusters[t], l1)
    cuda.syncthreads()
    if valid:
        for k in range(lt, d, H):
            out[r, index[k]] = vals[cid[k]]
    if want_labels:
        cuda.syncthreads()
        # A new label where the output value (in the output dtype) changes.
        for b in range(lt, nb, H):
            flags[b] = 1
            if b > 0 and out[r, index[starts[b]]] == out[r, index[starts[b - 1]]]:
                flags[b] = 0
        cuda.syncthreads()
        if solo:
            _, _, _, _, _, sflags = _row(f64, i32, R, p, t)
            label = -1
            for b in range(nclusters[t]):
                label += sflags[b]
                sflags[b] = label
            nclusters[t] = label + 1
        cuda.syncthreads()
        if valid:
            for k in range(lt, d, H):
                labels[r, index[k]] = flags[cid[k]]
    if weights[INV] != 1.0:
        cuda.syncthreads()  # every output value compared (labels), before any is divided by the scale
        if valid:
            for k in range(lt, d, H):
                unscale(out, r, index[k], weights)
    if valid and lt == 0:
        counts[r] = nclusters[g]
        rounds[r] = d


def prox_short_rows(rows, lam, l1, out, labels=None, *, weights=None):
    """Prox every row of the device array ``rows`` (``d <= MAX_D``) into ``out``, in one launch.

    The contract of :func:`wsprox.cuda.pipeline.prox_rows` with
    ``SOLVERS["pava"]``, without an owner's argsort: the rows are sorted in
    shared memory.

    Parameters
    ----------
    rows, lam, l1, out, labels, weights
        As for :func:`wsprox.cuda.pipeline.prox_rows`; the rows have
        ``1 <= d <= MAX_D`` entries.

    Returns
    -------
    n_clusters, rounds : device arrays of int64, shape (n,)
        The distinct output values per row when ``labels`` is given, else
        the clusters of PAVA; ``rounds`` is ``d`` (PAVA's sequential steps).
        In the thread's device work memory: valid until its next call.
        Nothing is synchronised.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.cuda import _device
    >>> from wsprox.cuda.short_rows import prox_short_rows
    >>> rows = _device.cuda.to_device(np.array([[0.0, 10.0, 1.0], [2.0, 2.0, 2.0]]))
    >>> out = _device.cuda.device_array((2, 3))
    >>> labels = _device.cuda.device_array((2, 3), dtype=np.int64)
    >>> counts, rounds = prox_short_rows(rows, 2.0, 0.0, out, labels)
    >>> out.copy_to_host()
    array([[1.5, 8. , 1.5],
           [2. , 2. , 2. ]])
    >>> labels.copy_to_host(), counts.copy_to_host(), rounds.copy_to_host()
    (array([[0, 1, 0],
           [0, 0, 0]]), array([2, 1]), array([3, 3]))
    """
    n, d = rows.shape
    if not 1 <= d <= MAX_D:
        raise ValueError(f"prox_short_rows takes rows of 1..{MAX_D} entries, not {d}")
    config, per_block, counts, rounds, no_labels = plan(
        ("short_rows", n, d, THREADS, ROW_THREADS, ROWS_PER_BLOCK, SHARED_BUDGET), lambda: _plan(n, d))
    if n == 0:
        return counts, rounds
    want = labels is not None
    weights = as_weights(lam, l1) if weights is None else weights
    launch(_fused, *config)(rows, weights, out, labels if want else no_labels, want, per_block, counts, rounds)
    return counts, rounds


def _plan(n, d):
    # The launch's geometry and the work arrays of a call on n rows of d.
    blocks, per_block, per_row = geometry(n, d)
    counts = scratch("short_rows.counts", (n,), np.int64)
    rounds = scratch("short_rows.rounds", (n,), np.int64)
    no_labels = scratch("short_rows.no_labels", (1, 1), np.int64)  # never written
    return (blocks, per_block * per_row, shared_bytes(d, per_block)), per_block, counts, rounds, no_labels

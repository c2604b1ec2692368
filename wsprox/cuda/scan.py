r"""Block-level scans: the parallel primitive of the CUDA collision algorithms.

One CUDA block owns one row. :func:`seg_scan` replaces ``n`` (value, index)
pairs of the row, in global memory, by their inclusive scan under one of

* ``SUM``: ``(f, i) + (g, j) = (f + g, i + j)`` (float64 sums and int counts);
* ``MAX``: the larger value (the later one on ties);
* ``ARGMIN``: the smaller value with its index, the *later* one on ties,

optionally *segmented*: a non-zero ``flags[k]`` restarts the scan at ``k``.
Every thread owns a contiguous stretch of ``ceil(n / T)`` entries: it folds its
stretch, a Hillis-Steele scan of the ``T`` partial results in shared memory
(``log2 T`` steps) gives every thread its carry-in, and a second pass over the
stretch writes the results. Work :math:`O(n + T \log T)`, depth
:math:`O(n/T + \log T)`, ``2 log2 T + 3`` barriers.

Every thread of the block must call it (it synchronises); it ends with a
barrier, so the results are visible to the whole block. Its scratch for the
``T`` partials is the block's *dynamic* shared memory, which the launch
reserves: ``kernel[grid, T, 0, shared_bytes(T)]``. (Static
``cuda.shared.array(T, ...)`` scratch is unsafe on Numba's simulator: its
first allocation on a line is not thread-safe, so two threads of a block can
each get their own array and the scan sums garbage, e.g. a block sum short
of its first stretch; the dynamic buffer is allocated once per launch,
before the threads start.)
"""
import math

from numba import float64, int64

from ._device import cuda

__all__ = ["ARGMIN", "MAX", "SUM", "block_range", "seg_scan", "shared_bytes"]

SUM = 0
MAX = 1
ARGMIN = 2


@cuda.jit(device=True, inline="always")
def _identity(op):
    if op == SUM:
        return 0.0, 0
    if op == MAX:
        return -math.inf, -1
    return math.inf, -1


@cuda.jit(device=True, inline="always")
def _combine(op, f, i, g, j):
    # (f, i) comes before (g, j) in the row.
    if op == SUM:
        return f + g, i + j
    if op == MAX:
        if g >= f:
            return g, j
        return f, i
    if g <= f:
        return g, j
    return f, i


def shared_bytes(threads):
    """Dynamic shared memory (bytes) that a block of ``threads`` threads calling
    :func:`seg_scan` must be launched with: three arrays of ``threads`` 8-byte
    entries.

    Examples
    --------
    >>> from wsprox.cuda.scan import shared_bytes
    >>> shared_bytes(4)
    96
    """
    return 3 * 8 * threads


@cuda.jit(device=True, inline="always")
def block_range(n):
    """The stretch ``lo..hi-1`` of ``0..n-1`` that this thread owns."""
    t = cuda.threadIdx.x
    m = (n + cuda.blockDim.x - 1) // cuda.blockDim.x
    lo = min(t * m, n)
    return lo, min(lo + m, n)


@cuda.jit(device=True)
def seg_scan(op, values, index, flags, segmented, n):
    """Inclusive (segmented) scan of ``values[:n], index[:n]`` in place.

    ``flags`` is read only when ``segmented``. The launch must reserve
    ``shared_bytes(blockDim.x)`` bytes of dynamic shared memory.
    """
    t = cuda.threadIdx.x
    T = cuda.blockDim.x
    # Disjoint views of the dynamic shared memory (all such arrays alias).
    sh_f = cuda.shared.array(0, float64)[:T]
    sh_i = cuda.shared.array(0, int64)[T:2 * T]
    sh_g = cuda.shared.array(0, int64)[2 * T:3 * T]
    lo, hi = block_range(n)
    f0, i0 = _identity(op)
    f, i = f0, i0
    seen = 0
    for k in range(lo, hi):
        if segmented and flags[k] != 0:
            f, i = f0, i0
            seen = 1
        f, i = _combine(op, f, i, values[k], index[k])
    sh_f[t] = f
    sh_i[t] = i
    sh_g[t] = seen
    cuda.syncthreads()
    # Hillis-Steele scan of the threads' partials; a segment start seen by a
    # thread cuts off everything before it.
    pf, pi, pg = f0, i0, 0
    off = 1
    while off < T:
        if t >= off:
            pf = sh_f[t - off]
            pi = sh_i[t - off]
            pg = sh_g[t - off]
        cuda.syncthreads()
        if t >= off:
            if sh_g[t] == 0:
                sh_f[t], sh_i[t] = _combine(op, pf, pi, sh_f[t], sh_i[t])
            sh_g[t] = sh_g[t] | pg
        cuda.syncthreads()
        off *= 2
    if t > 0:
        f = sh_f[t - 1]
        i = sh_i[t - 1]
    else:
        f, i = f0, i0
    cuda.syncthreads()
    for k in range(lo, hi):
        if segmented and flags[k] != 0:
            f, i = f0, i0
        f, i = _combine(op, f, i, values[k], index[k])
        values[k] = f
        index[k] = i
    cuda.syncthreads()

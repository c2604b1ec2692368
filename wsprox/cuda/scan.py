r"""Block-level scans: the parallel primitive of the CUDA collision algorithms.

A CUDA block replaces a range ``lo..hi-1`` of (value, index) pairs in global
memory by their inclusive scan, after a *carry* (the scan of everything before
``lo``), under one of

* ``SUM``: ``(f, i) + (g, j) = (f + g, i + j)`` (float64 sums and int counts);
* ``MAX``: the larger value (the later one on ties);
* ``ARGMIN``: the smaller value with its index, the *later* one on ties,

optionally *segmented*: ``flags[k] & mask`` non-zero restarts the scan at ``k``
(``mask = 0``: not segmented). :func:`block_scan` scans one range in one
piece: every thread owns a contiguous stretch of ``ceil((hi - lo) / T)``
entries, folds it, a Hillis-Steele scan of the ``T`` partial results in shared
memory (``log2 T`` steps) gives every thread its carry-in, and a second pass
over the stretch writes the results. :func:`range_scan` walks a long range in
chunks of ``chunk`` entries, one :func:`block_scan` each, passing the carry on
(short stretches keep neighbouring threads on neighbouring memory). Work
:math:`O(n + (n/\mathrm{chunk}) T \log T)`, depth
:math:`O((n/\mathrm{chunk}) (\mathrm{chunk}/T + \log T))`, ``2 log2 T + 3``
block barriers a chunk. Called with ``write=False`` they only reduce: the
result is the carry combined with the range (what comes after it), and
whether a segment start was seen in it. The grid-wide scans of
:mod:`wsprox.cuda.grid` are built from these two.

Every thread of the block must call them with the same arguments (they
synchronise the block); they end with a block barrier, so the results are
visible to the whole block. Their scratch for the ``T`` partials is the
block's *dynamic* shared memory, which the launch reserves:
``launch(kernel, blocks, T, shared_bytes(T))``. (Static
``cuda.shared.array(T, ...)`` scratch is unsafe on Numba's simulator: its
first allocation on a line is not thread-safe, so two threads of a block can
each get their own array and the scan sums garbage, e.g. a block sum short
of its first stretch; the dynamic buffer is allocated once per launch,
before the threads start.)

Examples
--------
A block of 2 threads scans 0..4 in chunks of 2 after a carry of 10 (SUM):

>>> import numpy as np
>>> from wsprox.cuda import scan
>>> from wsprox.cuda._device import cuda, launch
>>> @cuda.jit
... def demo(values, index, flags, out):
...     out[0], _, out[1] = scan.range_scan(scan.SUM, values, index, flags, 0, 0, 5, 2,
...                                         10.0, 0, True)
>>> v, out = cuda.to_device(np.arange(5.0)), cuda.device_array(2)
>>> launch(demo, 1, 2, scan.shared_bytes(2))(v, cuda.to_device(np.zeros(5, np.int64)),
...                                          cuda.to_device(np.zeros(5, np.int8)), out)
>>> v.copy_to_host().tolist(), out.copy_to_host().tolist()
([10.0, 11.0, 13.0, 16.0, 20.0], [20.0, 0.0])
"""
import math

from numba import float64, int64

from ._device import cuda

__all__ = ["ARGMIN", "MAX", "SUM", "block_scan", "identity", "range_scan", "shared_bytes"]

SUM = 0
MAX = 1
ARGMIN = 2


@cuda.jit(device=True, inline="always")
def identity(op):
    """The neutral (value, index) of ``op``.

    Examples
    --------
    >>> from wsprox.cuda.scan import ARGMIN, MAX, SUM, identity
    >>> [identity.py_func(op) for op in (SUM, MAX, ARGMIN)]
    [(0.0, 0), (-inf, -1), (inf, -1)]
    """
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
    :func:`block_scan` must be launched with: three arrays of ``threads`` 8-byte
    entries.

    Examples
    --------
    >>> from wsprox.cuda.scan import shared_bytes
    >>> shared_bytes(4)
    96
    """
    return 3 * 8 * threads


@cuda.jit(device=True)
def block_scan(op, values, index, flags, mask, lo, hi, cf, ci, write):
    """Inclusive (segmented) scan of ``values[lo:hi], index[lo:hi]`` after the carry ``(cf, ci)``.

    Written in place when ``write``. Returns ``(f, i, seen)``: the carry
    combined with the whole range, and 1 if ``flags[k] & mask`` for some
    ``k`` of the range (else 0). The launch must reserve
    ``shared_bytes(blockDim.x)`` bytes of dynamic shared memory.

    Examples
    --------
    The last argmin of ``[3, 1, 4, 1, 5]`` after a carry of ``(2, -1)``, by 2
    threads, reduced only (``write=False``); a segment flagged at 3:

    >>> import numpy as np
    >>> from wsprox.cuda import scan
    >>> from wsprox.cuda._device import cuda, launch
    >>> @cuda.jit
    ... def demo(values, index, flags, out):
    ...     for mask in range(2):
    ...         f, i, seen = scan.block_scan(scan.ARGMIN, values, index, flags, mask, 0, 5, 2.0, -1, False)
    ...         out[mask, 0], out[mask, 1], out[mask, 2] = f, i, seen
    >>> out = cuda.device_array((2, 3))
    >>> launch(demo, 1, 2, scan.shared_bytes(2))(
    ...     cuda.to_device(np.array([3.0, 1, 4, 1, 5])), cuda.to_device(np.arange(5)),
    ...     cuda.to_device(np.array([0, 0, 0, 1, 0], np.int8)), out)
    >>> out.copy_to_host().tolist()
    [[1.0, 3.0, 0.0], [1.0, 3.0, 1.0]]
    """
    t = cuda.threadIdx.x
    T = cuda.blockDim.x
    # Disjoint views of the dynamic shared memory (all such arrays alias).
    sh_f = cuda.shared.array(0, float64)[:T]
    sh_i = cuda.shared.array(0, int64)[T:2 * T]
    sh_g = cuda.shared.array(0, int64)[2 * T:3 * T]
    m = (hi - lo + T - 1) // T
    a = min(lo + t * m, hi)
    b = min(a + m, hi)
    f0, i0 = identity(op)
    f, i = f0, i0
    seen = 0
    for k in range(a, b):
        if flags[k] & mask:
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
    # This thread's carry-in (the carry, then the stretches before it), and the
    # whole range after the carry (the same on every thread).
    f, i = cf, ci
    if t > 0:
        if sh_g[t - 1] != 0:
            f, i = sh_f[t - 1], sh_i[t - 1]
        else:
            f, i = _combine(op, cf, ci, sh_f[t - 1], sh_i[t - 1])
    seen = sh_g[T - 1]
    tf, ti = sh_f[T - 1], sh_i[T - 1]
    if seen == 0:
        tf, ti = _combine(op, cf, ci, tf, ti)
    cuda.syncthreads()  # the shared partials are read before the next call rewrites them
    if write:
        for k in range(a, b):
            if flags[k] & mask:
                f, i = f0, i0
            f, i = _combine(op, f, i, values[k], index[k])
            values[k] = f
            index[k] = i
        cuda.syncthreads()
    return tf, ti, seen


@cuda.jit(device=True)
def range_scan(op, values, index, flags, mask, lo, hi, chunk, cf, ci, write):
    """:func:`block_scan` of ``lo..hi-1`` in chunks of ``chunk`` entries, the carry passed on.

    Returns what :func:`block_scan` returns for the whole range (the module's
    example runs it).
    """
    seen = 0
    for a in range(lo, hi, chunk):
        cf, ci, s = block_scan(op, values, index, flags, mask, a, min(a + chunk, hi), cf, ci, write)
        seen |= s
    return cf, ci, seen

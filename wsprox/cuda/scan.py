r"""The parallel scans of the CUDA collision algorithms and the settle.

The mirror of :mod:`wsprox.cpu.scan`: the kernels of the settle
(:mod:`wsprox.cuda.pipeline`), end collisions, imminent collisions and the
runs of ties of search collisions are built from *grid-wide* segmented scans
of (value, index) pairs, under one of

* ``SUM``: ``(f, i) + (g, j) = (f + g, i + j)`` (float64 sums and int counts);
* ``MAX``: the larger value (the later one on ties);
* ``ARGMIN``: the smaller value with its index, the *later* one on ties,

*segmented*: ``flags[k] & mask`` non-zero restarts the scan at ``k``
(``mask = 0``: not segmented). They work on a batch of ``n`` rows of ``d``
entries flattened to ``N = n d`` entries ``q = r d + k``; a row is a
segment: its first entry is flagged :data:`ROW`, a cluster's (or a run's)
:data:`CLUSTER`, so that one long row and a batch of short rows are the same
computation. A scan's arrays travel as a :class:`Scan`.

Block scans. A CUDA block replaces a range ``lo..hi-1`` in global memory by
its inclusive scan, after a *carry* (the scan of everything before ``lo``).
:func:`block_scan` scans one range in one piece: every thread owns a
contiguous stretch of ``ceil((hi - lo) / T)`` entries, folds it, a
Hillis-Steele scan of the ``T`` partial results in shared memory
(``log2 T`` steps) gives every thread its carry-in, and a second pass over
the stretch writes the results. :func:`range_scan` walks a long range in
chunks of ``chunk`` entries, one :func:`block_scan` each, passing the carry
on (short stretches keep neighbouring threads on neighbouring memory). Work
:math:`O(n + (n/\mathrm{chunk}) T \log T)`, depth
:math:`O((n/\mathrm{chunk}) (\mathrm{chunk}/T + \log T))`, ``2 log2 T + 3``
block barriers a chunk. Called with ``write=False`` they only reduce: the
result is the carry combined with the range (what comes after it), and
whether a segment start was seen in it.

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

Grid-wide scans. A cooperative kernel (:mod:`wsprox.cuda.grid`) cuts the
``N`` entries into ``P`` contiguous *parts*; block ``g`` of the ``G`` blocks
owns the ``P / G`` consecutive parts ``g P/G .. (g+1) P/G - 1`` and so the
contiguous range :func:`own_range` of entries. :func:`grid_scan` is a
reduce-then-scan:

.. code-block:: text

    for every part p, by its block:                    # range_scan, write=False
        tot[p] = the scan's combination of part p      # with seen[p]: a segment starts in p
    grid barrier                                       # the totals, before they are read
    for every part p, by its block:
        carry = tot[0] (+) ... (+) tot[p-1]            # block_scan of the totals, write=False
        scan part p after carry, in place              # range_scan, write=True
    grid barrier                                       # the results, before any later read

Work :math:`O(N + P^2)` (every part folds the totals before it); depth
:math:`O(N/(G T) + (N/(G B)) \log T + P/T)` per scan on ``G`` blocks of
``T`` threads and chunks of ``B`` entries; two passes over the data (reduce,
then scan) and two grid barriers.

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

A grid-wide inclusive sum, segmented by :data:`ROW` flags
(:func:`wsprox.cuda.grid.launch_grid` launches it):

>>> from wsprox.cuda import grid
>>> @cuda.jit
... def rows_sum(gc, s):
...     scan.grid_scan(scan.SUM, s.values, s.index, s.flags, scan.ROW, s.values.size, gc)
>>> s = scan.Scan(cuda.to_device(np.ones(5)), cuda.to_device(np.zeros(5, np.int64)),
...               cuda.to_device(np.array([scan.ROW, 0, 0, scan.ROW, 0], np.int8)))
>>> grid.launch_grid(rows_sum, 5, s)
>>> s.values.copy_to_host().tolist()
[1.0, 2.0, 3.0, 1.0, 2.0]
"""
import math
from collections import namedtuple

import numpy as np
from numba import float64, int64

from ._device import cuda, scratch

__all__ = ["ARGMIN", "CLUSTER", "MAX", "ROW", "SUM", "Grid", "Scan", "block_scan", "grid_scan", "identity",
           "own_entries", "own_range", "part_range", "range_scan", "scratch_scan", "shared_bytes"]

SUM = 0
MAX = 1
ARGMIN = 2

#: The flag of a row's first entry.
ROW = 2
#: The flag of another segment's first entry (a cluster's, a run's).
CLUSTER = 1

#: The arrays of a grid-wide scan over ``N`` entries: ``values`` (float64),
#: ``index`` (int64) and the segment ``flags`` (int8), each of ``N``.
Scan = namedtuple("Scan", "values index flags")



def scratch_scan(name, n, flags=None):
    """A :class:`Scan` of ``n`` entries from the thread's device scratch
    (:func:`wsprox.cuda._device.scratch`, the arrays named after ``name``);
    ``flags``: those of another scan, shared, instead of new ones.

    Examples
    --------
    >>> from wsprox.cuda.scan import scratch_scan
    >>> s = scratch_scan("example.scan", 4)
    >>> [a.dtype.name for a in s], scratch_scan("example.tops", 4, s.flags).flags is s.flags
    (['float64', 'int64', 'int8'], True)
    """
    return Scan(scratch(f"{name}.values", (n,), np.float64), scratch(f"{name}.index", (n,), np.int64),
                scratch(f"{name}.flags", (n,), np.int8) if flags is None else flags)


#: A cooperative grid's geometry and work memory, the first argument of a
#: kernel that :mod:`wsprox.cuda.grid` launches: ``parts`` of the entries,
#: the ``chunk`` of a block scan, and a slot per part for its total
#: (``totf``, float64, and ``toti``, ``(2, parts)`` int64: index, seen).
Grid = namedtuple("Grid", "parts chunk totf toti")


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


@cuda.jit(device=True, inline="always")
def part_range(p, parts, n):
    """The entries ``lo..hi-1`` of part ``p`` of ``0..n-1`` cut into ``parts`` parts.

    Examples
    --------
    >>> from wsprox.cuda.scan import part_range
    >>> [part_range.py_func(p, 4, 10) for p in range(4)]
    [(0, 3), (3, 6), (6, 9), (9, 10)]
    """
    per = (n + parts - 1) // parts
    lo = min(p * per, n)
    return lo, min(lo + per, n)


@cuda.jit(device=True, inline="always")
def own_range(parts, n):
    """The entries ``lo..hi-1`` of ``0..n-1`` that this block owns (its parts).

    Examples
    --------
    Two blocks, two parts each, of 10 entries (parts of 3):

    >>> import numpy as np
    >>> from wsprox.cuda.scan import own_range
    >>> from wsprox.cuda._device import cuda
    >>> @cuda.jit
    ... def owned(out):
    ...     out[cuda.blockIdx.x, 0], out[cuda.blockIdx.x, 1] = own_range(4, 10)
    >>> out = cuda.device_array((2, 2), dtype=np.int64)
    >>> owned[2, 1](out)
    >>> out.copy_to_host().tolist()
    [[0, 6], [6, 10]]
    """
    ppb = parts // cuda.gridDim.x
    lo, _ = part_range(cuda.blockIdx.x * ppb, parts, n)
    _, hi = part_range(cuda.blockIdx.x * ppb + ppb - 1, parts, n)
    return lo, hi


@cuda.jit(device=True, inline="always")
def own_entries(gc, n):
    """``(first, stop, step)``: this thread's entries of ``0..n-1`` in the
    kernel's :class:`Grid` are ``range(first, stop, step)``, its block's range
    (:func:`own_range`) strided by the block's threads (an elementwise phase)."""
    lo, hi = own_range(gc.parts, n)
    return lo + cuda.threadIdx.x, hi, cuda.blockDim.x


@cuda.jit(device=True)
def grid_scan(op, values, index, flags, mask, n, gc):
    """Inclusive scan of ``values[:n], index[:n]`` in place, over the whole grid.

    Segmented where ``flags[k] & mask``; ``gc`` is the kernel's :class:`Grid`.
    Every thread of the grid must call it; it ends with a grid barrier, so the
    results are visible to the whole grid.
    """
    grid = cuda.cg.this_grid()
    ppb = gc.parts // cuda.gridDim.x
    p0 = cuda.blockIdx.x * ppb
    f0, i0 = identity(op)
    for p in range(p0, p0 + ppb):
        lo, hi = part_range(p, gc.parts, n)
        f, i, seen = range_scan(op, values, index, flags, mask, lo, hi, gc.chunk, f0, i0, False)
        if cuda.threadIdx.x == 0:
            gc.totf[p] = f
            gc.toti[0, p] = i
            gc.toti[1, p] = seen * mask
    grid.sync()  # orders: every part's total written, before any block folds the totals
    for p in range(p0, p0 + ppb):
        cf, ci, _ = block_scan(op, gc.totf, gc.toti[0], gc.toti[1], mask, 0, p, f0, i0, False)
        lo, hi = part_range(p, gc.parts, n)
        range_scan(op, values, index, flags, mask, lo, hi, gc.chunk, cf, ci, True)
    grid.sync()  # orders: every result written (and the totals read), before later phases and scans

r"""Grid-wide scans: one scan over a whole (flattened) batch of rows, on the whole device.

The kernels of the settle (:mod:`wsprox.cuda.pipeline`), end collisions and
imminent collisions are *cooperative*: one launch of as many blocks as the
device holds at once (:func:`launch_grid`), which synchronise with grid-wide
barriers (``cuda.cg.this_grid().sync()``). They work on the batch of ``n``
rows of ``d`` entries flattened to ``N = n d`` entries ``q = r d + k``; a row
is a segment: its first entry is flagged :data:`ROW`, so that a scan
segmented by rows restarts there, and one long row and a batch of short rows
are the same computation.

The ``N`` entries are cut into ``P`` contiguous *parts*; block ``g`` of the
``G`` blocks owns the ``P / G`` consecutive parts ``g P/G .. (g+1) P/G - 1``
and so the contiguous range :func:`own_range` of entries. :func:`grid_scan`
is a reduce-then-scan:

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
``T`` threads and chunks of ``B`` entries (a Hillis-Steele scan of ``T``
partials per chunk); two passes over the data (reduce, then scan) and two
grid barriers. The operators (sum, max, last argmin, any of
them segmented) are those of :mod:`wsprox.cuda.scan`.

Rules of the kernels that use it, which the simulator cannot check (on the
simulator a cooperative grid has one block and a grid barrier is a block
barrier, so a missing grid barrier shows only on a GPU):

* an elementwise phase writes only entries of its block's own range,
  except where its comment says otherwise;
* a phase that reads only its block's own entries needs a block barrier
  after the phase that wrote them (``cuda.syncthreads``); a phase that reads
  (or writes) an entry another block wrote (or reads) in the phase before
  needs a grid barrier in between, commented with what it orders;
* every thread of the grid reaches every grid barrier: loops around them run
  the same number of times on every thread.

``P = G`` parts on a GPU; :data:`PARTS_PER_BLOCK` and :data:`CHUNK` are read
at every launch, so that tests on the simulator's single block run many parts
and chunks.

Examples
--------
A grid-wide inclusive sum, segmented by :data:`ROW` flags:

>>> import numpy as np
>>> from wsprox.cuda import grid, scan
>>> from wsprox.cuda._device import cuda
>>> @cuda.jit
... def demo(parts, chunk, totf, toti, values, index, flags):
...     grid.grid_scan(scan.SUM, values, index, flags, grid.ROW, values.size, (parts, chunk, totf, toti))
>>> v, i = cuda.to_device(np.ones(5)), cuda.to_device(np.zeros(5, np.int64))
>>> flags = cuda.to_device(np.array([grid.ROW, 0, 0, grid.ROW, 0], np.int8))
>>> grid.launch_grid(demo, 5, v, i, flags)
>>> v.copy_to_host().tolist()
[1.0, 2.0, 3.0, 1.0, 2.0]
"""
import numpy as np

from . import _device
from ._device import cuda, launch, scratch, simulated, threads_for
from .scan import block_scan, identity, range_scan, shared_bytes

__all__ = ["BLOCK", "CHUNK", "PARTS_PER_BLOCK", "ROW", "cooperative_launcher", "grid_launcher", "grid_scan",
           "launch_grid", "launch_key", "own_range", "part_range", "resident_blocks"]

#: Entries a block scans at a time (stretches of ``CHUNK // threads`` per thread).
#: Read at every launch: tests lower it.
CHUNK = 2048
#: Parts per block (1 on a GPU). Read at every launch: tests on the simulator raise it.
PARTS_PER_BLOCK = 1
#: The flag of a row's first entry.
ROW = 2
#: The flag of another segment's first entry (a block's, a run's).
BLOCK = 1


@cuda.jit(device=True, inline="always")
def part_range(p, parts, n):
    """The entries ``lo..hi-1`` of part ``p`` of ``0..n-1`` cut into ``parts`` parts.

    Examples
    --------
    >>> from wsprox.cuda.grid import part_range
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
    >>> from wsprox.cuda.grid import own_range
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


@cuda.jit(device=True)
def grid_scan(op, values, index, flags, mask, n, gc):
    """Inclusive scan of ``values[:n], index[:n]`` in place, over the whole grid.

    Segmented where ``flags[k] & mask``; ``gc = (parts, chunk, totf, toti)``
    is the grid's geometry and work memory (the first arguments of a kernel
    launched by :func:`launch_grid`). Every thread of the grid must call it;
    it ends with a grid barrier, so the results are visible to the whole grid.
    """
    parts, chunk, totf, toti = gc
    grid = cuda.cg.this_grid()
    ppb = parts // cuda.gridDim.x
    p0 = cuda.blockIdx.x * ppb
    f0, i0 = identity(op)
    for p in range(p0, p0 + ppb):
        lo, hi = part_range(p, parts, n)
        f, i, seen = range_scan(op, values, index, flags, mask, lo, hi, chunk, f0, i0, False)
        if cuda.threadIdx.x == 0:
            totf[p] = f
            toti[0, p] = i
            toti[1, p] = seen * mask
    grid.sync()  # orders: every part's total written, before any block folds the totals
    for p in range(p0, p0 + ppb):
        cf, ci, _ = block_scan(op, totf, toti[0], toti[1], mask, 0, p, f0, i0, False)
        lo, hi = part_range(p, parts, n)
        range_scan(op, values, index, flags, mask, lo, hi, chunk, cf, ci, True)
    grid.sync()  # orders: every result written (and the totals read), before later phases and scans


#: Blocks of a cooperative kernel that a device holds at once,
#: by (device, kernel, argument types, threads, shared bytes).
_RESIDENT = {}


def resident_blocks(kernel, threads, shared, args):
    """The most blocks of ``threads`` threads and ``shared`` bytes of dynamic
    shared memory of the cooperative ``kernel(*args)`` that the device holds
    at once (1 on the simulator): the largest grid it may be launched on.

    The first query of a kernel and shape compiles the kernel for ``args``'
    types (or loads it from the disk cache: the overload that the launch runs
    then) and asks the driver; later ones are a lookup.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.cuda import grid
    >>> from wsprox.cuda._device import cuda
    >>> @cuda.jit
    ... def nothing(a):
    ...     cuda.cg.this_grid().sync()
    >>> grid.resident_blocks(nothing, 32, 0, (cuda.to_device(np.ones(1)),)) >= 1
    True
    """
    if simulated():
        return 1
    argtypes = tuple(kernel.typeof_pyval(a) for a in args)
    key = (cuda.get_current_device().id, kernel, argtypes, threads, shared)
    if key not in _RESIDENT:
        _RESIDENT[key] = kernel.compile(argtypes).max_cooperative_grid_blocks(threads, shared)
    return _RESIDENT[key]


def cooperative_launcher(kernel, most, threads, shared, *args):
    """A function that launches the cooperative ``kernel(*args)`` on as many
    blocks of ``threads`` threads and ``shared`` bytes as the device holds at
    once (:func:`resident_blocks`), at most ``most``, on the caller's stream
    (``args``: those of a launch, for their types). The kernel loops over
    its work by ``blockIdx.x`` in steps of ``gridDim.x``.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.cuda import grid
    >>> from wsprox.cuda._device import cuda
    >>> @cuda.jit
    ... def count_blocks(out):
    ...     cuda.cg.this_grid().sync()
    ...     if cuda.threadIdx.x == 0:
    ...         cuda.atomic.add(out, 0, 1)
    >>> out = cuda.to_device(np.zeros(1, np.int64))
    >>> grid.cooperative_launcher(count_blocks, 4, 32, 0, out)(out)
    >>> 1 <= int(out.copy_to_host()[0]) <= 4
    True
    """
    blocks = max(1, min(most, resident_blocks(kernel, threads, shared, args)))
    return lambda *a: launch(kernel, blocks, threads, shared)(*a)


def launch_key():
    """The module parameters that :func:`grid_launcher` reads: a part of the key
    of a plan that keeps one (:func:`wsprox.cuda._device.plan`).

    Examples
    --------
    >>> from wsprox.cuda import grid
    >>> grid.launch_key()
    (2048, 1, 256)
    """
    return CHUNK, PARTS_PER_BLOCK, _device.THREADS_PER_BLOCK


def grid_launcher(kernel, n, *args):
    """A function that launches the cooperative ``kernel(parts, chunk, totf, toti, *args)``
    over ``n`` entries, with everything but the launch decided now (``args``:
    those of a launch, for their types).

    As many blocks as fit on the device at once (:func:`resident_blocks`),
    no more than ``ceil(n / CHUNK)``, of
    :func:`wsprox.cuda._device.threads_for` threads, on the caller's stream
    (:func:`wsprox.cuda._device.launch`); the grid's totals come from the
    thread's device scratch. A plan (:func:`wsprox.cuda._device.plan`) keeps it.
    """
    chunk = max(1, CHUNK)
    threads = threads_for(min(n, chunk))
    shared = shared_bytes(threads)
    most = max(1, -(-n // chunk))
    totf = scratch("grid.totf", (most * PARTS_PER_BLOCK,), np.float64)
    toti = scratch("grid.toti", (2, most * PARTS_PER_BLOCK), np.int64)
    blocks = max(1, min(most, resident_blocks(kernel, threads, shared, (most, chunk, totf, toti, *args))))
    head = (blocks * PARTS_PER_BLOCK, chunk, totf, toti)
    return lambda *a: launch(kernel, blocks, threads, shared)(*head, *a)


def launch_grid(kernel, n, *args):
    """Launch the cooperative ``kernel(parts, chunk, totf, toti, *args)`` over ``n`` entries
    (:func:`grid_launcher`, once).

    Examples
    --------
    A running maximum over one row of 6 entries:

    >>> import numpy as np
    >>> from wsprox.cuda import grid, scan
    >>> from wsprox.cuda._device import cuda
    >>> @cuda.jit
    ... def running_max(parts, chunk, totf, toti, values, index, flags):
    ...     grid.grid_scan(scan.MAX, values, index, flags, grid.ROW, values.size, (parts, chunk, totf, toti))
    >>> v = cuda.to_device(np.array([3.0, 1.0, 4.0, 1.0, 5.0, 2.0]))
    >>> i = cuda.to_device(np.zeros(6, np.int64))
    >>> flags = cuda.to_device(np.array([grid.ROW, 0, 0, 0, 0, 0], np.int8))
    >>> grid.launch_grid(running_max, 6, v, i, flags)
    >>> v.copy_to_host().tolist()
    [3.0, 3.0, 4.0, 4.0, 5.0, 5.0]
    """
    grid_launcher(kernel, n, *args)(*args)

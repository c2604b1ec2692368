r"""Cooperative launches: one kernel over the whole device, its phases separated by grid barriers.

The kernels of the settle (:mod:`wsprox.cuda.pipeline`), end collisions,
imminent collisions, the runs of ties and the merge tree of search
collisions, the input check (:mod:`wsprox.cuda.backend`) and the bitonic sort
are *cooperative*: one launch of as many blocks as the device holds at once
(:func:`resident_blocks`), which synchronise with grid-wide barriers
(``cuda.cg.this_grid().sync()``), so that their loops need no host round
trip. :func:`grid_launcher` decides a launch once (a plan keeps it:
:func:`wsprox.cuda._device.plan`), with the grid's work memory for the
grid-wide scans of :mod:`wsprox.cuda.scan`, which the kernel takes first (a
:class:`wsprox.cuda.scan.Grid`).

Rules of the kernels that use it, which the simulator cannot check (on the
simulator a cooperative grid has one block and a grid barrier is a block
barrier, so a missing grid barrier shows only on a GPU):

* an elementwise phase writes only entries of its block's own range
  (:func:`wsprox.cuda.scan.own_range`), except where its comment says otherwise;
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
A running maximum over one row of 6 entries:

>>> import numpy as np
>>> from wsprox.cuda import grid, scan
>>> from wsprox.cuda._device import cuda
>>> @cuda.jit
... def running_max(gc, s):
...     scan.grid_scan(scan.MAX, s.values, s.index, s.flags, scan.ROW, s.values.size, gc)
>>> s = scan.Scan(cuda.to_device(np.array([3.0, 1.0, 4.0, 1.0, 5.0, 2.0])),
...               cuda.to_device(np.zeros(6, np.int64)),
...               cuda.to_device(np.array([scan.ROW, 0, 0, 0, 0, 0], np.int8)))
>>> grid.launch_grid(running_max, 6, s)
>>> s.values.copy_to_host().tolist()
[3.0, 3.0, 4.0, 4.0, 5.0, 5.0]
"""
import numpy as np

from . import _device
from ._device import cuda, launch, scratch, simulated, threads_for
from .scan import Grid, shared_bytes

__all__ = ["CHUNK", "PARTS_PER_BLOCK", "cooperative_launcher", "grid_launcher", "launch_grid", "launch_key",
           "resident_blocks"]

#: Entries a block scans at a time (stretches of ``CHUNK // threads`` per thread).
#: Read at every launch: tests lower it.
CHUNK = 2048
#: Parts per block (1 on a GPU). Read at every launch: tests on the simulator raise it.
PARTS_PER_BLOCK = 1


#: Blocks of a cooperative kernel that a device holds at once,
#: by (device, kernel, argument types, threads, shared bytes).
_RESIDENT = {}


def resident_blocks(kernel, threads, shared, args):
    """The most blocks of ``threads`` threads and ``shared`` bytes of dynamic
    shared memory of the cooperative ``kernel(*args)`` that the device holds
    at once (1 on the simulator): the largest grid it may be launched on.

    The first query of a kernel and shape compiles the kernel for ``args``'
    types (or loads it from the disk cache: the overload that the launch runs
    then) and asks the driver; later ones are a lookup. (The example of
    :func:`cooperative_launcher` runs it.)
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
    """A function that launches the cooperative ``kernel(gc, *args)`` over ``n``
    entries, with everything but the launch decided now (``args``: those of a
    launch, for their types); ``gc`` is the grid's :class:`wsprox.cuda.scan.Grid`.

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
    typed = (Grid(most, chunk, totf, toti), *args)
    blocks = max(1, min(most, resident_blocks(kernel, threads, shared, typed)))
    gc = Grid(blocks * PARTS_PER_BLOCK, chunk, totf, toti)
    return lambda *a: launch(kernel, blocks, threads, shared)(gc, *a)


def launch_grid(kernel, n, *args):
    """Launch the cooperative ``kernel(gc, *args)`` over ``n`` entries
    (:func:`grid_launcher`, once; the module's example runs it)."""
    grid_launcher(kernel, n, *args)(*args)

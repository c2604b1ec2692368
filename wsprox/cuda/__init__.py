"""CUDA backend: Numba CUDA kernels, one module per collision algorithm.

Imported only when a CUDA computation is asked for (``backend="cuda"``, or a
device array with ``backend="auto"``); :mod:`wsprox.cuda._device` is the one
module that imports :mod:`numba.cuda`. Without a GPU, set
``NUMBA_ENABLE_CUDASIM=1`` before Numba is imported to run on the simulator.

A peer of :mod:`wsprox.cpu`: both use the shared core (:mod:`wsprox.core`,
whose arithmetic this package compiles for the device:
:mod:`wsprox.cuda.clusters`, :mod:`wsprox.cuda.hull`) and neither imports
the other; the modules of the same role have the same names (``sort``,
``scan``, ``pipeline``, ``backend``, one per algorithm). Every algorithm
module exposes the kernel contract of :mod:`wsprox.cpu` on device arrays,

``solve(x, lam, starts, counts, rounds, weights=None)``
    ``x`` is a ``(n_rows, d)`` float64 device array whose rows are sorted
    ascending. For every row ``r`` it writes the start indices of the
    clusters of the isotonic regression of ``z = x + v`` ascending into
    ``starts[r, :counts[r]]``, the sentinel ``starts[r, counts[r]] = d``, and
    the rounds it used into ``rounds[r]``; it launches kernels and does not
    synchronise. The kernels read the penalty from ``weights``, the call's
    device weights (:mod:`wsprox.cuda.weights`: found on the device with the
    overflow scale), by default those of the host number ``lam``; they take
    the three results as one :class:`wsprox.cuda.clusters.Clusters`.

:func:`prox_rows` does the rest on the device (rank, gather, cluster values,
soft-threshold, scatter, labels). For timings (``wsprox.bench``)::

    rows = wsprox.cuda.to_device(np.ascontiguousarray(w2d))     # (n, d)
    out = wsprox.cuda.device_array(rows.shape, rows.dtype)
    wsprox.cuda.prox_rows(wsprox.cuda.SOLVERS[method], rows, lam, l1, out)
    wsprox.cuda.synchronize()

Design: every row is spread over the whole device, and every launch goes
on the caller's stream (:func:`wsprox.cuda._device.launch`). A call starts
with one cooperative launch that checks the input and finds the overflow
scale on the device (:mod:`wsprox.cuda.backend`, :mod:`wsprox.cuda.weights`);
with ``check_finite=False`` nothing after it waits for the device. Short rows
(at most :data:`wsprox.cuda.short_rows.MAX_D` entries) with ``"pava"`` take
one fused launch: sort in shared memory, PAVA, settle, scatter
(:mod:`wsprox.cuda.short_rows`). Otherwise the rows are ranked by the owner's
sort and a gather (or a bitonic network, one cooperative launch),
``"pava"`` runs one thread per row, ``"search_collisions"``, the paper's
algorithm, runs tiles and then a merge tree in one cooperative launch
(:mod:`wsprox.cuda.search_collisions`), and end and imminent collisions and
the settle are each one cooperative launch (:mod:`wsprox.cuda.grid`) whose
grid-wide scans (:mod:`wsprox.cuda.scan`) take all rows of a batch at once, separated by grid
barriers, so their loops need no host round trip: a call with the default
method makes 2 launches (short rows) to 5 (a long row), besides the
owner's sort. Work arrays come from a per-thread device scratch
(:func:`wsprox.cuda._device.scratch`), bound once per call shape in plans
(:func:`wsprox.cuda._device.plan`), so that steady calls allocate only their
results (from the owner's memory pool). Every kernel is compiled with
``cache=True``: a new process loads them from Numba's disk cache.

Examples
--------
Every algorithm finds the clusters ``0..1`` and ``2`` of the sorted row ``[0, 1, 10]``:

>>> import numpy as np
>>> from wsprox.cuda import SOLVERS, device_array, to_device
>>> x = to_device(np.array([[0.0, 1.0, 10.0]]))
>>> for method, solve in SOLVERS.items():
...     starts = device_array((1, 4), np.int64)
...     counts, rounds = device_array(1, np.int64), device_array(1, np.int64)
...     solve(x, 2.0, starts, counts, rounds)
...     print(method, starts.copy_to_host()[0, :counts.copy_to_host()[0] + 1], rounds.copy_to_host())
pava [0 2 3] [3]
end_collisions [0 2 3] [2]
imminent_collisions [0 2 3] [2]
search_collisions [0 2 3] [0]
"""
from ._device import cuda as _cuda
from ._device import require_device, simulated, synchronize
from .backend import BACKEND
from .pipeline import prox_rows

#: Copy a host array to the device (:func:`numba.cuda.to_device`).
to_device = _cuda.to_device
#: An uninitialised device array (:func:`numba.cuda.device_array`).
device_array = _cuda.device_array

#: The collision algorithms of this backend, by method name.
SOLVERS = BACKEND.solvers

#: The method ``method="auto"`` picks on this backend for ``n_rows`` rows of ``d``
#: (:meth:`wsprox.cuda.backend.CUDABackend.auto_method`): PAVA for short rows
#: (fused) and large batches, search collisions over the whole device otherwise.
auto_method = BACKEND.auto_method

__all__ = [
    "BACKEND",
    "SOLVERS",
    "auto_method",
    "device_array",
    "prox_rows",
    "require_device",
    "simulated",
    "synchronize",
    "to_device",
]

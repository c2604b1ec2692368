"""CPU backend: Numba kernels, one module per collision algorithm.

A peer of :mod:`wsprox.cuda`: both use the shared core (:mod:`wsprox.core`:
host arrays, work memory, the cluster arithmetic) and neither imports the
other. Every algorithm module exposes the same kernel,

``solve(x, lam, starts, counts, rounds, sums)``
    ``x`` is a ``(n_rows, d)`` float64 array whose rows are sorted ascending.
    For every row ``r`` the kernel writes the partition of ``0..d-1`` into the
    clusters of the isotonic regression of ``z = x + v``: their start
    indices ascending into ``starts[r, :counts[r]]`` with the sentinel
    ``starts[r, counts[r]] = d``, and the rounds it used into ``rounds[r]``.
    ``sums``, a float64 array of ``x``'s shape, is scratch for the clusters'
    sums of ``x``, which the pipeline keeps in its reusable
    :class:`~wsprox.core.workspace.Workspace` (the CUDA kernels, whose
    contract lacks it, allocate their scratch on the device).

and :func:`wsprox.cpu.pipeline.prox_rows` does the rest (rank, gather,
cluster values, soft-threshold, scatter), identical for every algorithm. The
modules of the same role have the same names on both backends: ``sort``
(rank the rows), ``scan`` (the parallel primitives of the algorithms),
``pipeline`` (the prox around an algorithm, and its settle), ``backend``.
"""
from .backend import BACKEND
from .pipeline import prox_rows

#: The collision algorithms of this backend, by method name.
SOLVERS = BACKEND.solvers

#: The method ``method="auto"`` picks on this backend for ``n_rows`` rows:
#: PAVA, whatever the rows (:math:`O(d)` per row, and the fastest on a few cores).
auto_method = BACKEND.auto_method

__all__ = ["BACKEND", "SOLVERS", "auto_method", "prox_rows"]

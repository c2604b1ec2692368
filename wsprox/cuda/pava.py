r"""Pool adjacent violators (PAVA) on CUDA: one thread per row.

The batched kernel for many short rows (``axis=`` batches, e.g. the rows of a
weight matrix): every thread runs the sequential PAVA on its own row,

.. code-block:: text

    for k in 0..d-1:
        push cluster [k, k]
        while top two clusters a..m-1, m..k have value(a..m-1) >= value(m..k):
            merge them into a..k

the core's Python source (:func:`wsprox.core.pava.pava_row`), compiled for
the device, as the CPU's PAVA runs it on the host. :math:`O(d)` work and
depth per row, all rows at once. The cluster stack lives in ``starts`` (the
output) and a float64 scratch row of cluster sums. ``rounds`` is ``d``.
"""
from ..core import pava as core_pava
from ._device import cuda, grid_1d, launch, retarget, scratch
from .clusters import cluster_value, planned_solve
from .weights import LAM

__all__ = ["pava_row", "solve"]

#: The sequential PAVA of one row: the core's source, compiled for the device
#: with the device's ``cluster_value``.
pava_row = cuda.jit(device=True)(retarget(core_pava._pava_row, cluster_value=cluster_value))


@cuda.jit(cache=True)
def _pava_rows(x, weights, clusters, sums):
    r = cuda.grid(1)
    if r < x.shape[0]:
        clusters.counts[r] = pava_row(x[r], weights[LAM], clusters.starts[r], sums[r])
        clusters.rounds[r] = x.shape[1]


def solve(x, lam, starts, counts, rounds, weights=None):
    """Clusters of every sorted row of the device array ``x`` (see :mod:`wsprox.cuda`)."""
    planned_solve(("pava", *x.shape, x.dtype), _plan, x, lam, starts, counts, rounds, weights)


def _plan(x, weights, clusters):
    # The launch of a solve of x's shape, with its scratch rows of cluster sums.
    n, d = x.shape
    sums = scratch("pava.sums", (n, d), x.dtype)
    return lambda x, weights, clusters: launch(_pava_rows, *grid_1d(n, 64))(x, weights, clusters, sums)

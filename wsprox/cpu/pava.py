r"""Pool adjacent violators (PAVA), the sequential collision algorithm, on the CPU.

Particles are pushed left to right onto a stack of clusters; while the top
cluster's value (its position at time 1) is not above the value of the
cluster beneath it, the two collide and merge:

.. code-block:: text

    for k in 0..d-1:
        push cluster [k, k]
        while top two clusters a..m-1, m..k have value(a..m-1) >= value(m..k):
            merge them into a..k

Each particle is pushed once and popped at most once: :math:`O(d)` work and
depth after the sort. The loop is the core's
(:func:`wsprox.core.pava.pava_row`, the same source as the CUDA backend's);
rows of a batch run in parallel (tasks on the pool of
:mod:`wsprox.core.pool`), each row sequentially; ``rounds`` is ``d``, the
sequential steps of the row.
"""
from ..core.pava import pava_row
from ..core.pool import kernel

__all__ = ["solve"]


@kernel
def _pava_rows(lo, hi, x, lam, starts, counts, rounds, sums):
    d = x.shape[1]
    for r in range(lo, hi):
        counts[r] = pava_row(x[r], lam, starts[r], sums[r])
        rounds[r] = d


def solve(x, lam, starts, counts, rounds, sums):
    """Clusters of every sorted row of ``x`` (see :mod:`wsprox.cpu`).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 1.0, 10.0]])
    >>> starts, counts, rounds = np.empty((1, 4), dtype=np.int64), np.empty(1, dtype=np.int64), np.empty(1, dtype=np.int64)
    >>> solve(x, 2.0, starts, counts, rounds, np.empty_like(x))
    >>> counts, starts[0, :3]
    (array([2]), array([0, 2, 3]))
    """
    _pava_rows(x.shape[0], x, lam, starts, counts, rounds, sums)

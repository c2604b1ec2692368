r"""End collisions: settle the leftmost unsettled particle, one cluster at a time.

The leftmost particle ``i`` not yet in a cluster ends, at time 1, in the
cluster ``i..J(i)`` where ``J(i)`` is the last minimiser of the prefix means
of :math:`z = x + v` from ``i`` (the min-max formula of the isotonic
regression: the first cluster of ``z_i..z_{d-1}`` has value
:math:`\min_j \operatorname{mean}(z_i..z_j)`). Everything left of ``i`` is
settled, so that cluster is final; continue from ``J(i) + 1``:

.. code-block:: text

    i = 0
    while i < d:
        j = last argmin over j >= i of mean(z_i..z_j)     # a scan and a reduction
        emit cluster [i, j];  i = j + 1

Each iteration is a parallel prefix sum and an argmin
(:func:`wsprox.cpu.scan.last_argmin_prefix_means`), depth :math:`O(\log d)`,
work :math:`O(d - i)`; there is one iteration per final cluster, so ``K``
clusters cost depth :math:`O(K \log d)` and work :math:`O(K d)`: fast when
the prox shares few values (large ``lam``), quadratic when it shares none
(``lam`` small). ``rounds`` is the number of iterations, ``K``.
"""
import numpy as np
from numba import njit

from .scan import last_argmin_prefix_means

__all__ = ["end_collisions_row", "solve"]


@njit(cache=True)
def end_collisions_row(x, lam, starts):
    """Clusters of one sorted row ``x`` into ``starts`` (with sentinel); returns their number.

    Examples
    --------
    >>> starts = np.empty(4, dtype=np.int64)
    >>> end_collisions_row(np.array([0.0, 1.0, 10.0]), 2.0, starts), starts[:3]
    (2, array([0, 2, 3]))
    """
    d = x.size
    seg_start = np.empty(1, dtype=np.int64)
    seg_end = np.full(1, d, dtype=np.int64)
    last = np.empty(1, dtype=np.int64)
    count = 0
    i = 0
    while i < d:
        seg_start[0] = i
        last_argmin_prefix_means(x, lam, seg_start, seg_end, d - i, last)
        starts[count] = i
        count += 1
        i = last[0] + 1
    starts[count] = d
    return count


@njit(cache=True)
def solve(x, lam, starts, counts, rounds, sums):
    """Clusters of every sorted row of ``x`` (see :mod:`wsprox.cpu`); rows in turn,
    each in parallel; ``sums`` is not needed (prefix means are scanned)."""
    for r in range(x.shape[0]):
        counts[r] = end_collisions_row(x[r], lam, starts[r])
        rounds[r] = counts[r]

r"""Pool adjacent violators (PAVA), the sequential collision algorithm.

Particles are pushed left to right onto a stack of blocks; while the top
block's value (its position at time 1) is not above the value of the block
beneath it, the two collide and merge:

.. code-block:: text

    for k in 0..d-1:
        push block [k, k]
        while top two blocks a..m-1, m..k have value(a..m-1) >= value(m..k):
            merge them into a..k

Each particle is pushed once and popped at most once: :math:`O(d)` work and
depth after the sort. Rows of a batch run in parallel (tasks on the pool of
:mod:`wsprox.cpu.pool`), each row sequentially; ``rounds`` is ``d``, the
sequential steps of the row.
"""
from numba import njit

from .blocks import block_value
from .parallel import kernel

__all__ = ["pava_row", "solve"]


def _pava_row(x, lam, starts, sums):
    """Blocks of one sorted row ``x``; returns their number.

    ``starts`` (length ``d + 1``) receives the block starts and the sentinel
    ``d``; ``sums`` (length ``d``) is scratch for the blocks' sums of ``x``.
    The value of the top block stays in a register (``v``), so a particle
    that collides with nothing costs one block value.
    """
    d = x.size
    top = 0
    v = 0.0
    for k in range(d):
        a = k
        s = x[k]
        u = block_value(s, lam, d, k, k)
        while top > 0 and v >= u:
            top -= 1
            a = starts[top]
            s += sums[top]
            u = block_value(s, lam, d, a, k)
            if top > 0:
                v = block_value(sums[top - 1], lam, d, starts[top - 1], a - 1)
        starts[top] = a
        sums[top] = s
        v = u
        top += 1
    starts[top] = d
    return top


#: The host PAVA of one row; :mod:`wsprox.cuda.pava` compiles the same Python
#: function for the device, with the device's ``block_value``.
pava_row = njit(cache=True)(_pava_row)


@kernel
def _pava_rows(lo, hi, x, lam, starts, counts, rounds, sums):
    d = x.shape[1]
    for r in range(lo, hi):
        counts[r] = pava_row(x[r], lam, starts[r], sums[r])
        rounds[r] = d


def solve(x, lam, starts, counts, rounds, sums):
    """Blocks of every sorted row of ``x`` (see :mod:`wsprox.cpu`).

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

r"""Small vectors in one compiled call: check, rank, PAVA, settle and scatter.

For a vector of a few thousand entries the general pipeline's cost is its
Python steps (validation, the backend interface, work arrays, the threading
choice), tens of microseconds, more than the prox itself. :func:`prox_small`
does the whole prox of a 1-D float32 or float64 NumPy vector in one Numba
call,

.. code-block:: text

    magnitude, finite = one pass over w            # refuse: the caller takes the general path
    order = argsort(w);  x = w[order] in float64
    blocks = PAVA(x)                               # wsprox.cpu.pava.pava_row
    out[order[k]] = soft(running max of block values, l1)    # wsprox.cpu.pipeline's settle

with the same kernels as the pipeline, so its result is the pipeline's, bit
for bit. Inputs that need anything else (NaN or infinity to report, overflow
scaling, labels, ``out``, ``axis``, ``warm``) go to the general path.
"""
import numpy as np
from numba import njit

from .pava import pava_row
from .pipeline import _settle_run

__all__ = ["SMALL_MAX", "prox_small"]

#: Entries up to which :func:`wsprox.prox` of a plain vector takes the one-call path.
SMALL_MAX = 512


@njit(cache=True)
def prox_small(w, lam, l1, out):
    """The prox of the 1-D float32/float64 vector ``w`` into ``out`` (its dtype);
    returns the number of blocks, or -1 (``out`` untouched) when ``w`` holds a
    NaN or an infinity or its sums could overflow (see
    :func:`wsprox._validation.overflow_scale`).

    Examples
    --------
    >>> import numpy as np
    >>> out = np.empty(3)
    >>> prox_small(np.array([0.0, 1.0, 10.0]), 2.0, 0.0, out), out
    (2, array([1.5, 1.5, 8. ]))
    """
    d = w.size
    big = max(lam, l1)
    for k in range(d):
        v = abs(w[k])
        if not v <= np.inf or v == np.inf:
            return -1
        big = max(big, v)
    if big > 2.0 ** 1000 / max(d, 1) ** 2:
        return -1
    order = np.argsort(w).reshape(1, d)
    x = np.empty((1, d))
    for k in range(d):
        x[0, k] = w[order[0, k]]
    starts = np.empty((1, d + 1), dtype=np.int64)
    sums = np.empty((1, d))
    blocks = pava_row(x[0], lam, starts[0], sums[0])
    _settle_run(x, starts, order, lam, l1, 0, 0, blocks, out.reshape(1, d))
    return blocks

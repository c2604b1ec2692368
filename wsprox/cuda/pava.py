r"""Pool adjacent violators (PAVA) on CUDA: one thread per row.

The batched kernel for many short rows (``axis=`` batches, e.g. the rows of a
weight matrix): every thread runs the sequential PAVA of
:mod:`wsprox.cpu.pava` on its own row,

.. code-block:: text

    for k in 0..d-1:
        push block [k, k]
        while top two blocks a..m-1, m..k have value(a..m-1) >= value(m..k):
            merge them into a..k

:math:`O(d)` work and depth per row, all rows at once. The block stack lives
in ``starts`` (the output) and a float64 scratch row of block sums.
``rounds`` is ``d``.
"""
from ..cpu.pava import _pava_row
from ._device import cuda, grid_1d, launch, plan, retarget, scratch
from .blocks import block_value
from .weights import LAM, as_weights

__all__ = ["pava_row", "solve"]

#: The sequential PAVA of one row: the host's Python source, compiled for the
#: device with the device's ``block_value``.
pava_row = cuda.jit(device=True)(retarget(_pava_row, block_value=block_value))


@cuda.jit(cache=True)
def _pava_rows(x, weights, starts, sums, counts, rounds):
    r = cuda.grid(1)
    if r < x.shape[0]:
        counts[r] = pava_row(x[r], weights[LAM], starts[r], sums[r])
        rounds[r] = x.shape[1]


def solve(x, lam, starts, counts, rounds, weights=None):
    """Blocks of every sorted row of the device array ``x`` (see :mod:`wsprox.cuda`).

    The kernel reads the penalty from ``weights`` (the call's,
    :mod:`wsprox.cuda.weights`), by default those of ``lam``.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.cuda import pava, _device
    >>> x = _device.cuda.to_device(np.array([[0.0, 1.0, 10.0], [0.0, 0.0, 5.0]]))
    >>> starts = _device.cuda.device_array((2, 4), dtype=np.int64)
    >>> counts = _device.cuda.device_array(2, dtype=np.int64)
    >>> rounds = _device.cuda.device_array(2, dtype=np.int64)
    >>> pava.solve(x, 2.0, starts, counts, rounds)
    >>> counts.copy_to_host(), starts.copy_to_host()[0, :3]
    (array([2, 2]), array([0, 2, 3]))
    """
    n, d = x.shape
    weights = as_weights(lam) if weights is None else weights
    sums = plan(("pava", n, d, x.dtype), lambda: scratch("pava.sums", (n, d), x.dtype))
    launch(_pava_rows, *grid_1d(n, 64))(x, weights, starts, sums, counts, rounds)

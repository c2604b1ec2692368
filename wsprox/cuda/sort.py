r"""Sorting rows on the device: the array owner's argsort, or a bitonic sort.

:func:`rank_rows` returns, for every row of a ``(n, d)`` device array, the
ascending order and the sorted values as float64, read through the call's
weights (:func:`wsprox.cuda.weights.load`: times the overflow scale). When
the data came from CuPy or PyTorch their argsort (CUB radix sorts) is used,
and one launch gathers the values; otherwise, and on the simulator, a bitonic
sorting network sorts (value, index) pairs, the rows padded to a power of two
``P`` with ``(+inf, index >= d)``, in one cooperative launch
(:mod:`wsprox.cuda.grid`), every step a grid-stride pass then a grid barrier:

.. code-block:: text

    for k = 2, 4, ..., P:            # merge sorted runs of length k/2
        for j = k/2, k/4, ..., 1:    # every element i at once, then a grid barrier
            p = i xor j
            if p > i: order the pair (i, p) ascending if i & k == 0, else descending

:math:`\log_2 P (\log_2 P + 1)/2` grid barriers, :math:`O(P \log^2 P)` work per row.
Comparing (value, index) makes every key distinct, so the padding sorts last
and the result is deterministic; ties may come out in any order, which the
prox does not see (tied entries always share a cluster).
"""
import numpy as np

from ._device import as_device_array, cuda, grid_1d, launch, plan, scratch
from .grid import grid_launcher, launch_key
from .weights import as_weights, load

__all__ = ["bitonic_argsort", "rank_rows"]


@cuda.jit(cache=True)
def _bitonic(gc, rows, weights, keys, index, x, order):
    # (gc: the grid's, unused.) Grid-stride passes separated by grid barriers.
    grid = cuda.cg.this_grid()
    n, d = rows.shape
    p = keys.shape[1]
    first = cuda.grid(1)
    stride = cuda.gridsize(1)
    for f in range(first, n * p, stride):
        r = f // p
        k = f - r * p
        keys[r, k] = load(rows, r, k, weights) if k < d else np.inf
        index[r, k] = k
    grid.sync()  # orders: every key loaded, before the pairs read them
    k2 = 2
    while k2 <= p:
        j = k2 // 2
        while j >= 1:
            for f in range(first, n * p, stride):
                r = f // p
                i = f - r * p
                q = i ^ j
                if q > i:
                    a = keys[r, i]
                    b = keys[r, q]
                    ia = index[r, i]
                    ib = index[r, q]
                    greater = a > b or (a == b and ia > ib)
                    if greater == ((i & k2) == 0):
                        keys[r, i] = b
                        keys[r, q] = a
                        index[r, i] = ib
                        index[r, q] = ia
            grid.sync()  # orders: this step's swaps, before the next step's pairs read them
            j //= 2
        k2 *= 2
    for f in range(first, n * d, stride):
        r = f // d
        k = f - r * d
        x[r, k] = keys[r, k]
        order[r, k] = index[r, k]


@cuda.jit(cache=True)
def _gather(rows, order, weights, x):
    n, d = rows.shape
    f = cuda.grid(1)
    if f < n * d:
        r = f // d
        k = f - r * d
        x[r, k] = load(rows, r, order[r, k], weights)


def _bitonic_plan(rows, weights):
    # The sort's launch and work arrays for rows of this shape and dtype.
    n, d = rows.shape
    p = 1
    while p < d:
        p *= 2
    keys = scratch("sort.keys", (n, p), np.float64)
    index = scratch("sort.index", (n, p), np.int64)
    x = scratch("sort.x", (n, d), np.float64)
    order = scratch("sort.order", (n, d), np.int64)
    work = (keys, index, x, order)
    return grid_launcher(_bitonic, n * p, rows, weights, *work), work


def bitonic_argsort(rows, weights=None):
    """Ascending order (int64) and sorted values (float64) of every row, by a bitonic network.

    ``weights``: the call's (:mod:`wsprox.cuda.weights`); none: the values as they are.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.cuda import sort, _device
    >>> order, x = sort.bitonic_argsort(_device.cuda.to_device(np.array([[3.0, 1.0, 2.0]])))
    >>> order.copy_to_host(), x.copy_to_host()
    (array([[1, 2, 0]]), array([[1., 2., 3.]]))
    """
    weights = as_weights(0.0) if weights is None else weights
    run, work = plan(("sort.bitonic", rows.shape, rows.dtype, *launch_key()), lambda: _bitonic_plan(rows, weights))
    run(rows, weights, *work)
    return work[3], work[2]


def rank_rows(rows, owner=None, weights=None):
    """Ascending order and sorted float64 values of every row of the device array ``rows``.

    ``owner`` is the module of the caller's array (``"cupy"`` or
    ``"torch"``) whose argsort to use, or None for the bitonic sort;
    ``weights`` the call's (:mod:`wsprox.cuda.weights`: the values are read
    times its scale), or None for the values as they are.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.cuda import sort, _device
    >>> order, x = sort.rank_rows(_device.cuda.to_device(np.array([[2.0, -1.0], [0.5, 0.25]])))
    >>> order.copy_to_host()
    array([[1, 0],
           [1, 0]])
    """
    if owner == "cupy":
        import cupy

        order = as_device_array(cupy.argsort(cupy.asarray(rows), axis=1).astype(np.int64, copy=False))
    elif owner == "torch":
        import torch

        device = torch.device("cuda", cuda.get_current_device().id)   # the rows' (see CUDABackend.call)
        order = as_device_array(torch.argsort(torch.as_tensor(rows, device=device), dim=1))
    else:
        return bitonic_argsort(rows, weights)
    weights = as_weights(0.0) if weights is None else weights
    x = plan(("sort.gather", rows.shape), lambda: scratch("sort.x", rows.shape, np.float64))
    launch(_gather, *grid_1d(rows.size))(rows, order, weights, x)
    return order, x

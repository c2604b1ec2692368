r"""Sorting rows on the device: the array owner's argsort, or a bitonic sort.

:func:`rank_rows` returns, for every row of a ``(n, d)`` device array, the
ascending order and the sorted values as float64. When the data came from
CuPy or PyTorch their argsort (CUB radix sorts) is used; otherwise, and on the
simulator, a bitonic sorting network of Numba CUDA kernels sorts
(value, index) pairs, the rows padded to a power of two ``P`` with
``(+inf, index >= d)``:

.. code-block:: text

    for k = 2, 4, ..., P:            # merge sorted runs of length k/2
        for j = k/2, k/4, ..., 1:    # one launch; every element i at once
            p = i xor j
            if p > i: order the pair (i, p) ascending if i & k == 0, else descending

:math:`\log_2 P (\log_2 P + 1)/2` launches, :math:`O(P \log^2 P)` work per row.
Comparing (value, index) makes every key distinct, so the padding sorts last
and the result is deterministic; ties may come out in any order, which the
prox does not see (tied entries always share a cluster).
"""
import numpy as np

from ._device import as_device_array, cuda, grid_1d, launch, scratch

__all__ = ["rank_rows"]


@cuda.jit
def _load(rows, keys, index):
    n, d = rows.shape
    p = keys.shape[1]
    f = cuda.grid(1)
    if f < n * p:
        r = f // p
        k = f - r * p
        if k < d:
            keys[r, k] = rows[r, k]
        else:
            keys[r, k] = np.inf
        index[r, k] = k


@cuda.jit
def _bitonic_step(keys, index, k, j):
    n, p = keys.shape
    f = cuda.grid(1)
    if f < n * p:
        r = f // p
        i = f - r * p
        q = i ^ j
        if q > i:
            a = keys[r, i]
            b = keys[r, q]
            ia = index[r, i]
            ib = index[r, q]
            greater = a > b or (a == b and ia > ib)
            if greater == ((i & k) == 0):
                keys[r, i] = b
                keys[r, q] = a
                index[r, i] = ib
                index[r, q] = ia


@cuda.jit
def _store(keys, index, x, order):
    n, d = x.shape
    f = cuda.grid(1)
    if f < n * d:
        r = f // d
        k = f - r * d
        x[r, k] = keys[r, k]
        order[r, k] = index[r, k]


@cuda.jit
def _gather(rows, order, x):
    n, d = rows.shape
    f = cuda.grid(1)
    if f < n * d:
        r = f // d
        k = f - r * d
        x[r, k] = rows[r, order[r, k]]


def bitonic_argsort(rows):
    """Ascending order (int64) and sorted values (float64) of every row, by a bitonic network.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.cuda import sort, _device
    >>> order, x = sort.bitonic_argsort(_device.cuda.to_device(np.array([[3.0, 1.0, 2.0]])))
    >>> order.copy_to_host(), x.copy_to_host()
    (array([[1, 2, 0]]), array([[1., 2., 3.]]))
    """
    n, d = rows.shape
    p = 1
    while p < d:
        p *= 2
    keys = scratch("sort.keys", (n, p), np.float64)
    index = scratch("sort.index", (n, p), np.int64)
    grid = grid_1d(n * p)
    launch(_load, *grid)(rows, keys, index)
    k = 2
    while k <= p:
        j = k // 2
        while j >= 1:
            launch(_bitonic_step, *grid)(keys, index, k, j)
            j //= 2
        k *= 2
    x = scratch("sort.x", (n, d), np.float64)
    order = scratch("sort.order", (n, d), np.int64)
    launch(_store, *grid_1d(n * d))(keys, index, x, order)
    return order, x


def rank_rows(rows, owner=None):
    """Ascending order and sorted float64 values of every row of the device array ``rows``.

    ``owner`` is the module of the caller's array (``"cupy"`` or
    ``"torch"``) whose argsort to use, or None for the bitonic sort.

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
        return bitonic_argsort(rows)
    x = scratch("sort.x", rows.shape, np.float64)
    launch(_gather, *grid_1d(rows.size))(rows, order, x)
    return order, x

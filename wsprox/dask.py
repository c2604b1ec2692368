r"""The prox of the rows of a Dask array, block by block.

:func:`prox` is :func:`wsprox.prox` for a :class:`dask.array.Array`: with an
integer ``axis`` every 1-D slice along it is one vector, and the prox runs
once per block (``map_blocks``) on the workers, each block a batch of whole
rows. Blocks must span the axis: when the axis is split into several chunks
the array is first rechunked to one chunk along it (``rechunk({axis: -1})``,
one shuffle of the array; the other axes keep their chunks, so choose them to
keep blocks of a size that fits a worker).

One vector split over several blocks (``axis=None`` with more than one chunk)
is refused with a ValueError: its prox couples every entry to every other
(through the sort), and gathering it into one block on one worker is a
decision about memory that this function does not make silently. Rechunk to
one chunk yourself when the vector fits a worker (``darray.rechunk(-1)``), or
shard it across processes with :func:`wsprox.distributed.prox_`.

Dask is an optional dependency: ``import wsprox`` never imports it,
``import wsprox.dask`` does (the ``dask`` extra: ``pip install -e ".[dask]"`` in
a checkout).
"""
from __future__ import annotations

import numpy as np

from ._extras import require

da = require("dask.array", extra="dask", feature="wsprox.dask")

from ._prox import prox as _prox
from ._validation import check_penalty_weight, normalize_axis
from .core.validation import check_real_dtype, non_finite_message, result_dtype

__all__ = ["prox"]


def prox(darray, lam, *, l1=0.0, axis=None):
    r"""The exact prox of :math:`\lambda R + \ell_1\|\cdot\|_1` of every slice of a Dask array.

    Lazy: returns a Dask array; the blocks are computed, each by one call of
    :func:`wsprox.prox` on the worker that holds it, when the result is.

    Parameters
    ----------
    darray : dask.array.Array
        Real values (NaN or infinity raise a ValueError when computed, which
        names the entry's index in ``darray``).
    lam : float
        Weight of the weight-sharing penalty, finite and ``>= 0``.
    l1 : float, optional
        Weight of the L1 penalty, finite and ``>= 0``.
    axis : int or None, optional
        An integer: the prox of every 1-D slice along ``axis`` (the rows of a
        batch, ``axis=-1`` for a 2-D array of rows); the axis is rechunked to
        one chunk when it is split. ``None`` (default, as in
        :func:`wsprox.prox`): the whole array is one flattened vector, which
        must then be one chunk.

    Returns
    -------
    dask.array.Array
        The prox, of ``darray``'s shape and chunks (except along ``axis``,
        which is one chunk), float16/float32/float64 kept, other real dtypes
        giving float64 (as :func:`wsprox.prox`).

    Raises
    ------
    TypeError
        ``darray`` is not a Dask array or does not hold real numbers;
        ``lam``, ``l1`` or ``axis`` of the wrong type.
    ValueError
        ``axis=None`` on an array of more than one chunk; ``lam`` or ``l1``
        negative or not finite; ``axis`` out of range.

    Notes
    -----
    Work: one prox per row, :math:`O(d \log d)` for rows of length ``d``, in
    parallel over the blocks; communication: none beyond the rechunk (and the
    result's transfer when gathered).

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> import wsprox, wsprox.dask
    >>> w = np.random.default_rng(0).normal(size=(6, 8))
    >>> x = wsprox.dask.prox(da.from_array(w, chunks=(2, 4)), 0.5, axis=1)
    >>> x.chunks
    ((2, 2, 2), (8,))
    >>> bool(np.array_equal(x.compute(), wsprox.prox(w, 0.5, axis=1)))
    True
    >>> wsprox.dask.prox(da.from_array(w, chunks=(2, 4)), 0.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: axis=None proxes darray as one vector, which must be one chunk (it has 6): ...
    """
    if not isinstance(darray, da.Array):
        raise TypeError(f"darray must be a dask.array.Array, got {type(darray).__name__}")
    check_real_dtype(darray.dtype, "darray")
    lam = check_penalty_weight(lam, "lam")
    l1 = check_penalty_weight(l1, "l1")
    axis = normalize_axis(axis, darray.ndim)
    if axis is None and darray.npartitions > 1:
        raise ValueError(
            f"axis=None proxes darray as one vector, which must be one chunk (it has "
            f"{darray.npartitions}): rechunk it to one (darray.rechunk(-1)) if it fits a worker, "
            "or shard it across processes with wsprox.distributed.prox_")
    if axis is not None and len(darray.chunks[axis]) > 1:
        darray = darray.rechunk({axis: -1})
    dtype = result_dtype(darray.dtype)
    return darray.map_blocks(_prox_block, lam, l1=l1, axis=axis, dtype=dtype,
                             meta=np.empty((0,) * darray.ndim, dtype=dtype))


def _prox_block(block, lam, *, l1, axis, block_info=None):
    # wsprox.prox of one block; a NaN or infinity is reported at its index in the whole array.
    try:
        return _prox(block, lam, l1=l1, axis=axis)
    except ValueError:
        bad = ~np.isfinite(block)
        if block_info is None or not bad.any():
            raise
        info = block_info[0]
        local = np.unravel_index(int(np.argmax(bad)), block.shape)
        index = tuple(int(i) + start for i, (start, _) in zip(local, info["array-location"]))
        flat = int(np.ravel_multi_index(index, info["shape"]))
        raise ValueError(non_finite_message("darray", tuple(info["shape"]), flat, block[local])) from None

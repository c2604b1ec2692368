"""Reshaping between user arrays and the ``(n_rows, d)`` batches the kernels take.

``axis=None`` treats the whole array as one vector (one row); an integer axis
makes every 1-D slice along that axis a row.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["from_rows", "rows_view", "to_rows"]


def to_rows(a, axis, *, xp=np):
    """The ``(n_rows, d)`` array of the slices of ``a`` along ``axis`` (C-contiguous for NumPy).

    ``xp`` is the array module of ``a``: ``numpy`` (default), ``torch`` or
    ``jax.numpy``.

    Examples
    --------
    >>> to_rows(np.arange(6).reshape(2, 3), 0)
    array([[0, 3],
           [1, 4],
           [2, 5]])
    """
    if axis is None:
        return (np.ascontiguousarray(a) if xp is np else a).reshape(1, -1)
    moved = _moveaxis(xp)(a, axis, -1)
    if xp is np:
        moved = np.ascontiguousarray(moved)
    return moved.reshape(math.prod(moved.shape[:-1]), a.shape[axis])


def from_rows(rows, shape: tuple, axis, *, xp=np):
    """Inverse of :func:`to_rows` for an array of the original ``shape``."""
    if axis is None:
        return rows.reshape(shape)
    moved_shape = tuple(shape[:axis]) + tuple(shape[axis + 1:]) + (shape[axis],)
    return _moveaxis(xp)(rows.reshape(moved_shape), -1, axis)


def _moveaxis(xp):
    # torch's movedim (its moveaxis cannot be batched by torch.func); NumPy's and JAX's moveaxis.
    return getattr(xp, "movedim", None) or xp.moveaxis


def rows_view(a: np.ndarray, axis):
    """A ``(n_rows, d)`` C-contiguous *view* of ``a``, or None if that needs a copy."""
    if not a.flags.c_contiguous:
        return None
    if axis is None:
        return a.reshape(1, a.size)
    if axis != a.ndim - 1:
        return None
    return a.reshape(math.prod(a.shape[:-1]), a.shape[axis])

r"""The weight-sharing penalty and its minimum-norm subgradient.

.. math::

    R(w) = \frac{1}{d-1} \sum_{i > j} |w_i - w_j|
         = \sum_{k=1}^{d} c_k\, x_k, \qquad
    x = \operatorname{sort}(w), \quad c_k = \frac{2k - d - 1}{d - 1}.

The sorted form costs one sort, :math:`O(d \log d)`, instead of the
:math:`O(d^2)` pairs.
"""
from __future__ import annotations

import numpy as np

from ._rows import from_rows, to_rows
from ._validation import as_float_array, normalize_axis

__all__ = ["penalty", "subgradient", "sorted_weights"]


def sorted_weights(d: int) -> np.ndarray:
    r"""The coefficients :math:`c_k = (2k - d - 1)/(d - 1)`, :math:`k = 1..d`.

    They increase from -1 to 1 and sum to zero; for ``d <= 1`` they are zero.

    Examples
    --------
    >>> sorted_weights(3)
    array([-1.,  0.,  1.])
    """
    if d <= 1:
        return np.zeros(d)
    return (2.0 * np.arange(1, d + 1) - d - 1) / (d - 1)


def penalty(w, *, axis=None):
    r"""The weight-sharing penalty :math:`R(w) = \frac{1}{d-1}\sum_{i>j}|w_i - w_j|`.

    Parameters
    ----------
    w : array_like
        Real, finite values.
    axis : int or None, optional
        ``None`` (default) treats ``w`` as one flattened vector; an integer
        evaluates the penalty of every 1-D slice along that axis.

    Returns
    -------
    float or ndarray
        The penalty (a float for ``axis=None``, else an array of the
        remaining shape), computed in float64. Zero for ``d <= 1``.

    Raises
    ------
    TypeError, ValueError
        For non-real or non-finite input, or a bad ``axis``.

    Notes
    -----
    Sorting gives :math:`R = \sum_k c_k x_k` with
    :math:`c_k = (2k - d - 1)/(d - 1)`, in :math:`O(d \log d)`. For a
    1-sparse vector :math:`R` equals the L1 norm.

    Examples
    --------
    >>> import wsprox
    >>> wsprox.penalty([0.0, 1.0, 3.0])   # (1 + 3 + 2) / 2
    3.0
    >>> wsprox.penalty([[0, 1], [2, 2]], axis=1)
    array([1., 0.])
    """
    a = as_float_array(w)
    axis = normalize_axis(axis, a.ndim)
    if axis is None and a.ndim == 0:
        return 0.0
    rows = np.sort(to_rows(a, axis), axis=1)
    values = rows @ sorted_weights(rows.shape[1])
    if axis is None:
        return float(values[0])
    return values.reshape(a.shape[:axis] + a.shape[axis + 1:])


def subgradient(w, *, axis=None) -> np.ndarray:
    r"""The minimum-norm subgradient of :math:`R` at ``w``.

    An entry of rank :math:`k` (ascending) gets :math:`c_k`; the entries of a
    tied group occupying ranks :math:`a..b` all get the mean of
    :math:`c_a, \dots, c_b`, which is the minimum-norm point of the group's
    part of the subdifferential.

    Parameters
    ----------
    w : array_like
        Real, finite values.
    axis : int or None, optional
        As in :func:`penalty`.

    Returns
    -------
    ndarray
        float64 array of ``w``'s shape; each slice sums to zero.

    Examples
    --------
    >>> import wsprox
    >>> wsprox.subgradient([3.0, 1.0, 2.0])
    array([ 1., -1.,  0.])
    >>> wsprox.subgradient([1.0, 1.0, 5.0])   # the tie shares -1 and 0
    array([-0.5, -0.5,  1. ])
    """
    a = as_float_array(w)
    axis = normalize_axis(axis, a.ndim)
    rows = to_rows(a, axis).astype(np.float64, copy=False)
    n, d = rows.shape
    g = np.empty((n, d))
    if d:
        order = np.argsort(rows, axis=1, kind="stable")
        x = np.take_along_axis(rows, order, axis=1)
        c = sorted_weights(d)
        # Each tied group gets the mean of its c's: average over runs of equal x.
        new_group = np.ones((n, d), dtype=bool)
        new_group[:, 1:] = x[:, 1:] != x[:, :-1]
        group = np.cumsum(new_group.ravel()) - 1
        sums = np.bincount(group, weights=np.broadcast_to(c, (n, d)).ravel())
        counts = np.bincount(group)
        np.put_along_axis(g, order, (sums / counts)[group].reshape(n, d), axis=1)
    return from_rows(g, a.shape, axis)

r"""The weight-sharing penalty and its minimum-norm subgradient.

.. math::

    R(w) = \frac{1}{d-1} \sum_{i > j} |w_i - w_j|
         = \sum_{k=1}^{d} c_k\, x_k
         = \frac{1}{d-1} \sum_{k=1}^{d-1} k (d - k)\, (x_{k+1} - x_k),

with :math:`x = \operatorname{sort}(w)` and :math:`c_k = (2k - d - 1)/(d - 1)`:
the gap :math:`x_{k+1} - x_k` lies between the :math:`k (d - k)` pairs that
straddle it. The sorted forms cost one sort, :math:`O(d \log d)`, instead of
the :math:`O(d^2)` pairs. :func:`penalty` evaluates the gap form, whose terms
are all non-negative, so nothing cancels: its sum over :math:`c_k x_k` would
lose every digit on nearly equal entries and overflow on large ones.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ._rows import from_rows, to_rows
from ._validation import normalize_axis
from .core.validation import as_float_array

__all__ = ["penalty", "sorted_weights", "subgradient"]


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


def gap_weights(d: int) -> np.ndarray:
    r"""The weights :math:`k (d - k)`, :math:`k = 1..d-1`, of the gaps in :math:`(d - 1) R`.

    Examples
    --------
    >>> gap_weights(4)
    array([3., 4., 3.])
    """
    k = np.arange(1.0, max(d, 1))
    return k * (d - k)


def sorted_penalty(x, weights, xp):
    r"""The penalty of every row of ``x``, whose last axis is sorted ascending.

    Written once for NumPy arrays and torch tensors (``xp`` is ``numpy`` or
    ``torch``): evaluates the gap form
    :math:`\frac{1}{d-1}\sum_k k (d - k) (x_{k+1} - x_k)` in ``x``'s dtype,
    ``weights`` being :func:`gap_weights` as an array of ``xp`` of that dtype
    (and device).

    The terms are non-negative: each gap and each weight is rounded once, and
    the sum is compensated (:func:`_compensated_sum`), so the result is within
    about 3 units of roundoff (relative) of the exact penalty of ``x``. A row
    whose magnitude could overflow the weighted sum (it is at most
    :math:`d^2 \max|x| / 2`) is first multiplied by a power of two, which is
    exact, and the sum divided by it: the result is ``inf`` only when the
    penalty itself exceeds the largest float.

    Examples
    --------
    >>> x = np.array([[0.0, 1.0, 3.0], [1.7e308, 1.7e308, 1.7e308], [-8e307, 8e307, 8e307]])
    >>> sorted_penalty(x, gap_weights(3), np)
    array([3.0e+000, 0.0e+000, 1.6e+308])
    """
    d = x.shape[-1]
    if d < 2:
        return x[..., :0].sum(-1)
    bits = (d * d).bit_length()                             # d**2 < 2**bits
    top = math.frexp(float(xp.finfo(x.dtype).max))[1]      # max < 2**top
    # Below 2**(top - 1 - bits) in magnitude every gap and the weighted sum, at
    # most 2**(bits - 2) * 2 max|x|, stay below 2**(top - 2).
    limit = 2.0 ** (top - 1 - bits)
    ones = xp.ones_like(x[..., 0])
    factor = xp.where((x[..., 0] <= -limit) | (x[..., -1] >= limit), ones * 2.0 ** -(bits + 1), ones)
    y = x * factor[..., None]
    return _compensated_sum((y[..., 1:] - y[..., :-1]) * weights) / (d - 1) / factor


def _compensated_sum(t):
    r"""Sum over the last axis: pairwise, with the exact error of every addition
    (Knuth's TwoSum) collected and added back once at the end.

    The result is the exact sum rounded, up to :math:`O(u^2 \log d)` relative
    for terms of one sign; :math:`O(d)` work in :math:`\log_2 d` vectorised steps.
    """
    error = 0.0
    while t.shape[-1] > 1:
        half = t.shape[-1] // 2
        a, b = t[..., :half], t[..., half:2 * half]
        s = a + b
        error = error + _two_sum_error(a, b, s).sum(-1)
        if t.shape[-1] % 2:
            first = s[..., 0] + t[..., -1]
            error = error + _two_sum_error(s[..., 0], t[..., -1], first)
            s[..., 0] = first
        t = s
    return t[..., 0] + error


def _two_sum_error(a, b, s):
    """``a + b - s`` exactly, for ``s = a + b`` rounded to nearest (Knuth)."""
    b_part = s - a
    return (a - (s - b_part)) + (b - b_part)


def penalty(w: ArrayLike, *, axis: int | None = None) -> float | np.ndarray:
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
    One sort, :math:`O(d \log d)`, then the gap form
    :math:`R = \frac{1}{d-1}\sum_k k (d - k) (x_{k+1} - x_k)` of the sorted
    :math:`x` (:func:`sorted_penalty`): within a few units of roundoff of the
    exact value for every finite input, nearly tied or near the float64
    limit; ``inf`` (with NumPy's overflow warning) only where the exact
    penalty exceeds the largest float64. For a 1-sparse vector :math:`R`
    equals the L1 norm.

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
    rows = to_rows(a, axis).astype(np.float64)
    rows.sort(axis=1)
    values = sorted_penalty(rows, gap_weights(rows.shape[1]), np)
    if axis is None:
        return float(values[0])
    return values.reshape(a.shape[:axis] + a.shape[axis + 1:])


def subgradient(w: ArrayLike, *, axis: int | None = None) -> np.ndarray:
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

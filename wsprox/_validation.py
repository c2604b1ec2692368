"""Input validation shared by every public entry point.

Every check raises a :class:`ValueError` or :class:`TypeError` that names the
offending argument, so that nothing malformed ever reaches a Numba kernel.
"""
from __future__ import annotations

import numbers
import operator

import numpy as np
from numba import get_num_threads, prange

from .cpu.kernels import kernel, threaded

__all__ = [
    "as_float_array",
    "check_choice",
    "check_penalty_weight",
    "finite_magnitude",
    "normalize_axis",
    "result_dtype",
    "overflow_scale",
]


def result_dtype(dtype: np.dtype) -> np.dtype:
    """The floating dtype of the output for an input of ``dtype``.

    float32 stays float32 and float64 stays float64; booleans, integers and
    every other real floating type (float16, longdouble) give float64.
    """
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def as_float_array(w, name: str = "w", *, check_finite: bool = True) -> np.ndarray:
    """Return ``w`` as a real floating NumPy array (float32 or float64).

    The input is never copied when it already is a float32 or float64 array,
    and never modified.

    Raises
    ------
    TypeError
        If ``w`` is complex, object, string, or any other non-real dtype.
    ValueError
        If ``check_finite`` and ``w`` holds NaN or an infinity; the message
        names the first such index.
    """
    if hasattr(w, "__cuda_array_interface__") and not isinstance(w, np.ndarray):
        raise TypeError(
            f"{name} lives on a CUDA device; pass backend='cuda' or 'auto' "
            "to prox it on the device"
        )
    a = np.asarray(w)
    kind = a.dtype.kind
    if kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers (bool, integer or floating), "
            f"got dtype {a.dtype}"
        )
    dtype = result_dtype(a.dtype)
    if a.dtype != dtype:
        a = a.astype(dtype)
    if check_finite:
        finite_magnitude(a, name)
    return a


@kernel
def _extremes(flat, parts):
    # min, max and the count of entries that are not finite, in one pass.
    n = flat.size
    lows = np.empty(parts)
    highs = np.empty(parts)
    bad = np.zeros(parts, dtype=np.int64)
    for p in prange(parts):
        low = np.inf
        high = -np.inf
        count = 0
        for k in range(p * n // parts, (p + 1) * n // parts):
            v = flat[k]
            low = min(low, v)
            high = max(high, v)
            count += not abs(v) <= np.inf    # NaN
        lows[p] = low
        highs[p] = high
        bad[p] = count
    return lows.min(), highs.max(), bad.sum()


def finite_magnitude(a: np.ndarray, name: str = "w") -> float:
    """The largest magnitude in the float32 or float64 array ``a`` (0.0 when
    empty), in one pass.

    Raises
    ------
    ValueError
        If ``a`` holds NaN or an infinity; the message names the first such
        index.

    Examples
    --------
    >>> finite_magnitude(np.array([1.0, -3.0, 2.0]))
    3.0
    """
    if a.size == 0:
        return 0.0
    flat = a.reshape(-1)
    low, high, nans = _extremes(flat, get_num_threads() if threaded(flat.size) else 1)
    if not nans and np.isfinite(low) and np.isfinite(high):
        return float(max(high, -low))
    first = int(np.argmax(~np.isfinite(flat)))
    index = np.unravel_index(first, a.shape)
    index = int(index[0]) if a.ndim == 1 else tuple(int(i) for i in index)
    value = flat[first]
    what = "NaN" if np.isnan(value) else ("+inf" if value > 0 else "-inf")
    raise ValueError(f"{name} contains {what} at index {index}; all entries must be finite")


def check_penalty_weight(value, name: str) -> float:
    """Validate a regularisation weight (``lam`` or ``l1``): a finite real >= 0."""
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise TypeError(f"{name} must be a real scalar, got an array of shape {value.shape}")
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real scalar, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")
    return value


def check_choice(value, name: str, choices) -> str:
    """Validate that ``value`` is one of ``choices`` (strings)."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"unknown {name} {value!r}; valid choices are {', '.join(map(repr, choices))}"
        )
    return value


def normalize_axis(axis, ndim: int):
    """Return ``axis`` as a non-negative int, or None for the flattened array."""
    if axis is None:
        return None
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be None or an integer, got {type(axis).__name__}") from None
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for an array of dimension {ndim}")
    return axis % ndim


def overflow_scale(magnitude: float, size: int, *weights: float) -> float:
    """A power of two ``s`` that keeps float64 sums of ``s * a`` and ``s * weights``
    finite, for an array ``a`` of ``size`` entries of at most ``magnitude``
    (:func:`finite_magnitude`).

    The prox is positively homogeneous, ``prox_{lam R}(s w) = s prox_{(lam/s) R}(w)``,
    and scaling by a power of two is exact, so callers scale inputs whose sums
    over ``size`` terms could overflow and unscale the result. Returns 1.0 in
    every ordinary case.
    """
    if size == 0:
        return 1.0
    big = max(magnitude, *weights)
    # Block values form (d - 1) * sum(x) + ...: up to size**2 times the largest entry.
    limit = 2.0 ** 1000 / size ** 2
    if big <= limit:
        return 1.0
    return 2.0 ** -(int(np.ceil(np.log2(big / limit))))

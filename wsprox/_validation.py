"""Input validation shared by every public entry point.

Every check raises a :class:`ValueError` or :class:`TypeError` that names the
offending argument, so that nothing malformed ever reaches a Numba kernel.
"""
from __future__ import annotations

import numbers
import operator

import numpy as np

__all__ = [
    "as_float_array",
    "check_choice",
    "check_penalty_weight",
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
        _check_finite(a, name)
    return a


def _check_finite(a: np.ndarray, name: str) -> None:
    # The sum of finite numbers is finite unless it overflows, and any NaN or
    # infinity makes it non-finite: one fast reduction settles the common case.
    with np.errstate(over="ignore", invalid="ignore"):
        if a.size == 0 or np.isfinite(np.sum(a, dtype=np.float64)):
            return
    bad = ~np.isfinite(a)
    if not bad.any():
        return
    flat = int(np.argmax(bad.ravel()))
    index = np.unravel_index(flat, a.shape)
    index = int(index[0]) if a.ndim == 1 else tuple(int(i) for i in index)
    value = a.ravel()[flat]
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


def overflow_scale(a: np.ndarray, *weights: float) -> float:
    """A power of two ``s`` that keeps float64 sums of ``s * a`` and ``s * weights`` finite.

    The prox is positively homogeneous, ``prox_{lam R}(s w) = s prox_{(lam/s) R}(w)``,
    and scaling by a power of two is exact, so callers scale inputs whose sums
    over ``a.size`` terms could overflow and unscale the result. Returns 1.0 in
    every ordinary case.
    """
    if a.size == 0:
        return 1.0
    big = max(float(np.max(a)), -float(np.min(a)), *weights)
    limit = 2.0 ** 1000 / a.size
    if big <= limit:
        return 1.0
    return 2.0 ** -(int(np.ceil(np.log2(big / limit))))

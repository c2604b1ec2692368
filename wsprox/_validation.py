"""Validation of the arguments of every public entry point other than arrays (pure Python).

Every check raises a :class:`ValueError` or :class:`TypeError` that names the
offending argument, so that nothing malformed ever reaches a kernel: the
penalty weights, the choices (``backend``, ``method``), ``warm`` and the
axis. The arrays themselves (their dtype, NaN and infinity, the overflow
scale) are checked by :mod:`wsprox.core.validation` on the host, and by each
backend's :meth:`~wsprox._backend.Backend.scale` in one pass over its own arrays.
"""
from __future__ import annotations

import math
import numbers
import operator

import numpy as np

__all__ = ["check_choice", "check_penalty_weight", "check_warm", "normalize_axis", "rows_shape"]


def check_penalty_weight(value, name: str) -> float:
    """Validate a regularisation weight (``lam``, ``l1``, a tolerance): a finite real >= 0.

    Examples
    --------
    >>> check_penalty_weight(2, "lam")
    2.0
    >>> check_penalty_weight(10**400, "lam")
    Traceback (most recent call last):
    ...
    ValueError: lam must be finite, got an integer too large for a float (10**400 or so)
    """
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise TypeError(f"{name} must be a real scalar, got an array of shape {value.shape}")
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real scalar, got {type(value).__name__}")
    try:
        value = float(value)
    except OverflowError:
        digits = len(str(abs(int(value)))) - 1
        raise ValueError(
            f"{name} must be finite, got an integer too large for a float (10**{digits} or so)"
        ) from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")
    return value


def check_choice(value, name: str, choices) -> str:
    """Validate that ``value`` is one of ``choices`` (strings).

    Examples
    --------
    >>> check_choice("cpu", "backend", ("cpu", "cuda"))
    'cpu'
    """
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"unknown {name} {value!r}; valid choices are {', '.join(map(repr, choices))}"
        )
    return value


def check_warm(warm):
    """Raise a TypeError unless ``warm`` is None or a :class:`wsprox.ProxState`.

    Examples
    --------
    >>> check_warm(None) is None
    True
    """
    from .warm import ProxState

    if warm is not None and not isinstance(warm, ProxState):
        raise TypeError(f"warm must be a wsprox.ProxState, got {type(warm).__name__}")
    return warm


def normalize_axis(axis, ndim: int, name: str = "axis"):
    """Return ``axis`` as a non-negative int, or None for the flattened array
    (``name`` is the argument's name in the errors: ``dim`` for torch).

    Examples
    --------
    >>> normalize_axis(-1, 3), normalize_axis(None, 3)
    (2, None)
    """
    if axis is None:
        return None
    if isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"{name} must be None or an integer, got bool")
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"{name} must be None or an integer, got {type(axis).__name__}") from None
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name} {axis} is out of bounds for an array of dimension {ndim}")
    return axis % ndim


def rows_shape(shape: tuple, axis) -> tuple:
    """``(n, d)``: the rows of an array of ``shape`` proxed along ``axis``
    (a normalised axis, or None for one flattened vector).

    Examples
    --------
    >>> rows_shape((3, 4, 5), 1), rows_shape((3, 4), None)
    ((15, 4), (1, 12))
    """
    size = math.prod(shape)
    if axis is None:
        return 1, size
    d = shape[axis]
    return (size // d if d else math.prod(shape[:axis] + shape[axis + 1:])), d

"""Validation of the arguments of every public entry point (pure Python).

Every check raises a :class:`ValueError` or :class:`TypeError` that names the
offending argument, so that nothing malformed ever reaches a kernel. Checks
of array *contents* (NaN, infinity, magnitude) are one pass over the data,
which each backend provides (:meth:`wsprox._backend.Backend.finite_magnitude`).
"""
from __future__ import annotations

import math
import numbers
import operator
import sys

import numpy as np

__all__ = [
    "check_choice",
    "check_no_grad",
    "check_penalty_weight",
    "check_real_dtype",
    "check_tensor_dtype",
    "check_warm",
    "compute_dtype",
    "normalize_axis",
    "overflow_scale",
    "result_dtype",
    "rows_shape",
    "scale_for",
]


def result_dtype(dtype) -> np.dtype:
    """The floating dtype of the prox of an input of ``dtype``.

    float16, float32 and float64 are kept; booleans, integers and every other
    real floating type (long double) give float64. The computation runs in
    :func:`compute_dtype`.

    Examples
    --------
    >>> result_dtype(np.float16), result_dtype(np.float32), result_dtype(np.int8)
    (dtype('float16'), dtype('float32'), dtype('float64'))
    """
    dtype = np.dtype(dtype)
    if dtype in (np.float16, np.float32):
        return dtype
    return np.dtype(np.float64)


def compute_dtype(dtype) -> np.dtype:
    """The dtype of the rows that the kernels prox for an input of ``dtype``:
    :func:`result_dtype`, with float16 widened to float32 (exactly; the
    result is rounded back to float16 once, at the end).

    Examples
    --------
    >>> compute_dtype(np.float16), compute_dtype(np.float32), compute_dtype(np.int8)
    (dtype('float32'), dtype('float32'), dtype('float64'))
    """
    dtype = result_dtype(dtype)
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def check_real_dtype(dtype, name: str = "w") -> np.dtype:
    """Raise a TypeError unless ``dtype`` holds real numbers (bool, integer or floating).

    Examples
    --------
    >>> check_real_dtype(np.int32)
    dtype('int32')
    >>> check_real_dtype(np.complex128)
    Traceback (most recent call last):
    ...
    TypeError: w must hold real numbers (bool, integer or floating), got dtype complex128
    """
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (bool, integer or floating), got dtype {dtype}")
    return dtype


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


def check_no_grad(tensor, name: str = "w") -> None:
    """Raise a TypeError for a PyTorch tensor that requires grad while autograd records.

    :func:`wsprox.prox` is not differentiable: a result that silently lost
    the graph would be wrong for a caller who expects gradients. Under
    ``torch.no_grad()`` (an optimizer-style update) such a tensor is fine.

    Examples
    --------
    >>> check_no_grad([1.0]) is None
    True
    """
    if type(tensor).__module__.split(".")[0] != "torch" or not getattr(tensor, "requires_grad", False):
        return
    if sys.modules["torch"].is_grad_enabled():
        raise TypeError(
            f"{name} is a tensor that requires grad and wsprox.prox is not differentiable: "
            f"call it under torch.no_grad() (an update, e.g. out={name}) or on {name}.detach(), "
            "or differentiate through wsprox.torch.prox"
        )


def check_tensor_dtype(tensor, name: str = "w") -> None:
    """Raise a TypeError for a PyTorch tensor of a floating dtype that NumPy
    and Numba cannot hold (bfloat16, the float8 types); :mod:`wsprox.torch`
    takes them.

    Examples
    --------
    >>> check_tensor_dtype(np.ones(2)) is None
    True
    """
    if type(tensor).__module__.split(".")[0] != "torch":
        return
    torch = sys.modules["torch"]
    if tensor.is_floating_point() and tensor.dtype not in (torch.float16, torch.float32, torch.float64):
        raise TypeError(
            f"{name} is a {tensor.dtype} tensor, which NumPy and Numba cannot hold: use wsprox.torch "
            f"(it proxes half precision in float32), or pass {name}.float()"
        )


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


def overflow_scale(magnitude: float, size: int, *weights: float) -> float:
    """A power of two ``s`` that keeps float64 sums of ``s * a`` and ``s * weights``
    finite, for an array ``a`` of ``size`` entries of at most ``magnitude``.

    The prox is positively homogeneous, ``prox_{lam R}(s w) = s prox_{(lam/s) R}(w)``,
    and scaling by a power of two is exact, so callers scale inputs whose sums
    over ``size`` terms could overflow and unscale the result. Returns 1.0 in
    every ordinary case.

    Examples
    --------
    >>> overflow_scale(1.0, 10, 0.5)
    1.0
    >>> overflow_scale(1e308, 10, 0.5) < 1
    True
    """
    return scale_for(max(magnitude, *weights), size)


def scale_for(big: float, size: int) -> float:
    """:func:`overflow_scale` of the largest of the magnitude and the weights, ``big``.

    Plain arithmetic on floats (``frexp``, ``ldexp``): the CUDA backend
    compiles this very function for the device, where the magnitude is found,
    so that both compute the same scale.

    Examples
    --------
    >>> scale_for(1.0, 10), scale_for(2.0 ** 1000, 2)
    (1.0, 0.25)
    """
    if size == 0:
        return 1.0
    # Block values form (d - 1) * sum(x) + ...: up to size**2 times the largest entry.
    limit = 2.0 ** 1000 / (float(size) * float(size))
    if big <= limit:
        return 1.0
    mantissa, exponent = math.frexp(big / limit)       # big / limit = mantissa 2**exponent, mantissa in [0.5, 1)
    return math.ldexp(1.0, 1 - exponent if mantissa == 0.5 else -exponent)

r"""Arrays in: their dtype, NaN and infinity, the overflow scale, and ``out`` on the host.

What both backends, and the modules around them (the certificate, the path,
the optimizers), check of an array before anything is computed from it.
Every check raises a :class:`ValueError` or :class:`TypeError` that names
the offending argument, so that nothing malformed ever reaches a kernel. The
checks of an array's *contents* (NaN, infinity, magnitude) are one pass over
it, threaded when it is large (:mod:`wsprox.core.pool`); on the device the
CUDA backend makes the same pass in one launch and finds the same overflow
scale (:func:`scale_for`, compiled for the device by :mod:`wsprox.cuda.weights`).
The checks of the other arguments (``lam``, ``axis``, ``method``) are
:mod:`wsprox._validation`'s.
"""
from __future__ import annotations

import math
import sys

import numpy as np

from .._backend import is_device_array
from .pool import kernel, row_parts

__all__ = [
    "as_float_array",
    "check_host_out",
    "check_no_grad",
    "check_real_dtype",
    "check_tensor_dtype",
    "compute_dtype",
    "finite_magnitude",
    "max_magnitude",
    "non_finite_message",
    "overflow_scale",
    "result_dtype",
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


def as_float_array(w, name: str = "w", *, check_finite: bool = True) -> np.ndarray:
    """Return ``w`` as a real floating NumPy array of its result dtype
    (float16, float32 or float64: :func:`result_dtype`).

    The input is never copied when it already is an array of that dtype, and
    never modified.

    Raises
    ------
    TypeError
        If ``w`` is complex, object, string, or any other non-real dtype, a
        device array, or a PyTorch tensor that requires grad.
    ValueError
        If ``check_finite`` and ``w`` holds NaN or an infinity; the message
        names the first such index.

    Examples
    --------
    >>> as_float_array([1, 2]), as_float_array(np.ones(2, dtype=np.float16))
    (array([1., 2.]), array([1., 1.], dtype=float16))
    """
    if is_device_array(w):
        raise TypeError(
            f"{name} lives on a CUDA device; pass backend='cuda' or 'auto' to prox it on the device"
        )
    check_no_grad(w, name)
    check_tensor_dtype(w, name)
    try:
        a = np.asarray(_host_view(w))
    except ValueError as err:                  # a ragged nested sequence
        raise ValueError(f"{name} must be a rectangular array of numbers (nested sequences of equal "
                         f"lengths); NumPy could not make one: {err}") from None
    dtype = result_dtype(check_real_dtype(a.dtype, name))
    if a.dtype != dtype:
        a = a.astype(dtype)
    if check_finite:
        finite_magnitude(a, name)
    return a


def _host_view(w):
    # A PyTorch CPU tensor as a NumPy view of its memory (detached: no copy).
    return w.detach().numpy() if type(w).__module__.split(".")[0] == "torch" else w


@kernel
def _extremes(lo, hi, flat, lows, highs, bad):
    # min, max and the count of entries that are not finite of every piece, in one pass.
    n = flat.size
    parts = lows.size
    for p in range(lo, hi):
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


def finite_magnitude(a: np.ndarray, name: str = "w") -> float:
    """The largest magnitude in the floating array ``a`` (0.0 when empty), in
    one pass (float16 is read as float32).

    Raises
    ------
    ValueError
        If ``a`` holds NaN or an infinity; the message names the first such
        index (in C order).

    Examples
    --------
    >>> finite_magnitude(np.array([1.0, -3.0, 2.0]))
    3.0
    """
    magnitude = max_magnitude(a)
    if math.isfinite(magnitude):
        return magnitude
    flat = _flat(a)
    first = int(np.argmax(~np.isfinite(flat)))
    raise ValueError(non_finite_message(name, a.shape, first, flat[first]))


def max_magnitude(a: np.ndarray) -> float:
    """The largest magnitude in the floating array ``a`` (0.0 when empty), not
    finite (infinity or NaN) when ``a`` holds NaN or an infinity, in one pass
    (float16 is read as float32).

    Examples
    --------
    >>> max_magnitude(np.array([1.0, -3.0, 2.0])), max_magnitude(np.array([1.0, np.inf]))
    (3.0, inf)
    """
    flat = _flat(a)
    if a.size == 0:
        return 0.0
    parts = row_parts(1, flat.size)
    lows, highs, bad = np.empty(parts), np.empty(parts), np.empty(parts, dtype=np.int64)
    _extremes(parts, flat, lows, highs, bad)
    return math.nan if bad.any() else float(max(highs.max(), -lows.min()))


def _flat(a):
    # a read as one flat array of its compute dtype (no copy where none is needed).
    return a.reshape(-1).astype(compute_dtype(a.dtype), copy=False)


def non_finite_message(name, shape, flat_index, value):
    """The error for a NaN or infinity ``value`` at C-order ``flat_index`` of an array of ``shape``.

    Examples
    --------
    >>> non_finite_message("w", (2, 3), 4, float("nan"))
    'w contains NaN at index (1, 1); all entries must be finite'
    """
    index = np.unravel_index(flat_index, shape) if shape else ()
    index = int(index[0]) if len(shape) == 1 else tuple(int(i) for i in index)
    what = "NaN" if np.isnan(value) else ("+inf" if value > 0 else "-inf")
    return f"{name} contains {what} at index {index}; all entries must be finite"


def check_host_out(out, shape, dtype):
    """``out`` (a NumPy array or a PyTorch CPU tensor) as a NumPy view, checked
    for the result of an input of ``shape`` and result dtype ``dtype``.

    Examples
    --------
    >>> check_host_out(np.ones(3, dtype=np.float32), (3,), np.dtype(np.float64))
    Traceback (most recent call last):
    ...
    TypeError: out has dtype float32, expected float64
    """
    check_no_grad(out, "out")
    out = _host_view(out)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a NumPy array or a CPU tensor, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}, expected {shape}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, expected {dtype}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    return out


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
    # Cluster values form (d - 1) * sum(x) + ...: up to size**2 times the largest entry.
    limit = 2.0 ** 1000 / (float(size) * float(size))
    if big <= limit:
        return 1.0
    mantissa, exponent = math.frexp(big / limit)       # big / limit = mantissa 2**exponent, mantissa in [0.5, 1)
    return math.ldexp(1.0, 1 - exponent if mantissa == 0.5 else -exponent)

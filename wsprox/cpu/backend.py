r"""The CPU backend: host arrays in and out, and the one pass that checks them.

:data:`BACKEND` implements :class:`wsprox._backend.Backend` for NumPy arrays
(and everything :func:`numpy.asarray` takes: lists, scalars, read-only and
strided views, PyTorch CPU tensors, which come back as tensors). The rows are
zero-copy views of the input where the layout allows; the kernels are those
of :mod:`wsprox.cpu` and :func:`wsprox.cpu.pipeline.prox_rows` runs them.
"""
from __future__ import annotations

import math
import sys

import numpy as np

from .. import _rows
from .._backend import Backend, is_device_array, solvers
from .._validation import (
    check_no_grad,
    check_real_dtype,
    check_tensor_dtype,
    compute_dtype,
    overflow_scale,
    result_dtype,
)
from .parallel import kernel, row_parts
from .pipeline import prox_rows

__all__ = ["BACKEND", "as_float_array", "check_host_out", "finite_magnitude", "non_finite_message"]


def as_float_array(w, name: str = "w", *, check_finite: bool = True) -> np.ndarray:
    """Return ``w`` as a real floating NumPy array of its result dtype
    (float16, float32 or float64: :func:`wsprox._validation.result_dtype`).

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
    magnitude, flat = _magnitude(a)
    if math.isfinite(magnitude):
        return magnitude
    first = int(np.argmax(~np.isfinite(flat)))
    raise ValueError(non_finite_message(name, a.shape, first, flat[first]))


def _magnitude(a):
    # The largest magnitude in a (inf or NaN where an entry is not finite), and a read as one flat array.
    flat = a.reshape(-1).astype(compute_dtype(a.dtype), copy=False)
    if a.size == 0:
        return 0.0, flat
    parts = row_parts(1, flat.size)
    lows, highs, bad = np.empty(parts), np.empty(parts), np.empty(parts, dtype=np.int64)
    _extremes(parts, flat, lows, highs, bad)
    return (math.nan if bad.any() else float(max(highs.max(), -lows.min()))), flat


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


class CPUBackend(Backend):
    """NumPy arrays, Numba kernels (see :mod:`wsprox.cpu`).

    Examples
    --------
    >>> from wsprox.cpu import BACKEND
    >>> BACKEND.name, BACKEND.auto_method(1, 1000)
    ('cpu', 'pava')
    """

    name = "cpu"

    def __init__(self):
        self.solvers = solvers("wsprox.cpu")

    def auto_method(self, n_rows, d):
        """PAVA, whatever the rows (:math:`O(d)` per row, the fastest on a few cores)."""
        return "pava"

    def check_warm(self, warm):
        """Every :class:`wsprox.ProxState` works here."""

    def asarray(self, w, name):
        return as_float_array(w, name, check_finite=False)

    def check_out(self, out, w, shape, dtype):
        return None if out is None else check_host_out(out, shape, dtype)

    def scale(self, a, name, size, lam, l1, check_finite):
        """The float scale, NaN when ``a`` holds NaN or an infinity (``check_finite=False``)."""
        magnitude = finite_magnitude(a, name) if check_finite else _magnitude(a)[0]
        return overflow_scale(magnitude, size, lam, l1) if math.isfinite(magnitude) else math.nan

    def to_rows(self, a, axis, dtype):
        return _rows.to_rows(a, axis).astype(dtype, copy=False)

    def rows_view(self, target, axis):
        return _rows.rows_view(target, axis)

    def empty(self, shape, dtype):
        return np.empty(shape, dtype=dtype)

    def prox_rows(self, solve, rows, lam, l1, out, labels=None, warm=None, scale=1.0):
        """The kernels never see NaN or infinity: a call whose scale marks them
        (NaN) proxes zero rows, one cluster each, and divides by the NaN."""
        if scale != 1.0:
            rows = rows * scale if math.isfinite(scale) else np.zeros_like(rows)
            lam, l1 = (lam * scale, l1 * scale) if math.isfinite(scale) else (0.0, 0.0)
        if warm is None:
            counts = prox_rows(solve, rows, lam, l1, out, labels)
        else:
            with warm.lock:            # one call at a time per state: its order and memory
                counts = prox_rows(solve, rows, lam, l1, out, labels, warm=warm)
        if scale != 1.0:
            out /= scale
        return counts

    def from_rows(self, rows, shape, axis, target=None):
        x = _rows.from_rows(rows, shape, axis)
        if target is None:
            return x
        np.copyto(target, x)
        return target

    def wrap(self, x, w, out):
        if out is not None:
            return out
        if type(w).__module__.split(".")[0] == "torch":   # a CPU tensor in, a CPU tensor out
            return sys.modules["torch"].from_numpy(x)
        return x

    def to_host(self, a):
        return a

    def from_host(self, target, host):
        if host is not target:
            target[...] = host


#: The CPU backend of :func:`wsprox.prox`.
BACKEND = CPUBackend()

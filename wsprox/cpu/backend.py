r"""The CPU backend: host arrays in and out.

:data:`BACKEND` implements :class:`wsprox._backend.Backend` for NumPy arrays
(and everything :func:`numpy.asarray` takes: lists, scalars, read-only and
strided views, PyTorch CPU tensors, which come back as tensors), checked in
one pass by :mod:`wsprox.core.validation`. The rows are zero-copy views of
the input where the layout allows; the kernels are those of
:mod:`wsprox.cpu` and :func:`wsprox.cpu.pipeline.prox_rows` runs them.
"""
from __future__ import annotations

import math
import sys

import numpy as np

from .. import _rows
from .._backend import Backend, solvers
from ..core.validation import as_float_array, check_host_out, finite_magnitude, max_magnitude, overflow_scale
from .pipeline import prox_rows

__all__ = ["BACKEND"]


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
        magnitude = finite_magnitude(a, name) if check_finite else max_magnitude(a)
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

r"""The CUDA backend: device arrays in and out, and the one pass that checks them.

:data:`BACKEND` implements :class:`wsprox._backend.Backend` on the device.
A device input (a Numba device array, a CuPy array, a PyTorch CUDA tensor:
:func:`wsprox._backend.is_device_array`) is read in place (a C-contiguous
copy first where it is not), checked for NaN and infinity by one reduction
kernel that also finds the magnitude for the overflow scaling (two numbers
come back to the host), copied into ``(n, d)`` rows of the compute dtype by
a kernel that also applies the scale (or viewed as rows where nothing needs
doing), proxed, cast to the result dtype (float16 in, float16 out), and
returned as the kind of array that came in (CuPy in, CuPy out; torch in,
torch out; else a Numba device array) or written into ``out``. A host
(NumPy) input with ``backend="cuda"`` is checked like the CPU backend's,
copied to the device, and its prox copied back.
"""
from __future__ import annotations

import math
import sys

import numpy as np

from .._backend import Backend, is_device_array, solvers
from .._validation import check_no_grad, check_real_dtype, check_tensor_dtype, rows_shape
from ..cpu.backend import as_float_array, check_host_out, non_finite_message
from ._device import cuda, grid_1d, require_device, scratch
from .pipeline import prox_rows

__all__ = ["BACKEND", "owner_of"]


def owner_of(obj):
    """The library of a device array: ``"cupy"``, ``"torch"`` or ``"numba"``.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.cuda import _device
    >>> owner_of(_device.cuda.to_device(np.ones(2)))
    'numba'
    """
    return type(obj).__module__.split(".")[0]


def _device_view(obj, name):
    # A C-contiguous Numba view of a device array (a copy only where it is not contiguous).
    owner = owner_of(obj)
    if owner == "torch":
        obj = obj.detach().contiguous()
    elif owner == "cupy":
        obj = sys.modules["cupy"].ascontiguousarray(obj)
    view = obj if cuda.devicearray.is_cuda_ndarray(obj) else cuda.as_cuda_array(obj)
    if not view.is_c_contiguous():
        raise ValueError(f"{name}: a Numba device array must be C-contiguous for backend='cuda'")
    return view


def _three_axes(shape, axis):
    # (A, d, B): the rows of an array of shape proxed along axis are its [a, :, b] slices.
    if axis is None:
        return (1, math.prod(shape), 1)
    return (math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:]))


@cuda.jit(device=True, inline="always")
def _slot(f, d, b_):
    # Entry f of (n, d) rows -> (r, k) there and (a, b) of the [a, :, b] slice of the (A, d, B) array.
    r = f // d
    a = r // b_
    return r, f - r * d, a, r - a * b_


@cuda.jit
def _to_rows(src, rows, scale):
    # src is (A, d, B): rows[a * B + b, k] = scale * src[a, k, b], cast to rows' dtype.
    f = cuda.grid(1)
    if f < rows.size:
        r, k, a, b = _slot(f, src.shape[1], src.shape[2])
        rows[r, k] = scale * src[a, k, b]


@cuda.jit
def _from_rows(rows, dst):
    f = cuda.grid(1)
    if f < rows.size:
        r, k, a, b = _slot(f, dst.shape[1], dst.shape[2])
        dst[a, k, b] = rows[r, k]


@cuda.jit
def _first_nonfinite_and_magnitude(flat, result):
    # result[0]: the smallest flat index of a NaN or infinity (as float64, exact
    # below 2**53), result[1]: the largest magnitude of the finite entries.
    f = cuda.grid(1)
    if f < flat.size:
        v = flat[f] * 1.0
        if math.isnan(v) or math.isinf(v):
            cuda.atomic.min(result, 0, f * 1.0)
        else:
            cuda.atomic.max(result, 1, abs(v))


@cuda.jit
def _multiply(flat, factor):
    f = cuda.grid(1)
    if f < flat.size:
        flat[f] = flat[f] * factor


class CUDABackend(Backend):
    """Numba device arrays, Numba CUDA kernels (see :mod:`wsprox.cuda`).

    Examples
    --------
    >>> from wsprox.cuda import BACKEND
    >>> BACKEND.name, BACKEND.auto_method(1), BACKEND.auto_method(4096)
    ('cuda', 'imminent_collisions', 'pava')
    """

    name = "cuda"

    def __init__(self):
        self.solvers = solvers("wsprox.cuda")

    def auto_method(self, n_rows):
        """A batch: PAVA, one thread per row, :math:`O(d)` whatever the input.
        One row: imminent collisions, a whole block of threads on the row.

        Measured on an H100 (float64, ``n`` rows of ``d``): PAVA is as fast or
        faster on every batch of 1024 rows or more (d = 8192, n = 8192: 80
        against 100 ms) and at most 11% slower on a few long rows, and the
        worst-case rows that take imminent collisions ``d`` rounds cost it
        nothing more (``growing_cluster`` at d = 1e4: 9 against 592 ms); on
        one row PAVA's single thread is 3x slower.
        """
        return "imminent_collisions" if n_rows == 1 else "pava"

    def check_warm(self, warm):
        if warm is not None:
            raise ValueError(
                "warm: a ProxState keeps a host order and host work memory, and the CUDA backend "
                "has no warm start; pass warm=None with backend='cuda' (or use backend='cpu')"
            )

    def asarray(self, w, name):
        require_device()
        if not is_device_array(w):
            return cuda.to_device(as_float_array(w, name, check_finite=False))
        check_no_grad(w, name)
        check_tensor_dtype(w, name)
        view = _device_view(w, name)
        check_real_dtype(view.dtype, name)
        return view

    def check_out(self, out, w, shape, dtype):
        if out is None:
            return None
        if not is_device_array(w):      # host in, host out: checked as on the CPU, copied at the end
            check_host_out(out, shape, dtype)
            return None
        if not is_device_array(out):
            raise TypeError(f"out must be a device array like w, got {type(out).__name__}")
        check_no_grad(out, "out")
        view = out.detach() if owner_of(out) == "torch" else out
        view = view if cuda.devicearray.is_cuda_ndarray(view) else cuda.as_cuda_array(view)
        if tuple(view.shape) != shape:
            raise ValueError(f"out has shape {tuple(view.shape)}, expected {shape}")
        if view.dtype != dtype:
            raise TypeError(f"out has dtype {view.dtype}, expected {dtype}")
        if not view.is_c_contiguous():
            raise ValueError("out must be C-contiguous")
        return view

    def finite_magnitude(self, a, name):
        if a.size == 0:
            return 0.0
        flat = a.reshape(a.size)
        result = cuda.to_device(np.array([a.size, 0.0]))
        _first_nonfinite_and_magnitude[grid_1d(a.size)](flat, result)
        first, magnitude = result.copy_to_host()
        if first == a.size:
            return float(magnitude)
        first = int(first)
        value = float(flat[first:first + 1].copy_to_host()[0])
        raise ValueError(non_finite_message(name, tuple(a.shape), first, value))

    def to_rows(self, a, axis, dtype, scale):
        n, d = rows_shape(tuple(a.shape), axis)
        if scale == 1.0 and a.dtype == dtype and (axis is None or axis == a.ndim - 1):
            return a.reshape(n, d)
        rows = scratch("backend.rows", (n, d), dtype)
        if n * d:
            _to_rows[grid_1d(n * d)](a.reshape(_three_axes(tuple(a.shape), axis)), rows, scale)
        return rows

    def rows_view(self, target, axis):
        if axis is not None and axis != target.ndim - 1:
            return None
        return target.reshape(rows_shape(tuple(target.shape), axis))

    def empty(self, shape, dtype):
        return cuda.device_array(shape, dtype=dtype)

    def prox_rows(self, solve, rows, lam, l1, out, labels=None, warm=None):
        return prox_rows(solve, rows, lam, l1, out, labels, _sort_owner())

    def unscale(self, rows, scale):
        _multiply[grid_1d(rows.size)](rows.reshape(rows.size), 1.0 / scale)

    def from_rows(self, rows, shape, axis, target=None):
        if (axis is None or axis == len(shape) - 1) and (target is None or target.dtype == rows.dtype):
            x = rows.reshape(shape)
            if target is None:
                return x
            target.copy_to_device(x)
            return target
        x = target if target is not None else cuda.device_array(shape, dtype=rows.dtype)
        if rows.size:
            _from_rows[grid_1d(rows.size)](rows, x.reshape(_three_axes(shape, axis)))
        return x

    def wrap(self, x, w, out):
        if not is_device_array(w):        # host in, host out
            host = x.copy_to_host()
            if out is None:
                return host
            np.copyto(out, host)
            return out
        if out is not None:
            return out
        owner = owner_of(w)
        if owner == "cupy":
            return sys.modules["cupy"].asarray(x)
        if owner == "torch":
            return sys.modules["torch"].as_tensor(x, device=w.device)
        return x

    def to_host(self, a):
        return a.copy_to_host()


def _sort_owner():
    # Whose device argsort ranks the rows: PyTorch's or CuPy's (CUB radix sorts)
    # where one is loaded with a GPU, else wsprox's bitonic network.
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return "torch"
    return "cupy" if "cupy" in sys.modules else None


#: The CUDA backend of :func:`wsprox.prox`.
BACKEND = CUDABackend()

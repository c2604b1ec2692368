r"""The CUDA backend: device arrays in and out, and the one pass that checks them.

:data:`BACKEND` implements :class:`wsprox._backend.Backend` on the device.
A device input (a Numba device array, a CuPy array, a PyTorch CUDA tensor:
:func:`wsprox._backend.is_device_array`) is read in place (a C-contiguous
copy first where it is not), scanned by one cooperative kernel that finds the
first NaN or infinity and the largest magnitude and, from them, the call's
weights on the device (the overflow scale and the scaled penalties:
:mod:`wsprox.cuda.weights`), copied into ``(n, d)`` rows of the compute dtype
where it is not such rows already, proxed (the kernels apply the scale as
they read the rows and undo it as they write the prox), cast to the result
dtype (float16 in, float16 out), and returned as the kind of array that came
in (CuPy in, CuPy out; torch in, torch out; else a Numba device array) or
written into ``out``. A host (NumPy) input with ``backend="cuda"`` is checked
like the CPU backend's, copied to the device, and its prox copied back.

A call is ordered with the work of the array's owner (:meth:`CUDABackend.call`):
every kernel launches on the owner's current stream and device (PyTorch's
``torch.cuda.current_stream``, CuPy's ``get_current_stream``; Numba's default
stream for Numba arrays and host input), and the results are allocated by the
owner's memory pool (``torch.empty``, ``cupy.empty``), so that a steady call
makes no ``cuMemAlloc``: the work arrays are the thread's device scratch
(:func:`wsprox.cuda._device.scratch`), bound once per call shape in plans
(:func:`wsprox.cuda._device.plan`). With ``check_finite=True`` (the default)
the one synchronisation of a call on device input is the check: the scan's
two numbers come back through pinned memory after a synchronisation of that
stream only. With ``check_finite=False`` nothing is read back and nothing
waits for the device, unless the caller asks for host values
(:func:`wsprox.prox_result` reads the counts).
"""
from __future__ import annotations

import math
import sys
import threading
from contextlib import contextmanager

import numpy as np
from numba import float64, int64

from .._backend import Backend, is_device_array, solvers
from .._validation import rows_shape
from ..core.validation import (
    as_float_array,
    check_host_out,
    check_no_grad,
    check_real_dtype,
    check_tensor_dtype,
    non_finite_message,
)
from . import short_rows
from ._device import as_device_array, cuda, grid_1d, launch, on_stream, plan, require_device, scratch, stream
from .grid import grid_launcher, launch_key
from .pipeline import prox_rows
from .weights import set_weights

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
    view = as_device_array(obj)
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


@cuda.jit(cache=True)
def _to_rows(src, rows):
    # src is (A, d, B): rows[a * B + b, k] = src[a, k, b], cast to rows' dtype.
    f = cuda.grid(1)
    if f < rows.size:
        r, k, a, b = _slot(f, src.shape[1], src.shape[2])
        rows[r, k] = src[a, k, b]


@cuda.jit(cache=True)
def _from_rows(rows, dst):
    f = cuda.grid(1)
    if f < rows.size:
        r, k, a, b = _slot(f, dst.shape[1], dst.shape[2])
        dst[a, k, b] = rows[r, k]


#: Rows from which ``method="auto"`` runs PAVA, one thread per row, on rows of any length.
AUTO_BATCH = 1024


@cuda.jit(device=True, inline="always")
def _block_fold(first, big):
    # The smallest first and the largest big of the block's threads (every thread gets them).
    t = cuda.threadIdx.x
    T = cuda.blockDim.x
    sb = cuda.shared.array(0, float64)[:T]
    sf = cuda.shared.array(0, int64)[T:2 * T]
    sf[t] = first
    sb[t] = big
    cuda.syncthreads()
    step = T // 2
    while step > 0:          # T is a power of two
        if t < step:
            sf[t] = min(sf[t], sf[t + step])
            sb[t] = max(sb[t], sb[t + step])
        cuda.syncthreads()
        step //= 2
    first = sf[0]
    big = sb[0]
    cuda.syncthreads()       # read before the shared memory is written again
    return first, big


@cuda.jit(cache=True)
def _weigh(gc, flat, lam, l1, result, weights):
    # result[0]: the smallest flat index of a NaN or infinity (flat.size if none; a float64,
    # exact below 2**53), result[1]: the largest magnitude of the finite entries; the call's
    # weights from them. Every thread folds a grid-stride sequence, every block its threads,
    # block 0 the blocks. (gc.totf, gc.toti: a slot per block.)
    totf, toti = gc.totf, gc.toti
    grid = cuda.cg.this_grid()
    n = flat.size
    first = n
    big = 0.0
    for f in range(cuda.grid(1), n, cuda.gridsize(1)):
        v = flat[f] * 1.0
        if math.isnan(v) or math.isinf(v):
            first = min(first, f)
        else:
            big = max(big, abs(v))
    first, big = _block_fold(first, big)
    if cuda.threadIdx.x == 0:
        totf[cuda.blockIdx.x] = big
        toti[0, cuda.blockIdx.x] = first
    grid.sync()  # orders: every block's partial written, before block 0 folds them
    if cuda.blockIdx.x == 0:
        first = n
        big = 0.0
        for g in range(cuda.threadIdx.x, cuda.gridDim.x, cuda.blockDim.x):
            first = min(first, toti[0, g])
            big = max(big, totf[g])
        first, big = _block_fold(first, big)
        if cuda.threadIdx.x == 0:
            result[0] = first
            result[1] = big
            set_weights(weights, big if first == n else math.inf, n, lam, l1)


class CUDABackend(Backend):
    """Numba device arrays, Numba CUDA kernels (see :mod:`wsprox.cuda`).

    Examples
    --------
    >>> from wsprox.cuda import BACKEND
    >>> BACKEND.name, BACKEND.auto_method(1, 10**6), BACKEND.auto_method(4096, 1024)
    ('cuda', 'search_collisions', 'pava')
    """

    name = "cuda"

    def __init__(self):
        self.solvers = solvers("wsprox.cuda")
        self._local = threading.local()

    @contextmanager
    def call(self, w):
        """Order the call with the owner of ``w``: its device, its current
        stream, its memory pool for the results (see the module's notes).

        Examples
        --------
        >>> import numpy as np
        >>> from wsprox.cuda import BACKEND, _device
        >>> with BACKEND.call(np.ones(3)):
        ...     _device.stream()
        0
        """
        device = is_device_array(w)
        owner = owner_of(w) if device else _sort_owner()
        if owner == "torch":
            index = w.device.index if device else _module("torch").cuda.current_device()
        elif owner == "cupy":
            index = w.device.id if device else _module("cupy").cuda.Device().id
        else:                     # Numba arrays and host input sorted by wsprox's network
            owner, index = None, None
        previous = getattr(self._local, "owner", None)
        self._local.owner = (owner, index)
        try:
            if owner is None:
                with on_stream(0):
                    yield
            elif owner == "torch":
                with cuda.gpus[index], on_stream(_owner_stream(owner, index)):
                    yield
            else:                 # CuPy's current device too: its argsort and its stream
                with cuda.gpus[index], _module("cupy").cuda.Device(index), on_stream(_owner_stream(owner, index)):
                    yield
        finally:
            self._local.owner = previous

    def auto_method(self, n_rows, d):
        r"""PAVA for rows of at most :data:`wsprox.cuda.short_rows.MAX_D`
        (the fused kernel: sort, PAVA and settle in one launch, one CUDA block
        per row) and for batches of :data:`AUTO_BATCH` rows or more (one
        thread per row); otherwise the paper's search collisions, every row
        spread over the whole device (tiles and a merge tree, depth
        :math:`O(\log^3 d)` whatever the input).

        A rule from the algorithms' depth and the H100 measurements of the
        one-block-per-row kernels (PAVA as fast or faster on every batch of
        1024 rows or more); to be re-derived from ``python -m wsprox.bench
        --backend cuda`` on a GPU for the whole-device kernels.
        """
        return "pava" if d <= short_rows.MAX_D or n_rows >= AUTO_BATCH else "search_collisions"

    def check_warm(self, warm):
        if warm is not None:
            raise ValueError(
                "warm: a ProxState keeps a host order and host work memory, and the CUDA backend "
                "has no warm start; pass warm=None with backend='cuda' (or use backend='cpu')"
            )

    def asarray(self, w, name):
        require_device()
        if not is_device_array(w):
            return cuda.to_device(as_float_array(w, name, check_finite=False), stream=stream())
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
        view = as_device_array(view)
        if tuple(view.shape) != shape:
            raise ValueError(f"out has shape {tuple(view.shape)}, expected {shape}")
        if view.dtype != dtype:
            raise TypeError(f"out has dtype {view.dtype}, expected {dtype}")
        if not view.is_c_contiguous():
            raise ValueError("out must be C-contiguous")
        return view

    def scale(self, a, name, size, lam, l1, check_finite):
        """The call's weights on the device (:mod:`wsprox.cuda.weights`), from one
        cooperative launch; read back only to check them (``check_finite``)."""
        if a.size == 0:
            return None                   # nothing to prox
        flat = a.reshape(a.size)
        run, result, weights = plan(("backend.scale", a.size, a.dtype, *launch_key()),
                                    lambda: _scale_plan(flat, lam, l1))
        run(flat, lam, l1, result, weights)
        if check_finite:
            first, _ = _read_back(result)
            if first != a.size:
                first = int(first)
                value = float(flat[first:first + 1].copy_to_host()[0])
                raise ValueError(non_finite_message(name, tuple(a.shape), first, value))
        return weights

    def to_rows(self, a, axis, dtype):
        n, d = rows_shape(tuple(a.shape), axis)
        if a.dtype == dtype and (axis is None or axis == a.ndim - 1):
            return a.reshape(n, d)
        rows = scratch("backend.rows", (n, d), dtype)
        if n * d:
            launch(_to_rows, *grid_1d(n * d))(a.reshape(_three_axes(tuple(a.shape), axis)), rows)
        return rows

    def rows_view(self, target, axis):
        if axis is not None and axis != target.ndim - 1:
            return None
        return target.reshape(rows_shape(tuple(target.shape), axis))

    def empty(self, shape, dtype):
        owner, index = self._owner()
        if owner == "torch":
            torch = _module("torch")
            t = torch.empty(shape, dtype=getattr(torch, np.dtype(dtype).name), device=f"cuda:{index}")
            return as_device_array(t)
        if owner == "cupy":
            return as_device_array(_module("cupy").empty(shape, dtype=dtype))
        return cuda.device_array(shape, dtype=dtype, stream=stream())

    def _owner(self):
        # (owner, device index) of the call in progress on this thread (see call()).
        return getattr(self._local, "owner", None) or (None, None)

    def prox_rows(self, solve, rows, lam, l1, out, labels=None, warm=None, scale=None):
        """``scale``: the call's device weights (:meth:`scale`)."""
        if solve is self.solvers["pava"] and rows.shape[1] <= short_rows.MAX_D:
            return short_rows.prox_short_rows(rows, lam, l1, out, labels, weights=scale)
        return prox_rows(solve, rows, lam, l1, out, labels, self._owner()[0], weights=scale)

    def from_rows(self, rows, shape, axis, target=None):
        if (axis is None or axis == len(shape) - 1) and (target is None or target.dtype == rows.dtype):
            x = rows.reshape(shape)
            if target is None:
                return x
            target.copy_to_device(x, stream=stream())
            return target
        x = target if target is not None else self.empty(shape, rows.dtype)
        if rows.size:
            launch(_from_rows, *grid_1d(rows.size))(rows, x.reshape(_three_axes(shape, axis)))
        return x

    def wrap(self, x, w, out):
        if not is_device_array(w):        # host in, host out
            host = _read_back(x)
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
        return a if isinstance(a, np.ndarray) else _read_back(a)

    def from_host(self, target, host):
        target.copy_to_device(host, stream=stream())


_external = {}
_pinned = threading.local()
_PINNED = 64     # entries of a read-back that go through the thread's pinned buffer


def _module(name):
    return sys.modules[name]


def _sort_owner():
    # Whose device argsort ranks the rows of a Numba or host array: PyTorch's or
    # CuPy's (CUB radix sorts) where one is loaded with a GPU, else wsprox's
    # bitonic network. (A torch or CuPy input is sorted by its own library.)
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return "torch"
    return "cupy" if "cupy" in sys.modules else None


def _owner_stream(owner, index):
    # The owner's current stream on device ``index``, as a Numba stream (one object per handle).
    if owner == "torch":
        handle = _module("torch").cuda.current_stream(index).cuda_stream
    else:
        handle = _module("cupy").cuda.get_current_stream().ptr
    if not handle:
        return 0
    key = (index, handle)
    if key not in _external:
        _external[key] = cuda.external_stream(handle)
    return _external[key]


def _scale_plan(flat, lam, l1):
    # The launch of the check and its result and weights, for calls on arrays of flat's size and dtype.
    result = scratch("backend.check", (2,), np.float64)
    weights = scratch("backend.weights", (4,), np.float64)
    return grid_launcher(_weigh, flat.size, flat, lam, l1, result, weights), result, weights


def _read_back(a):
    # A device array's values on the host once the call's stream (only) has
    # reached them; a small one through a pinned buffer of the thread.
    if a.size == 0:
        return np.empty(a.shape, dtype=a.dtype)
    s = stream()
    if a.size > _PINNED:
        host = a.copy_to_host(stream=s)
    else:
        buffers = _pinned.__dict__
        if a.dtype not in buffers:
            buffers[a.dtype] = cuda.pinned_array(_PINNED, dtype=a.dtype)
        host = buffers[a.dtype][:a.size].reshape(a.shape)
        a.copy_to_host(host, stream=s)
    if s != 0:
        s.synchronize()
    return host if a.size > _PINNED else host.copy()


#: The CUDA backend of :func:`wsprox.prox`.
BACKEND = CUDABackend()

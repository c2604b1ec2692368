r"""The CUDA side of the front door: :func:`wsprox.prox` with ``backend="cuda"``.

:func:`prox_host_rows` serves NumPy inputs (validated on the host, copied to
the device and back); :func:`prox_device` serves device arrays (anything with
``__cuda_array_interface__``: Numba device arrays, CuPy arrays, PyTorch CUDA
tensors), entirely on the device: the input is copied into ``(n, d)`` rows of
the result dtype by a kernel, checked for NaN and infinity by a reduction
kernel (only the offending index comes back), proxed, and written back into a
device array of the input's kind (CuPy in, CuPy out; torch in, torch out; else
a Numba device array) or into ``out``.
"""
import math

import numpy as np

from .._validation import result_dtype
from . import _device
from ._device import as_device_array, cuda, require_device
from .pipeline import prox_rows

__all__ = ["prox_host_rows", "prox_device", "owner_of"]

_THREADS = 128


def owner_of(obj):
    """The library of a device array: ``"cupy"``, ``"torch"`` or ``"numba"``.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.cuda import _device
    >>> from wsprox.cuda.front import owner_of
    >>> owner_of(_device.cuda.to_device(np.ones(2)))
    'numba'
    """
    return type(obj).__module__.split(".")[0]


def prox_host_rows(solve, rows, lam, l1, out_rows, labels=None):
    """:func:`wsprox.cpu.prox_rows` on the device for host (NumPy) rows.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.cuda import SOLVERS
    >>> from wsprox.cuda.front import prox_host_rows
    >>> out = np.empty((1, 3))
    >>> _ = prox_host_rows(SOLVERS["pava"], np.array([[0.0, 1.0, 10.0]]), 2.0, 0.0, out)
    >>> out
    array([[1.5, 1.5, 8. ]])
    """
    require_device()
    d_rows = cuda.to_device(rows)
    d_out = cuda.device_array(out_rows.shape, dtype=out_rows.dtype)
    d_labels = None if labels is None else cuda.device_array(labels.shape, dtype=np.int64)
    counts, rounds = prox_rows(solve, d_rows, lam, l1, d_out, d_labels)
    d_out.copy_to_host(out_rows)
    if labels is not None:
        d_labels.copy_to_host(labels)
    return counts.copy_to_host(), rounds.copy_to_host()


@cuda.jit
def _to_rows(src, rows):
    # src is (A, d, B): rows[a * B + b, k] = src[a, k, b], cast to rows' dtype.
    a_, d, b_ = src.shape
    f = cuda.grid(1)
    if f < a_ * d * b_:
        r = f // d
        k = f - r * d
        a = r // b_
        rows[r, k] = src[a, k, r - a * b_]


@cuda.jit
def _from_rows(rows, dst):
    a_, d, b_ = dst.shape
    f = cuda.grid(1)
    if f < a_ * d * b_:
        r = f // d
        k = f - r * d
        a = r // b_
        dst[a, k, r - a * b_] = rows[r, k]


@cuda.jit
def _first_nonfinite(rows, b_, first):
    # The smallest flat (C-order) index into the (A, d, B) input of a NaN or
    # infinity in rows[a * B + b, k].
    n, d = rows.shape
    f = cuda.grid(1)
    if f < n * d:
        r = f // d
        k = f - r * d
        v = rows[r, k]
        if math.isnan(v) or math.isinf(v):
            a = r // b_
            cuda.atomic.min(first, 0, (a * d + k) * b_ + r - a * b_)


def _grid(size):
    threads = min(size, _THREADS)
    return (size + threads - 1) // threads, threads


def _three_axes(shape, axis):
    size = math.prod(shape)
    if axis is None:
        return (1, size, 1)
    return (math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:]))


def _as_numba(obj, owner):
    # A Numba view of a device array (a torch tensor detached: same memory).
    return as_device_array(obj.detach() if owner == "torch" else obj)


def _contiguous(w, owner):
    if owner == "torch":
        return w.detach().contiguous()
    if owner == "cupy":
        import cupy

        return cupy.ascontiguousarray(w)
    return w


def _wrap(dev, like, owner):
    # A device array as the kind of object the caller passed.
    if owner == "cupy":
        import cupy

        return cupy.asarray(dev)
    if owner == "torch":
        import torch

        return torch.as_tensor(dev, device=like.device)
    return dev


def prox_device(solve, w, lam, l1, axis, out, want_labels):
    """The prox of the device array ``w``, computed and returned on the device.

    ``axis`` is normalised by the caller (:func:`wsprox.prox`), ``lam`` and
    ``l1`` validated. Returns ``(x, labels, n_clusters, rounds)``: ``x`` and
    ``labels`` device arrays of ``w``'s kind (``labels`` None unless
    ``want_labels``), ``n_clusters`` and ``rounds`` host int64 arrays over the
    rows (None unless ``want_labels``).

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.cuda import SOLVERS, _device
    >>> from wsprox.cuda.front import prox_device
    >>> w = _device.cuda.to_device(np.array([0.0, 1.0, 10.0]))
    >>> x, _, _, _ = prox_device(SOLVERS["pava"], w, 2.0, 0.0, None, None, False)
    >>> x.copy_to_host()
    array([1.5, 1.5, 8. ])
    """
    require_device()
    owner = owner_of(w)
    w = _contiguous(w, owner)
    dw = _as_numba(w, owner)
    if dw.dtype.kind not in "biuf":
        raise TypeError(f"w must hold real numbers (bool, integer or floating), got dtype {dw.dtype}")
    if not dw.is_c_contiguous():
        raise ValueError("w: a Numba device array must be C-contiguous for backend='cuda'")
    dtype = result_dtype(dw.dtype)
    shape = tuple(dw.shape)
    dims = _three_axes(shape, axis)
    n, d = dims[0] * dims[2], dims[1]
    target = None
    if out is not None:
        target = _check_out(out, shape, dtype)
    if n * d == 0:
        x = cuda.device_array(shape, dtype=dtype) if target is None else target
        labels = cuda.device_array(shape, dtype=np.int64) if want_labels else None
        empty = np.zeros(n, dtype=np.int64)
        return _finish(x, labels, out, w, owner, empty, empty, want_labels)
    src = dw.reshape(dims)
    rows = cuda.device_array((n, d), dtype=dtype)
    _to_rows[_grid(n * d)](src, rows)
    _check_finite(rows, shape, dims)
    out_rows = rows  # the prox overwrites its own copy of the input
    labels_rows = cuda.device_array((n, d), dtype=np.int64) if want_labels else None
    counts, rounds = prox_rows(solve, rows, lam, l1, out_rows, labels_rows, _sort_owner(owner))
    x = target if target is not None else cuda.device_array(shape, dtype=dtype)
    _from_rows[_grid(n * d)](out_rows, x.reshape(dims))
    labels = None
    if want_labels:
        labels = cuda.device_array(shape, dtype=np.int64)
        _from_rows[_grid(n * d)](labels_rows, labels.reshape(dims))
        counts, rounds = counts.copy_to_host(), rounds.copy_to_host()
    return _finish(x, labels, out, w, owner, counts, rounds, want_labels)


def _sort_owner(owner):
    return owner if owner in ("cupy", "torch") else None


def _finish(x, labels, out, w, owner, counts, rounds, want_labels):
    x = out if out is not None else _wrap(x, w, owner)
    if want_labels:
        labels = _wrap(labels, w, owner)
    return x, labels, counts, rounds


def _check_out(out, shape, dtype):
    owner = owner_of(out)
    if not (getattr(out, "is_cuda", False) if owner == "torch" else _device.is_device_array(out)):
        raise TypeError(f"out must be a device array like w, got {type(out).__name__}")
    d_out = _as_numba(out, owner)
    if tuple(d_out.shape) != shape:
        raise ValueError(f"out has shape {tuple(d_out.shape)}, expected {shape}")
    if d_out.dtype != dtype:
        raise TypeError(f"out has dtype {d_out.dtype}, expected {dtype}")
    if not d_out.is_c_contiguous():
        raise ValueError("out must be C-contiguous")
    return d_out


def _check_finite(rows, shape, dims):
    first = cuda.to_device(np.array([rows.size], dtype=np.int64))
    _first_nonfinite[_grid(rows.size)](rows, dims[2], first)
    flat = int(first.copy_to_host()[0])
    if flat == rows.size:
        return
    a, rest = divmod(flat, dims[1] * dims[2])
    k, b = divmod(rest, dims[2])
    r = a * dims[2] + b
    value = rows[r, k:k + 1].copy_to_host()[0]
    index = np.unravel_index(flat, shape) if shape else ()
    index = int(index[0]) if len(shape) == 1 else tuple(int(i) for i in index)
    what = "NaN" if np.isnan(value) else ("+inf" if value > 0 else "-inf")
    raise ValueError(f"w contains {what} at index {index}; all entries must be finite")

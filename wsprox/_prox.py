r"""The front door: :func:`prox` and :func:`prox_result`.

Validates the input, reshapes it into rows, and dispatches on the backend and
the method to the kernels of :mod:`wsprox.cpu` or :mod:`wsprox.cuda` (imported
only when asked for: ``backend="cuda"``, or a device array with ``"auto"``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import cpu
from ._rows import from_rows, rows_view, to_rows
from ._validation import (
    as_float_array,
    check_choice,
    check_penalty_weight,
    finite_magnitude,
    normalize_axis,
    overflow_scale,
    result_dtype,
)
from .warm import ProxState

__all__ = ["ProxResult", "prox", "prox_result", "BACKENDS"]

#: Backend names accepted by ``backend=``.
BACKENDS = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class ProxResult:
    """The prox and the weight sharing it found.

    Attributes
    ----------
    x : ndarray
        The prox, of the input's shape and result dtype.
    labels : ndarray of int64
        The cluster of every entry, numbered ``0..K-1`` by increasing value
        (per slice when ``axis`` is given); entries of equal value share one.
    n_clusters : int or ndarray of int64
        ``K``, the number of distinct values (shared weights); an array over
        the slices when ``axis`` is given.
    rounds : int
        Iterations or parallel rounds of the collision algorithm (the most
        over the slices): ``d`` for PAVA, iterations (one per cluster) for
        end collisions, rounds for imminent collisions, binary-search steps
        summed over the levels for search collisions.
    method : str
        The collision algorithm that ran (``"auto"`` resolved).
    backend : str
        Where it ran (``"auto"`` resolved).

    Examples
    --------
    >>> import wsprox
    >>> res = wsprox.prox_result([0.0, 1.0, 10.0], 2.0)
    >>> res.x, res.labels, res.n_clusters
    (array([1.5, 1.5, 8. ]), array([0, 0, 1]), 2)
    """

    x: np.ndarray
    labels: np.ndarray
    n_clusters: int | np.ndarray
    rounds: int
    method: str
    backend: str


def prox(w, lam, *, l1=0.0, method="auto", backend="auto", axis=None, out=None, warm=None):
    r"""The exact proximal operator of :math:`\lambda R + \ell_1 \|\cdot\|_1`.

    .. math::

        \operatorname{prox}(w) = \arg\min_x \tfrac12\|x - w\|^2
            + \lambda R(x) + \ell_1 \|x\|_1,
        \qquad R(x) = \frac{1}{d-1}\sum_{i>j}|x_i - x_j|.

    Parameters
    ----------
    w : array_like
        Real, finite values (any shape, lists, views and read-only arrays
        accepted; never modified unless passed as ``out`` too).
    lam : float
        Weight of the weight-sharing penalty, finite and ``>= 0``.
    l1 : float, optional
        Weight of the L1 penalty, finite and ``>= 0``. The prox of the sum is
        the prox of :math:`\lambda R` soft-thresholded by ``l1``.
    method : str, optional
        The collision algorithm: ``"pava"``, ``"end_collisions"``,
        ``"imminent_collisions"``, ``"search_collisions"`` (those of the
        backend), or ``"auto"`` (the fastest exact method of the backend).
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute; ``"auto"`` picks CUDA for device arrays (objects
        with ``__cuda_array_interface__``: CuPy, PyTorch CUDA tensors, Numba)
        and the CPU for host arrays. ``"cuda"`` copies a NumPy input to the
        device and the prox back; a device input stays on the device and the
        prox is returned as the same kind of array. Without a GPU it raises
        a RuntimeError unless Numba's CUDA simulator is enabled
        (``NUMBA_ENABLE_CUDASIM=1`` before Numba is imported).
    axis : int or None, optional
        ``None`` (default) treats ``w`` as one flattened vector, the paper's
        use for the weights of a layer; an integer applies the prox to every
        1-D slice along that axis independently.
    out : ndarray or device array, optional
        Array of ``w``'s shape and result dtype to write the prox into (a
        device array when ``w`` is one); it may be ``w`` itself for an
        in-place prox.
    warm : ProxState, optional
        Warm start for repeated calls on slowly changing weights: the state
        remembers this call's order and the next call repairs it instead of
        sorting from scratch (same exact result; CPU backend).

    Returns
    -------
    ndarray
        The prox, of ``w``'s shape; float32 stays float32, float64 stays
        float64, integer and bool inputs give float64.

    Raises
    ------
    ValueError
        NaN or infinity in ``w`` (the message names the first index), ``lam``
        or ``l1`` negative or not finite, an unknown ``method`` or
        ``backend``, an axis out of range, or ``out`` of the wrong shape.
    TypeError
        ``w`` complex, object or string; ``lam`` not a real scalar; ``out``
        not a writeable array of the result dtype; ``warm`` not a
        :class:`ProxState`.

    Notes
    -----
    With ``x = sort(w)`` and velocities :math:`v_k = \lambda(d+1-2k)/(d-1)`,
    the sorted prox is the isotonic regression of :math:`z = x + v`: unit
    particles at :math:`x_k` moving at :math:`v_k` collide inelastically and
    the prox is where they are at time 1. The order of ``w`` is kept, ties
    stay tied, and the mean is kept (``l1 = 0``). Cost: one sort,
    :math:`O(d \log d)`, plus :math:`O(d)` for PAVA.

    Examples
    --------
    >>> import numpy as np, wsprox
    >>> wsprox.prox([0.0, 1.0, 10.0], 0.5)
    array([0.5, 1. , 9.5])
    >>> wsprox.prox([0.0, 1.0, 10.0], 2.0)   # the two small weights now share a value
    array([1.5, 1.5, 8. ])
    >>> wsprox.prox(np.array([[3.0, -3.0], [1.0, 2.0]], dtype=np.float32), 1.0, axis=1)
    array([[ 2. , -2. ],
           [ 1.5,  1.5]], dtype=float32)
    """
    return _prox(w, lam, l1, method, backend, axis, out, warm, want_labels=False).x


def prox_result(w, lam, *, l1=0.0, method="auto", backend="auto", axis=None, out=None, warm=None):
    """Like :func:`prox`, but also return the clusters: a :class:`ProxResult`.

    Parameters and errors are those of :func:`prox`.

    Examples
    --------
    >>> import wsprox
    >>> res = wsprox.prox_result([4.0, 0.0, 1.0, 4.0], 1.0)
    >>> res.x
    array([3.33333333, 1.        , 1.33333333, 3.33333333])
    >>> res.labels, res.n_clusters
    (array([2, 0, 1, 2]), 3)
    """
    return _prox(w, lam, l1, method, backend, axis, out, warm, want_labels=True)


def _on_device(w):
    # PyTorch CUDA tensors (whose __cuda_array_interface__ raises while they
    # require grad), CuPy and Numba's (and its simulator's) device arrays.
    module = type(w).__module__
    if module.split(".")[0] == "torch":
        return bool(getattr(w, "is_cuda", False))
    return hasattr(w, "__cuda_array_interface__") or module.startswith("numba.cuda")


def _prox(w, lam, l1, method, backend, axis, out, warm, *, want_labels):
    lam = check_penalty_weight(lam, "lam")
    l1 = check_penalty_weight(l1, "l1")
    backend = check_choice(backend, "backend", BACKENDS)
    if backend == "auto":
        backend = "cuda" if _on_device(w) else "cpu"
    if backend == "cuda":
        from . import cuda as kernels
    else:
        kernels = cpu
    method = check_choice(method, "method", ("auto", *kernels.SOLVERS))
    if backend == "cuda" and _on_device(w):
        return _prox_on_device(w, lam, l1, method, axis, out, want_labels)
    a = as_float_array(w, check_finite=False)
    magnitude = finite_magnitude(a, "w")
    axis = normalize_axis(axis, a.ndim)
    dtype = result_dtype(a.dtype)
    _check_out(out, a.shape, dtype)
    if warm is not None and not isinstance(warm, ProxState):
        raise TypeError(f"warm must be a wsprox.ProxState, got {type(warm).__name__}")

    rows = to_rows(a, axis)
    if method == "auto":
        method = kernels.auto_method(rows.shape[0])
    target = rows_view(out, axis) if out is not None else None
    out_rows = target if target is not None else np.empty(rows.shape, dtype=dtype)
    labels = np.empty(rows.shape, dtype=np.int64) if want_labels else None
    if rows.size:
        scale = overflow_scale(magnitude, rows.size, lam, l1)
        if scale != 1.0:
            rows, lam, l1 = rows * scale, lam * scale, l1 * scale
        if backend == "cuda":
            n_clusters, rounds = kernels.prox_host_rows(
                kernels.SOLVERS[method], rows, lam, l1, out_rows, labels
            )
        else:
            n_clusters, rounds = cpu.prox_rows(
                cpu.SOLVERS[method], rows, lam, l1, out_rows, labels, warm=warm
            )
        if scale != 1.0:
            out_rows /= scale
    else:
        n_clusters = rounds = np.zeros(rows.shape[0], dtype=np.int64)

    x = from_rows(out_rows, a.shape, axis)
    if out is not None:
        if target is None:
            np.copyto(out, x)
        x = out
    labels = from_rows(labels, a.shape, axis) if want_labels else None
    return _result(x, labels, n_clusters, rounds, a.shape, axis, method, backend)


def _prox_on_device(w, lam, l1, method, axis, out, want_labels):
    from . import cuda

    shape = tuple(w.shape)
    axis = normalize_axis(axis, len(shape))
    if method == "auto":
        method = cuda.auto_method(1 if axis is None else math.prod(shape) // max(shape[axis], 1))
    x, labels, n_clusters, rounds = cuda.prox_device(
        cuda.SOLVERS[method], w, lam, l1, axis, out, want_labels
    )
    return _result(x, labels, n_clusters, rounds, shape, axis, method, "cuda")


def _result(x, labels, n_clusters, rounds, shape, axis, method, backend):
    if labels is None:
        return ProxResult(x, None, None, None, method, backend)
    batch_shape = shape[:axis] + shape[axis + 1:] if axis is not None else None
    return ProxResult(
        x=x,
        labels=labels,
        n_clusters=int(n_clusters.max(initial=0)) if axis is None else n_clusters.reshape(batch_shape),
        rounds=int(rounds.max(initial=0)),
        method=method,
        backend=backend,
    )


def _check_out(out, shape, dtype):
    if out is None:
        return
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a NumPy array, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}, expected {shape}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, expected {dtype}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")

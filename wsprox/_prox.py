r"""The front door: :func:`prox` and :func:`prox_result`.

Written once for every backend and every kind of array (the steps are those
of :mod:`wsprox._backend`): the arguments are validated, the backend is
picked (``backend="auto"``: CUDA for a device array, else the CPU), and the
backend checks and converts the arrays, proxes the rows and hands the result
back as the kind of array that came in.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._backend import BACKENDS, METHODS, get_backend, is_device_array
from ._rows import from_rows, to_rows
from ._validation import check_choice, check_penalty_weight, check_warm, normalize_axis, rows_shape
from .core.validation import as_float_array, compute_dtype, result_dtype
from .cpu.small import SMALL_MAX, prox_small, still_ascending
from .derivatives import check_direction, linearize
from .warm import ProxState

__all__ = ["BACKENDS", "ProxResult", "prox", "prox_result"]


@dataclass(frozen=True)
class ProxResult:
    r"""The prox, the weight sharing it found, and its derivatives.

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
    lam, l1 : float
        The weights of the penalties, as given.
    axis : int or None
        The axis of the slices (normalised to ``0..ndim-1``), or None for
        one flattened vector.

    Notes
    -----
    :meth:`vjp` and :meth:`jvp` are the exact derivatives of the prox, from
    ``labels`` and ``x`` alone (:mod:`wsprox.derivatives` has the formulas
    and what they give at ties and kinks): within each slice, the Jacobian
    averages over every cluster that ``l1`` does not threshold to 0,
    :math:`J = \sum_{G \text{ active}} 1_G 1_G^\top / |G|`, a cluster moves with
    :math:`\lambda` at the mean of its velocities
    :math:`(d + 1 - 2k)/(d - 1)` and with :math:`\ell_1` at
    :math:`-\operatorname{sign}(x_G)`, and the thresholded cluster does not move.

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
    lam: float
    l1: float
    axis: int | None

    def vjp(self, g):
        r"""The vector-Jacobian product: the gradients through the prox.

        Parameters
        ----------
        g : array_like
            The cotangent of ``x`` (the gradient of a loss with respect to
            the prox), real and finite, of ``x``'s shape.

        Returns
        -------
        grad_w : ndarray
            :math:`J^\top g = J g`, of ``x``'s shape and dtype: ``g``
            averaged over every cluster, 0 on the one that ``l1 > 0``
            thresholds to 0 (with ``l1 = 0`` a cluster at 0 is averaged
            like any other).
        grad_lam, grad_l1 : float
            :math:`g \cdot \partial x/\partial\lambda` and
            :math:`g \cdot \partial x/\partial\ell_1`, summed over every
            slice (one ``lam`` and one ``l1`` for all); at ``lam = 0`` or
            ``l1 = 0`` these are right derivatives.

        Raises
        ------
        ValueError
            ``g`` of another shape, or not finite.
        TypeError
            ``g`` not real, or ``x`` on a CUDA device (use
            :func:`wsprox.torch.prox` to differentiate on the device).

        Notes
        -----
        Computed in float64, :math:`O(d)` after the prox (scatter-adds over
        the labels, :func:`wsprox.derivatives.linearize`).

        Examples
        --------
        >>> import wsprox
        >>> res = wsprox.prox_result([0.0, 1.0, 10.0], 2.0)      # clusters {0, 1} and {2}
        >>> res.vjp([1.0, 0.0, 0.0])          # the gradient of x_1 in w, lam and l1
        (array([0.5, 0.5, 0. ]), 0.5, -1.0)
        """
        lin, rows = self._linearization("g", g)
        grad, grad_lam, grad_l1 = lin.vjp(rows)
        return self._from_rows(grad), float(grad_lam), float(grad_l1)

    def jvp(self, dw, *, dlam=0.0, dl1=0.0):
        r"""The Jacobian-vector product: how the prox moves with its arguments.

        Parameters
        ----------
        dw : array_like
            A change of the input ``w``, real and finite, of ``x``'s shape.
        dlam, dl1 : float, optional
            Changes of ``lam`` and ``l1`` (any sign; at ``lam = 0`` the
            derivative in ``lam`` is the right derivative).

        Returns
        -------
        ndarray
            :math:`J\,\delta w + \delta\lambda\, \partial x/\partial\lambda
            + \delta\ell_1\, \partial x/\partial\ell_1`, of ``x``'s shape
            and dtype.

        Raises
        ------
        ValueError, TypeError
            As :meth:`vjp`, for ``dw``; ``dlam`` or ``dl1`` not a finite
            real scalar.

        Examples
        --------
        >>> import wsprox
        >>> res = wsprox.prox_result([0.0, 1.0, 10.0], 2.0, l1=0.5)
        >>> res.jvp([0.0, 0.0, 0.0], dlam=1.0)       # the cluster of two rises, the top falls
        array([ 0.5,  0.5, -1. ])
        >>> res.jvp([0.0, 0.0, 0.0], dl1=1.0)        # both shrink toward 0
        array([-1., -1., -1.])
        """
        dlam = check_direction(dlam, "dlam")
        dl1 = check_direction(dl1, "dl1")
        lin, rows = self._linearization("dw", dw)
        return self._from_rows(lin.jvp(rows, dlam, dl1))

    def _linearization(self, name, v):
        # The linear piece (float64 rows) and v as float64 rows, checked.
        if is_device_array(self.x):
            raise TypeError(
                f"{name}: this prox lives on a CUDA device and ProxResult.{'vjp' if name == 'g' else 'jvp'} "
                "computes on the host; differentiate on the device with wsprox.torch.prox, or compute "
                "the prox with backend='cpu'"
            )
        x = np.asarray(self.x)
        v = as_float_array(v, name)
        if v.shape != x.shape:
            raise ValueError(f"{name} has shape {v.shape}, expected {x.shape} (the shape of x)")
        labels = to_rows(np.asarray(self.labels), self.axis)
        lin = linearize(labels, to_rows(x, self.axis).astype(np.float64), self.lam, l1=self.l1)
        return lin, to_rows(v, self.axis).astype(np.float64)

    def _from_rows(self, rows):
        x = np.asarray(self.x)
        return from_rows(rows, x.shape, self.axis).astype(x.dtype)


def prox(w: ArrayLike, lam: float, *, l1: float = 0.0, method: str = "auto", backend: str = "auto",
         axis: int | None = None, out: Any = None, warm: ProxState | None = None,
         check_finite: bool = True) -> Any:
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
        sorting from scratch (same exact result). CPU backend only: the CUDA
        backend raises a ValueError for a state. One state may be shared by
        threads (their calls take turns).
    check_finite : bool, optional
        ``True`` (default): NaN or infinity in ``w`` raises a ValueError
        naming its index, which on a CUDA device costs one wait for the
        device (the check's two numbers come back to the host).
        ``False`` (SciPy's name): no error and, on device input, no wait
        for the device and no copy to the host (the overflow scale is found
        and applied on the device); NaN or infinity anywhere in ``w`` then
        makes *every* entry of the result NaN (never a finite number), with
        one cluster per slice in :func:`prox_result`.

    Returns
    -------
    ndarray
        The prox, of ``w``'s shape; float16, float32 and float64 are kept
        (float16 is computed in float32 and rounded once), integer and bool
        inputs give float64. The kind of array of
        ``w``: NumPy for array-likes, a tensor for a PyTorch tensor (CPU or
        CUDA), CuPy for CuPy, a Numba device array for one (``out`` itself
        when given).

    Raises
    ------
    ValueError
        NaN or infinity in ``w`` (the message names the first index; not
        with ``check_finite=False``), ``lam``
        or ``l1`` negative or not finite, an unknown ``method`` or
        ``backend``, an axis out of range, ``out`` of the wrong shape, or
        ``warm`` with the CUDA backend.
    TypeError
        ``w`` complex, object or string; ``lam`` not a real scalar; ``out``
        not a writeable array of the result dtype; ``warm`` not a
        :class:`ProxState`; ``w`` a PyTorch tensor that requires grad.

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
    if (type(w) is np.ndarray and w.ndim == 1 and w.size <= SMALL_MAX and w.dtype.char in "fd"
            and axis is None and out is None and (warm is None or type(warm) is ProxState)
            and method in ("auto", "pava") and backend in ("auto", "cpu") and isinstance(check_finite, bool)):
        # A small plain vector: an argsort (or a warm state's order, where it still holds) and one
        # compiled call (wsprox.cpu.small), the general path's result bit for bit; anything unusual
        # in it takes the general path.
        lam, l1 = check_penalty_weight(lam, "lam"), check_penalty_weight(l1, "l1")
        x = np.empty_like(w)
        if warm is None:
            if prox_small(w, np.argsort(w), lam, l1, x) >= 0:
                return x
        else:
            with warm.lock:
                order = warm.order
                reused = order is not None and order.shape == (1, w.size) and still_ascending(w, order[0])
                order = order[0] if reused else np.argsort(w)
                if prox_small(w, order, lam, l1, x) >= 0:
                    warm.order, warm.reused = order.reshape(1, w.size), reused
                    return x
    return _prox(w, lam, l1, method, backend, axis, out, warm, check_finite, want_labels=False).x


def prox_result(w: ArrayLike, lam: float, *, l1: float = 0.0, method: str = "auto", backend: str = "auto",
                axis: int | None = None, out: Any = None, warm: ProxState | None = None,
                check_finite: bool = True) -> ProxResult:
    """Like :func:`prox`, but also return the clusters: a :class:`ProxResult`.

    Parameters and errors are those of :func:`prox`. On a CUDA device the
    labels stay there, but ``n_clusters`` and ``rounds`` are host numbers:
    they are read back, a wait for the device even with
    ``check_finite=False`` (:func:`prox` reads nothing back).

    Examples
    --------
    >>> import wsprox
    >>> res = wsprox.prox_result([4.0, 0.0, 1.0, 4.0], 1.0)
    >>> res.x
    array([3.33333333, 1.        , 1.33333333, 3.33333333])
    >>> res.labels, res.n_clusters
    (array([2, 0, 1, 2]), 3)
    """
    return _prox(w, lam, l1, method, backend, axis, out, warm, check_finite, want_labels=True)


def prox_labels(w, lam, *, l1=0.0, method="auto", axis=None, check_finite=True):
    """The prox of :func:`prox` and the labels of :func:`prox_result`, without
    the counts: on a CUDA device nothing comes back to the host (with
    ``check_finite=False``).

    Examples
    --------
    >>> prox_labels([0.0, 1.0, 10.0], 2.0)
    (array([1.5, 1.5, 8. ]), array([0, 0, 1]))
    """
    res = _prox(w, lam, l1, method, "auto", axis, None, None, check_finite, want_labels=True, want_counts=False)
    return res.x, res.labels


def _prox(w, lam, l1, method, backend, axis, out, warm, check_finite, *, want_labels, want_counts=True):
    if not isinstance(check_finite, bool):
        raise TypeError(f"check_finite must be a bool, got {type(check_finite).__name__}")
    lam = check_penalty_weight(lam, "lam")
    l1 = check_penalty_weight(l1, "l1")
    backend = check_choice(backend, "backend", BACKENDS)
    method = check_choice(method, "method", ("auto", *METHODS))
    warm = check_warm(warm)
    if backend == "auto":
        backend = "cuda" if is_device_array(w) else "cpu"
    be = get_backend(backend)
    be.check_warm(warm)
    with be.call(w):
        return _compute(be, w, lam, l1, method, backend, axis, out, warm, check_finite, want_labels, want_counts)


def _merge_equal_clusters(rows, labels):
    """Give one label to the neighbouring clusters of every row whose values in ``rows`` are equal.

    ``labels`` (``0..K-1`` by increasing value in each row) is renumbered in
    place; returns the number of clusters of every row. :math:`O(nd)`.

    Examples
    --------
    >>> labels = np.array([[0, 1, 2, 2]])
    >>> _merge_equal_clusters(np.array([[1.0, 2.0, 2.0, 2.0]]), labels), labels
    (array([2]), array([[0, 1, 1, 1]]))
    """
    n, d = rows.shape
    slots = (labels + d * np.arange(n)[:, None]).ravel()
    values = np.full(n * d, np.nan, rows.dtype)
    values[slots] = rows.ravel()
    values = values.reshape(n, d)
    renumber = np.zeros((n, d), np.int64)
    np.cumsum(values[:, 1:] != values[:, :-1], axis=1, out=renumber[:, 1:])
    labels[...] = renumber.ravel()[slots].reshape(n, d)
    return labels.max(axis=1, initial=-1) + 1


def _compute(be, w, lam, l1, method, backend, axis, out, warm, check_finite, want_labels, want_counts):
    a = be.asarray(w, "w")
    shape = tuple(a.shape)
    axis = normalize_axis(axis, len(shape))
    dtype, work = result_dtype(a.dtype), compute_dtype(a.dtype)    # what comes back, what is proxed
    target = be.check_out(out, w, shape, dtype)
    n, d = rows_shape(shape, axis)
    scale = be.scale(a, "w", n * d, lam, l1, check_finite)
    if method == "auto":
        method = be.auto_method(n, d)

    rows = be.to_rows(a, axis, work)
    out_rows = be.rows_view(target, axis) if target is not None and dtype == work else None
    copy_to = target if out_rows is None else None
    if out_rows is None:
        out_rows = be.empty((n, d), work)
        if copy_to is None and dtype != work:
            copy_to = be.empty(shape, dtype)      # the rows cast to the result dtype
    labels = be.empty((n, d), np.int64) if want_labels else None
    if n * d:
        n_clusters, rounds = be.prox_rows(be.solvers[method], rows, lam, l1, out_rows, labels, warm=warm,
                                          scale=scale)
        if want_labels and dtype != work:
            # Clusters whose values round to the same float16 become one: equal values, one label.
            host_labels = be.to_host(labels)
            n_clusters = _merge_equal_clusters(be.to_host(out_rows).astype(dtype), host_labels)
            be.from_host(labels, host_labels)
    x = be.wrap(be.from_rows(out_rows, shape, axis, copy_to), w, out)
    if not want_labels:
        return ProxResult(x, None, None, None, method, backend, lam, l1, axis)
    labels = be.wrap(be.from_rows(labels, shape, axis), w, None)
    if not want_counts:
        return ProxResult(x, labels, None, None, method, backend, lam, l1, axis)
    if n * d:
        n_clusters, rounds = be.to_host(n_clusters), be.to_host(rounds)
    else:
        n_clusters = rounds = np.zeros(n, dtype=np.int64)
    batch_shape = shape[:axis] + shape[axis + 1:] if axis is not None else None
    return ProxResult(
        x=x,
        labels=labels,
        n_clusters=int(n_clusters.max(initial=0)) if axis is None else n_clusters.reshape(batch_shape),
        rounds=int(rounds.max(initial=0)),
        method=method,
        backend=backend,
        lam=lam,
        l1=l1,
        axis=axis,
    )

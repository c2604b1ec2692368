r"""The backend interface: what :func:`wsprox.prox` asks of :mod:`wsprox.cpu` and :mod:`wsprox.cuda`.

The front door (:mod:`wsprox._prox`) is written once, for every backend and
every kind of array:

.. code-block:: text

    check lam, l1, backend, method, warm          (wsprox._validation: pure Python)
    with backend.call(w):                         the rest ordered with w's owner (CUDA: its stream)
    a      = backend.asarray(w)                   the backend's own array, real dtype
    target = backend.check_out(out, w, ...)       out checked before anything is computed
    s      = backend.scale(a, size, lam, l1, ...) one pass: NaN/inf named (or marked), the overflow scale
    rows   = backend.to_rows(a, axis, dtype)      (n, d) rows of the compute dtype
    backend.prox_rows(solve, rows, lam, l1, out_rows, labels, warm, s)
                                                  (1/s) prox of s rows with s lam, s l1: exact,
                                                  s is a power of two (1 in every ordinary case)
    x      = backend.wrap(backend.from_rows(out_rows, ...), w, out)

A backend is one :class:`Backend` object (``wsprox.cpu.BACKEND``,
``wsprox.cuda.BACKEND``); :func:`get_backend` imports it on first use, so
``import wsprox`` never imports :mod:`numba.cuda`. :func:`is_device_array`
is the one test of where an array lives.
"""
from __future__ import annotations

import abc
import contextlib
import importlib

from ._extras import require

__all__ = ["BACKENDS", "METHODS", "Backend", "get_backend", "is_device_array", "solvers"]

#: The collision algorithms, by method name: every backend has one module of
#: each name with a ``solve`` kernel.
METHODS = ("pava", "end_collisions", "imminent_collisions", "search_collisions")

#: Backend names accepted by ``backend=``.
BACKENDS = ("auto", "cpu", "cuda")


def is_device_array(obj) -> bool:
    """Whether ``obj`` lives on a CUDA device: a PyTorch CUDA tensor, an
    object with ``__cuda_array_interface__`` (CuPy, Numba), or a device array
    of Numba's CUDA simulator. Imports nothing.

    Examples
    --------
    >>> import numpy as np
    >>> is_device_array(np.ones(3)), is_device_array([1.0])
    (False, False)
    """
    module = type(obj).__module__
    if module.split(".")[0] == "torch":
        # A CUDA tensor that requires grad raises on __cuda_array_interface__.
        return bool(getattr(obj, "is_cuda", False))
    return hasattr(obj, "__cuda_array_interface__") or module.startswith("numba.cuda")


def solvers(package: str) -> dict:
    """``{method: package.<method>.solve}`` for every name of :data:`METHODS`.

    Examples
    --------
    >>> sorted(solvers("wsprox.cpu")) == sorted(METHODS)
    True
    """
    return {m: importlib.import_module(f"{package}.{m}").solve for m in METHODS}


def get_backend(name: str) -> Backend:
    """The backend called ``name`` (``"cpu"`` or ``"cuda"``), imported on first use.

    Examples
    --------
    >>> get_backend("cpu").name
    'cpu'
    """
    if name == "cuda":      # Numba's own numba.cuda is a stub without numba-cuda
        require("numba_cuda", extra="cuda", feature="backend='cuda'")
    return importlib.import_module(f"wsprox.{name}").BACKEND


class Backend(abc.ABC):
    """Where the prox is computed, and how its arrays go in and out.

    Arrays called *native* are the backend's own (NumPy arrays on the CPU,
    Numba device arrays on CUDA). Every method validates what it is given
    and raises the front door's errors (:class:`ValueError` or
    :class:`TypeError` naming the argument), so that nothing malformed
    reaches a kernel.

    Attributes
    ----------
    name : str
        ``"cpu"`` or ``"cuda"``.
    solvers : dict
        The collision kernels by method name (:data:`METHODS`), with the
        contract of :mod:`wsprox.cpu` or :mod:`wsprox.cuda`.
    """

    name: str
    solvers: dict

    def call(self, w):
        """A context manager around everything one call does with the input
        ``w`` (CUDA: the device, stream and memory pool of ``w``'s owner);
        by default nothing."""
        return contextlib.nullcontext()

    @abc.abstractmethod
    def auto_method(self, n_rows: int, d: int) -> str:
        """The method that ``method="auto"`` runs for ``n_rows`` rows of ``d``."""

    @abc.abstractmethod
    def check_warm(self, warm) -> None:
        """Raise unless ``warm`` (a validated ProxState or None) can be used here."""

    @abc.abstractmethod
    def asarray(self, w, name: str):
        """``w`` as a native array of a real dtype (bool, integer or floating);
        never a copy of a native array, never modified."""

    @abc.abstractmethod
    def check_out(self, out, w, shape: tuple, dtype):
        """Check ``out`` (None, or the caller's array for the result of the
        input ``w``); return a native view of it to write into, or None."""

    @abc.abstractmethod
    def scale(self, a, name: str, size: int, lam: float, l1: float, check_finite: bool):
        """The overflow scale of the call on the native array ``a`` of ``size``
        entries (:func:`wsprox.core.validation.overflow_scale` of its largest
        magnitude and the weights), in one pass over ``a``, as
        :meth:`prox_rows` takes it (the CPU: a float; CUDA: device memory,
        never read back unless ``check_finite``). ``check_finite``: a
        ValueError names the first NaN or infinity; else such an entry makes
        the scale mark the call, and :meth:`prox_rows` then writes NaN
        everywhere (and one cluster per row)."""

    @abc.abstractmethod
    def to_rows(self, a, axis, dtype):
        """C-contiguous ``(n, d)`` rows of ``a`` in ``dtype``: the slices along
        ``axis``, or one row for ``axis=None``; a view of ``a`` where no cast
        or copy is needed, and then only read."""

    @abc.abstractmethod
    def rows_view(self, target, axis):
        """A ``(n, d)`` C-contiguous view of the native ``target``, or None."""

    @abc.abstractmethod
    def empty(self, shape: tuple, dtype):
        """An uninitialised native array."""

    @abc.abstractmethod
    def prox_rows(self, solve, rows, lam: float, l1: float, out, labels=None, warm=None, scale=1.0):
        """Prox every row of ``rows`` into ``out`` (and the cluster labels into
        ``labels``) with the kernel ``solve``, by way of the overflow scale
        ``scale`` of :meth:`scale`: ``out = prox(scale rows) / scale`` with the
        weights ``scale lam``, ``scale l1`` (the labels before the division);
        returns ``(n_clusters, rounds)`` per row, native int64 arrays."""

    @abc.abstractmethod
    def from_rows(self, rows, shape: tuple, axis, target=None):
        """The inverse of :meth:`to_rows`: a native array of ``shape``, written
        into ``target`` when it is given (it is then returned)."""

    @abc.abstractmethod
    def wrap(self, x, w, out):
        """The result ``x`` as the caller expects it: ``out`` when given, else
        an array of the kind of the input ``w``."""

    @abc.abstractmethod
    def to_host(self, a):
        """A native array as a NumPy array (a NumPy array as it is)."""

    @abc.abstractmethod
    def from_host(self, target, host) -> None:
        """Write the NumPy array ``host`` into the native array ``target`` of its shape
        (nothing when they are the same array)."""

"""Work memory, kept from one call to the next: the host's and, by its hook, the device's.

A prox of ``d`` entries on the CPU needs four work arrays of ``d`` words
(sort keys, which later hold the clusters' sums, order, sorted values,
cluster starts), and a fifth on three threads or more (where the sorted runs
of the keys are merged: :func:`wsprox.cpu.keys.sort_keys`). Fresh memory is
expensive at these sizes: the operating system maps and zeroes every page on
first touch, which cost a quarter of the whole prox at ``d = 1e6`` when every
array was new. A :class:`Workspace` allocates each array once (with NumPy,
which asks for huge pages on large arrays, or with the allocator it is
given: the CUDA backend's device scratch is one too) and hands the same
memory back on later calls that fit in it.

Calls of :func:`wsprox.prox` without a :class:`wsprox.ProxState` use the
calling thread's default workspace, which keeps the arrays of the largest
call so far (about 32 bytes per entry, 40 on three threads or more), up to
:data:`DEFAULT_LIMIT` bytes, until :func:`release_workspace` or the thread's
end, as MKL and PyTorch's caching allocator keep theirs; a ``ProxState`` has
its own, unbounded, freed with it. A backend that keeps work memory of its
own registers how to free the calling thread's with :func:`on_release`.
"""
import math
import threading

import numpy as np

__all__ = ["DEFAULT_LIMIT", "Workspace", "default_workspace", "on_release", "release_workspace"]

#: Bytes the default workspace of a thread keeps at most (1 GiB: the work
#: arrays of a prox of about 3e7 entries); larger arrays are freed after use.
DEFAULT_LIMIT = 1 << 30


class Workspace:
    """Named work arrays, kept and reused while they are large enough.

    Parameters
    ----------
    limit : int, optional
        Bytes kept at most; an array that would go over it is handed out
        fresh and not kept. Default: no limit.
    empty : callable, optional
        The allocator, ``empty(size, dtype=...)``: :func:`numpy.empty`
        (default), or :func:`numba.cuda.device_array` for the device work
        arrays of :mod:`wsprox.cuda` (:func:`wsprox.cuda._device.scratch`).

    Examples
    --------
    >>> import numpy as np
    >>> work = Workspace()
    >>> a = work.array("keys", (2, 3), np.uint64)
    >>> b = work.array("keys", (1, 5), np.uint64)     # fits: the same memory
    >>> b.shape, np.shares_memory(a, b), work.nbytes
    ((1, 5), True, 48)
    >>> work.array("keys", (4, 3), np.uint64).shape   # larger: reallocated
    (4, 3)
    >>> work.nbytes
    96
    >>> small = Workspace(limit=64)
    >>> small.array("keys", (4, 3), np.uint64).shape, small.nbytes   # too large to keep
    ((4, 3), 0)
    """

    def __init__(self, limit=None, *, empty=np.empty):
        self._arrays = {}
        self.limit = limit
        self._empty = empty

    def array(self, name, shape, dtype):
        """A C-contiguous array of this shape and dtype in the memory called
        ``name``; its contents are undefined."""
        size = math.prod(shape)
        flat = self._arrays.get(name)
        if flat is None or flat.dtype != dtype or flat.size < size:
            self._arrays.pop(name, None)         # free the old memory first
            flat = self._empty(size, dtype=dtype)
            if self.limit is None or self.nbytes + flat.nbytes <= self.limit:
                self._arrays[name] = flat
        return flat[:size].reshape(shape)

    @property
    def nbytes(self):
        """Bytes held."""
        return sum(a.nbytes for a in self._arrays.values())

    def __repr__(self):
        return f"Workspace({', '.join(self._arrays)}; {self.nbytes} bytes)"


_local = threading.local()
_releases = []      # what the backends free on release_workspace, each for the calling thread


def default_workspace() -> Workspace:
    """The calling thread's workspace for prox calls without a ProxState.

    Examples
    --------
    >>> default_workspace() is default_workspace()
    True
    """
    if not hasattr(_local, "work"):
        _local.work = Workspace(DEFAULT_LIMIT)
    return _local.work


def release_workspace() -> None:
    """Free the work arrays that the calling thread's prox calls keep (host
    and, where the CUDA backend has run, device memory).

    Examples
    --------
    >>> import numpy as np, wsprox
    >>> _ = wsprox.prox_result(np.arange(1000.0), 1.0)    # the general pipeline (not the small-vector path)
    >>> default_workspace().nbytes > 0
    True
    >>> wsprox.release_workspace()
    >>> default_workspace().nbytes
    0
    """
    _local.work = Workspace(DEFAULT_LIMIT)
    for release in _releases:
        release()


def on_release(release) -> None:
    """Have :func:`release_workspace` call ``release()`` too, in the calling
    thread: how a backend frees the work memory it keeps of its own (the CUDA
    backend registers :func:`wsprox.cuda._device.release_scratch` when it is
    imported).

    Examples
    --------
    >>> freed = []
    >>> on_release(lambda: freed.append(True))
    >>> release_workspace()
    >>> freed
    [True]
    >>> _ = _releases.pop()      # (the example's hook, unregistered)
    """
    _releases.append(release)

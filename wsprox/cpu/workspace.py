"""Work arrays of the CPU pipeline, kept from one call to the next.

A prox of ``d`` entries needs four work arrays of ``d`` words (sort keys,
which later hold the block sums, order, sorted values, block starts). Fresh
memory is expensive at these sizes: the operating system maps and zeroes
every page on first touch, which cost a quarter of the whole prox at
``d = 1e6`` when every array was new. A :class:`Workspace` allocates each
array once (with NumPy, which asks for huge pages on large arrays) and hands
the same memory back on later calls that fit in it.

Calls of :func:`wsprox.prox` without a :class:`wsprox.ProxState` use the
calling thread's default workspace, which keeps the arrays of the largest
call so far (about 32 bytes per entry) until :func:`release_workspace` or
the thread's end, as MKL and PyTorch's caching allocator keep theirs; a
``ProxState`` has its own, freed with it.
"""
import math
import threading

import numpy as np

__all__ = ["Workspace", "default_workspace", "release_workspace"]


class Workspace:
    """Named work arrays, kept and reused while they are large enough.

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
    """

    def __init__(self):
        self._arrays = {}

    def array(self, name, shape, dtype):
        """A C-contiguous array of this shape and dtype in the memory called
        ``name``; its contents are undefined."""
        size = math.prod(shape)
        flat = self._arrays.get(name)
        if flat is None or flat.dtype != dtype or flat.size < size:
            self._arrays.pop(name, None)         # free the old memory first
            flat = self._arrays[name] = np.empty(size, dtype=dtype)
        return flat[:size].reshape(shape)

    @property
    def nbytes(self):
        """Bytes held."""
        return sum(a.nbytes for a in self._arrays.values())

    def __repr__(self):
        return f"Workspace({', '.join(self._arrays)}; {self.nbytes} bytes)"


_local = threading.local()


def default_workspace():
    """The calling thread's workspace for prox calls without a ProxState.

    Examples
    --------
    >>> default_workspace() is default_workspace()
    True
    """
    if not hasattr(_local, "work"):
        _local.work = Workspace()
    return _local.work


def release_workspace():
    """Free the work arrays that the calling thread's prox calls keep.

    Examples
    --------
    >>> import numpy as np, wsprox
    >>> _ = wsprox.prox(np.arange(1000.0), 1.0)
    >>> default_workspace().nbytes > 0
    True
    >>> wsprox.release_workspace()
    >>> default_workspace().nbytes
    0
    """
    _local.work = Workspace()

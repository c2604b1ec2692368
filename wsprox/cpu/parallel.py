"""Threading policy of the CPU backend: which passes run on several threads.

A ``parallel=True`` kernel wakes every thread of the pool and waits for the
last one at the end of each ``prange`` loop. On a busy machine a thread may
wait a whole scheduler time slice (milliseconds) for a core, which costs
more than a pass over a million entries. So a pass runs on all of Numba's
threads only when it has at least :data:`THREADED_MIN` entries
(:func:`threaded`), and then splits a single row among the threads or a
batch by rows (:func:`row_parts`). :func:`kernel` compiles a function twice,
threaded and serial (``prange`` is then ``range``), and the call picks the
threaded one only when its first argument is that large;
:func:`serial_unless_large` does the same for kernels that call other
parallel kernels. :func:`passive_openmp` asks OpenMP's idle workers to sleep
at once instead of spinning.
"""
import os
import types
from contextlib import contextmanager

from numba import get_num_threads, njit, set_num_threads

__all__ = ["THREADED_MIN", "kernel", "passive_openmp", "row_parts", "serial_unless_large", "threaded"]

#: Entries from which a pass runs on all of Numba's threads.
THREADED_MIN = 1 << 17


def threaded(size):
    """Whether a pass over ``size`` entries runs on several threads.

    Examples
    --------
    >>> threaded(1000)
    False
    """
    return size >= THREADED_MIN and get_num_threads() > 1


def row_parts(n, d):
    """Tasks per row of an ``(n, d)`` pass: a single large row is split
    among the threads, a batch is split by rows.

    Examples
    --------
    >>> row_parts(1, 1000)
    1
    """
    return max(1, get_num_threads() // n) if threaded(n * d) else 1


@contextmanager
def serial_unless_large(size):
    """Run Numba's parallel kernels on one thread unless a pass is large.

    For kernels that call other parallel kernels (the collision algorithms
    of :mod:`wsprox.cpu`), where :class:`kernel` cannot choose per call.

    Examples
    --------
    >>> import numba
    >>> with serial_unless_large(1000):
    ...     numba.get_num_threads()
    1
    """
    if threaded(size):
        yield
        return
    previous = get_num_threads()
    set_num_threads(1)
    try:
        yield
    finally:
        set_num_threads(previous)


def passive_openmp():
    """Ask OpenMP's idle workers to sleep at once (``OMP_WAIT_POLICY=PASSIVE``).

    After every parallel loop OpenMP's workers (Numba's threading layer here,
    and PyTorch's) spin for milliseconds by default before they sleep,
    holding a core. The ranking sorts on two Python threads right after
    parallel passes, so on a machine with few cores the spinning workers take
    a core from a sort: a prox of ``10^6`` entries takes about 30% longer
    on two cores. wsprox does not change the process's OpenMP policy on
    import (it would change PyTorch's too); ``python -m wsprox.bench`` and
    ``python -m paper_figures`` call this first, and users can set the
    variable themselves. A value already set is kept, and the call has no
    effect once an OpenMP runtime is loaded (Numba's first parallel call, or
    PyTorch's import): the runtime reads the variable when it loads.

    Examples
    --------
    >>> import os
    >>> passive_openmp()
    >>> os.environ["OMP_WAIT_POLICY"].upper()
    'PASSIVE'
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _renamed(fn, suffix):
    # A separate function object (own on-disk cache entry) with the same code.
    g = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix,
                           fn.__defaults__, fn.__closure__)
    g.__qualname__ = fn.__qualname__ + suffix
    g.__doc__ = fn.__doc__
    return g


class kernel:
    """Decorator: ``fn`` compiled threaded and serial, chosen per call.

    Examples
    --------
    The kernels of the CPU pipeline are defined with it (``@kernel`` in place
    of ``@njit(cache=True, parallel=True)``; functions defined interactively
    cannot be cached):

    >>> import numpy as np
    >>> from wsprox.cpu.repair import _is_sorted
    >>> _is_sorted.threaded.targetoptions["parallel"], "parallel" in _is_sorted.serial.targetoptions
    (True, False)
    >>> bool(_is_sorted(np.array([[1.0, 2.0, 2.0]]), 1))
    True
    """

    def __init__(self, fn):
        self.threaded = njit(cache=True, parallel=True)(fn)
        self.serial = njit(cache=True)(_renamed(fn, "_serial"))
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__

    def __call__(self, *args):
        return (self.threaded if threaded(args[0].size) else self.serial)(*args)

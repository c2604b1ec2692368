"""Threading policy of the CPU backend: which passes run on several threads, and how.

A pass runs on several threads only when it has at least :data:`THREADED_MIN`
entries (:func:`threaded`): below, waking threads costs more than the pass.
Then it runs on the one pool of :mod:`wsprox.cpu.pool`, as :data:`TASKS`
tasks per thread, claimed dynamically (so a busy core costs its share of the
work, not a wait for it): :func:`row_parts` cuts a single large row into
pieces and leaves a batch by rows, and :class:`kernel` compiles a pass
written over a range of tasks as a serial ``nogil`` kernel and runs chunks of
its tasks on the pool. No OpenMP worker is involved, so none spins beside
the sort, and nothing process-wide is changed.

The collision algorithms other than PAVA need many barriers inside one
kernel (a level of merges, a scan, a round of collisions) and stay Numba
``parallel=True`` kernels: :func:`serial_unless_large` runs them on one
OpenMP thread unless the pass is large. :func:`passive_openmp` asks OpenMP's
idle workers to sleep at once, for callers that time those algorithms.
"""
import os
from contextlib import contextmanager

from numba import get_num_threads, njit, set_num_threads

from .pool import run

__all__ = ["TASKS", "THREADED_MIN", "kernel", "passive_openmp", "row_parts", "serial_unless_large", "threaded"]

#: Entries from which a pass runs on several threads.
THREADED_MIN = 1 << 17

#: Tasks per thread of a threaded pass: enough that a thread without a core
#: leaves little work behind it for the others to wait on.
TASKS = 8


def threaded(size):
    """Whether a pass over ``size`` entries runs on several threads.

    Examples
    --------
    >>> threaded(1000)
    False
    """
    return size >= THREADED_MIN and get_num_threads() > 1


def row_parts(n, d):
    """Pieces per row of an ``(n, d)`` pass: a single large row is cut into
    about :data:`TASKS` pieces per thread (of at least ``THREADED_MIN / 8``
    entries), a batch of enough rows is split by rows.

    Examples
    --------
    >>> row_parts(1, 1000), row_parts(1000, 1000) == 1
    (1, True)
    """
    if not threaded(n * d):
        return 1
    return max(1, min(-(-TASKS * get_num_threads() // n), 8 * d // THREADED_MIN))


@contextmanager
def serial_unless_large(size):
    """Run Numba's parallel kernels on one thread unless a pass is large.

    For the collision algorithms of :mod:`wsprox.cpu` that are ``parallel=True``
    kernels (they call other parallel kernels, with barriers between them).

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

    After every parallel loop OpenMP's workers spin for milliseconds by
    default before they sleep, holding a core. The default pipeline (PAVA)
    uses no OpenMP worker (:mod:`wsprox.cpu.pool`); the other collision
    algorithms do, and on a machine with few cores the spinning workers then
    take a core from the passes after them. wsprox never changes the
    process's OpenMP policy (it would change PyTorch's too);
    ``python -m wsprox.bench --openmp passive`` and ``python -m
    paper_figures`` call this first. A value already set is kept, and the
    call has no effect once an OpenMP runtime is loaded.

    Examples
    --------
    >>> import os
    >>> passive_openmp()
    >>> os.environ["OMP_WAIT_POLICY"].upper()
    'PASSIVE'
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class kernel:
    """Decorator: a pass over a range of tasks, run in chunks on the pool.

    ``fn(lo, hi, *args)`` does tasks ``lo..hi-1`` of a pass (it must give the
    same result however the tasks are cut); it is compiled as a serial
    ``nogil`` Numba kernel, cached. ``k(tasks, *args)`` runs all the tasks:
    in one call when the pass is small (its first array, ``args[0]``, has
    fewer than :data:`THREADED_MIN` entries) or has one task, else in up to
    :data:`TASKS` chunks per thread on :func:`wsprox.cpu.pool.run`.

    Examples
    --------
    The kernels of the CPU pipeline are defined with it (functions defined
    interactively cannot be cached):

    >>> import numpy as np
    >>> from wsprox.cpu.repair import _is_sorted
    >>> bad = np.zeros(1, dtype=np.int64)
    >>> _is_sorted(1, np.array([[1.0, 2.0, 2.0]]), 1, bad)
    >>> _is_sorted.compiled.targetoptions["nogil"], int(bad[0])
    (True, 0)
    """

    def __init__(self, fn):
        self.compiled = njit(cache=True, nogil=True)(fn)
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        self.__wrapped__ = fn

    def __call__(self, tasks, *args):
        compiled = self.compiled
        if tasks <= 1 or not threaded(args[0].size):
            compiled(0, tasks, *args)
            return
        chunks = min(tasks, TASKS * get_num_threads())
        run(chunks, lambda c: compiled(c * tasks // chunks, (c + 1) * tasks // chunks, *args))

"""OpenMP policy of the CPU collision algorithms other than PAVA.

The passes of the pipeline run as tasks on the host pool
(:mod:`wsprox.core.pool`). The collision algorithms other than PAVA need many
barriers inside one kernel (a level of merges, a scan, a round of
collisions) and stay Numba ``parallel=True`` kernels: :func:`serial_unless_large`
runs them on one OpenMP thread unless the pass is large
(:func:`wsprox.core.pool.threaded`). :func:`passive_openmp` asks OpenMP's
idle workers to sleep at once, for callers that time those algorithms.
"""
import os
from contextlib import contextmanager

from numba import get_num_threads, set_num_threads

from ..core.pool import threaded

__all__ = ["passive_openmp", "serial_unless_large"]


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
    uses no OpenMP worker (:mod:`wsprox.core.pool`); the other collision
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

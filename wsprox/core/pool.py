r"""The worker threads of the passes over host arrays, and the passes written over them.

Every multi-threaded pass over host memory (the checks of the input, and the
CPU pipeline: the packed-key sort, the merges, the gathers, the settle, the
rows of a batch) is a list of independent *tasks* that :func:`run` hands to
one process-wide pool of Python worker threads. The tasks are serial
``nogil`` Numba kernels or NumPy's sort, which release the GIL, so the
threads run them at once; no OpenMP worker spins beside them, and nothing
process-wide (``OMP_WAIT_POLICY``, the number of OpenMP threads, which
PyTorch shares) is changed.

A pass runs on several threads only when it has at least :data:`THREADED_MIN`
entries (:func:`threaded`): below, waking threads costs more than the pass.
Then it runs as :data:`TASKS` tasks per thread, claimed dynamically (so a
busy core costs its share of the work, not a wait for it):
:func:`row_parts` cuts a single large row into pieces and leaves a batch by
rows, and :class:`kernel` compiles a pass written over a range of tasks as a
serial ``nogil`` kernel and runs chunks of its tasks on the pool.

Tasks are claimed one at a time from a shared counter, by the calling thread
too, and a call has several tasks per worker. On a busy machine a worker that
gets no core simply finds no task left, and the call costs what it costs on
one thread: the number of workers adapts to the cores actually free. Every
call also records how much of the work the workers did
(:func:`workers_keep_up`), so that the sort, whose runs are one per thread,
sorts whole on the caller while they do not keep up. A call uses ``numba.get_num_threads()`` threads (the
calling thread's Numba setting: ``NUMBA_NUM_THREADS``, the cores, or
:func:`numba.set_num_threads`), the caller included.

Several threads may call :func:`run` at once (their tasks share the
workers), a task may itself call :func:`run` (from a worker it then runs
inline: a worker never waits for other workers), and an exception raised by
a task is raised again in the caller once every task has ended.
"""
import os
import queue
import threading

from numba import get_num_threads, njit

__all__ = ["TASKS", "THREADED_MIN", "kernel", "row_parts", "run", "threaded", "workers_keep_up"]

#: Entries from which a pass runs on several threads.
THREADED_MIN = 1 << 17

#: Tasks per thread of a threaded pass: enough that a thread without a core
#: leaves little work behind it for the others to wait on.
TASKS = 8

_jobs = queue.SimpleQueue()     # one entry per worker asked to help with a job
_workers = []
_start = threading.Lock()
_local = threading.local()      # .worker: this thread is one of the pool's
_recent = [1.0]                 # how well the workers kept up in recent calls (see run)


class _Job:
    """``body(t)`` for ``t`` in ``range(n)``, the tasks claimed one at a time."""

    __slots__ = ("body", "claimed", "done", "error", "left", "lock", "n")

    def __init__(self, body, n):
        self.body, self.n = body, n
        self.claimed = 0
        self.left = n
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.error = None

    def work(self):
        ran = 0
        while True:
            with self.lock:
                t = self.claimed
                self.claimed += 1
            if t >= self.n:
                break
            try:
                self.body(t)
            except BaseException as exc:  # noqa: BLE001 -- raised again by the caller
                self.error = self.error or exc
            ran += 1
        if ran:
            with self.lock:
                self.left -= ran
                if self.left == 0:
                    self.done.set()
        return ran


def _serve():
    _local.worker = True
    while True:
        _jobs.get().work()


def _hire(k):
    with _start:
        while len(_workers) < k:
            thread = threading.Thread(target=_serve, name=f"wsprox-{len(_workers)}", daemon=True)
            thread.start()
            _workers.append(thread)


def _forget_workers():
    # A forked child has none of the parent's threads.
    global _jobs, _start
    _workers.clear()
    _jobs = queue.SimpleQueue()
    _start = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


def workers_keep_up():
    """Whether the pool's workers ran at least half their fair part of the tasks
    of recent calls (a running mean over calls, 1 when they ran all of it).

    On a busy machine the workers get no core and the caller runs most tasks
    itself; a pass that cannot hand its work out in many small tasks (the
    sort: one run per thread, then merges) then runs whole on the caller,
    at what it costs on one thread, instead of waiting for a worker that
    is not running.

    Examples
    --------
    >>> isinstance(workers_keep_up(), bool)
    True
    """
    return _recent[0] >= 0.5


def run(n, body, threads=None):
    """Call ``body(t)`` for every ``t`` in ``range(n)`` on the pool; return when all have.

    Parameters
    ----------
    n : int
        The number of tasks.
    body : callable
        ``body(t)``; tasks must be independent (they run in any order, at
        once) and should release the GIL (a ``nogil`` Numba kernel, NumPy's
        sort) to run in parallel.
    threads : int, optional
        Threads to use at most, the caller included (default:
        ``numba.get_num_threads()``). One thread, one task, or a call from a
        worker of the pool: the tasks run inline, in order.

    Raises
    ------
    Exception
        The first exception a task raised, once every task has ended.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.arange(8.0)[::-1].reshape(4, 2).copy()
    >>> run(4, lambda t: a[t].sort())
    >>> a
    array([[6., 7.],
           [4., 5.],
           [2., 3.],
           [0., 1.]])
    """
    k = min(n, get_num_threads() if threads is None else threads)
    if k <= 1 or getattr(_local, "worker", False):
        for t in range(n):
            body(t)
        return
    _hire(k - 1)
    job = _Job(body, n)
    for _ in range(k - 1):
        _jobs.put(job)
    mine = job.work()
    job.done.wait()
    # The workers' part of the tasks, against their fair part (k - 1) / k; 1 when they kept up.
    _recent[0] = 0.5 * _recent[0] + 0.5 * min(1.0, (n - mine) / n * k / (k - 1))
    if job.error is not None:
        raise job.error


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


class kernel:
    """Decorator: a pass over a range of tasks, run in chunks on the pool.

    ``fn(lo, hi, *args)`` does tasks ``lo..hi-1`` of a pass (it must give the
    same result however the tasks are cut); it is compiled as a serial
    ``nogil`` Numba kernel, cached. ``k(tasks, *args)`` runs all the tasks:
    in one call when the pass is small (its first array, ``args[0]``, has
    fewer than :data:`THREADED_MIN` entries) or has one task, else in up to
    :data:`TASKS` chunks per thread on :func:`run`.

    Examples
    --------
    The passes over host arrays are defined with it (functions defined
    interactively cannot be cached), as the one pass of the input check:

    >>> import numpy as np
    >>> from wsprox.core.validation import _extremes
    >>> lows, highs, bad = np.empty(1), np.empty(1), np.empty(1, dtype=np.int64)
    >>> _extremes(1, np.array([1.0, -3.0, 2.0]), lows, highs, bad)
    >>> _extremes.compiled.targetoptions["nogil"], float(lows[0]), float(highs[0]), int(bad[0])
    (True, -3.0, 2.0, 0)
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

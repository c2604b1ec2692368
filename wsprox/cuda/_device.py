"""The one module of wsprox that imports :mod:`numba.cuda`.

Everything else of :mod:`wsprox.cuda` takes ``cuda`` and the helpers from
here, and nothing imports this module before a CUDA computation is asked for,
so ``import wsprox`` works on machines without CUDA.

On a machine without a GPU the kernels run on Numba's CUDA simulator when the
environment variable ``NUMBA_ENABLE_CUDASIM=1`` is set *before* Numba is
imported (slow: one OS thread per CUDA thread, meant for testing).

Every kernel of :mod:`wsprox.cuda` is compiled with ``@cuda.jit(cache=True)``:
a new process loads it from Numba's disk cache (``__pycache__`` beside its
module, or ``NUMBA_CACHE_DIR``) instead of compiling it again (the simulator
ignores the option). Device functions are compiled into the kernels that call
them and need no cache of their own. As for Numba's CPU cache, an entry is
keyed by the kernel's own source file: in a checkout, an edit of a device
function in another file (:mod:`wsprox.cuda.hull`, the core's arithmetic:
:mod:`wsprox.core.clusters`) needs the stale entries deleted.

The device work memory (:func:`scratch`, :func:`plan`) is released with the
host's by :func:`wsprox.release_workspace`: this module registers
:func:`release_scratch` with :func:`wsprox.core.workspace.on_release`.
"""
import threading
import types
from contextlib import contextmanager

import numba
import numpy as np
from numba import cuda

from ..core.workspace import Workspace, on_release

__all__ = [
    "THREADS_PER_BLOCK",
    "as_device_array",
    "cuda",
    "grid_1d",
    "launch",
    "on_stream",
    "plan",
    "plans_built",
    "release_scratch",
    "require_device",
    "retarget",
    "scratch",
    "simulated",
    "stream",
    "synchronize",
    "threads_for",
    "workspace",
]

#: Threads per CUDA block of the cooperative grid kernels (end and imminent
#: collisions, the settle: :mod:`wsprox.cuda.grid`). Read at every launch, so
#: tests may lower it to run several chunks per block.
THREADS_PER_BLOCK = 256


def threads_for(d):
    """Threads for a block that owns a row of length ``d``: a power of two,
    at most :data:`THREADS_PER_BLOCK`, no more than the row needs.

    Examples
    --------
    >>> from wsprox.cuda._device import threads_for
    >>> threads_for(5), threads_for(10**6) <= 256
    (8, True)
    """
    t = 1
    while t < min(d, THREADS_PER_BLOCK):
        t *= 2
    return min(t, THREADS_PER_BLOCK)


def simulated():
    """Whether Numba runs CUDA kernels on its CPU simulator.

    Examples
    --------
    >>> from wsprox.cuda import simulated
    >>> isinstance(simulated(), bool)
    True
    """
    return bool(numba.config.ENABLE_CUDASIM)


def require_device():
    """Raise a RuntimeError unless a CUDA device (or the simulator) is usable.

    Examples
    --------
    >>> from wsprox.cuda import require_device
    >>> require_device()  # silent where CUDA (or its simulator) runs
    """
    if not cuda.is_available():
        raise RuntimeError(
            "backend='cuda': no CUDA device was found (numba.cuda.is_available() is False). "
            "To run the CUDA kernels on Numba's CPU simulator instead (slow, for testing), "
            "set the environment variable NUMBA_ENABLE_CUDASIM=1 before numba is imported."
        )


def grid_1d(size, threads=128):
    """``(blocks, threads)`` of a launch with one thread per item of ``size``.

    The launch geometry of every elementwise kernel of :mod:`wsprox.cuda`
    (``kernel[grid_1d(n)](...)``, then ``if cuda.grid(1) < n``).

    Examples
    --------
    >>> from wsprox.cuda._device import grid_1d
    >>> grid_1d(1000), grid_1d(5)
    ((8, 128), (1, 5))
    """
    threads = max(1, min(size, threads))
    return (size + threads - 1) // threads, threads


_local = threading.local()


def stream():
    """The CUDA stream this thread's wsprox kernels launch on (0: Numba's default).

    The front door sets it for the duration of a call to the stream of the
    array's owner (:func:`on_stream`), so that wsprox's kernels are ordered
    with the owner's work before and after them.

    Examples
    --------
    >>> from wsprox.cuda._device import stream
    >>> stream()
    0
    """
    return getattr(_local, "stream", 0)


@contextmanager
def on_stream(s):
    """Launch this thread's wsprox kernels on the stream ``s`` inside the ``with`` statement.

    Examples
    --------
    >>> from wsprox.cuda._device import on_stream, stream
    >>> with on_stream(0):
    ...     stream()
    0
    """
    previous = stream()
    _local.stream = s
    try:
        yield
    finally:
        _local.stream = previous


def as_device_array(obj):
    """A Numba view of the device array ``obj`` (``__cuda_array_interface__``),
    without the synchronisation of the exporter's stream that Numba makes by
    default: wsprox's kernels run on the owner's stream (:func:`stream`), so
    they are ordered after its work already. The view holds no stream either,
    so that handing it back to the owner (``cupy.asarray``, ``torch.as_tensor``)
    does not wait for one: an interface of version 3 with a stream asks the
    consumer to synchronise it.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.cuda._device import as_device_array, cuda
    >>> a = cuda.to_device(np.ones(2))
    >>> as_device_array(a) is a
    True
    """
    if cuda.devicearray.is_cuda_ndarray(obj):
        return obj
    view = cuda.as_cuda_array(obj, sync=False)
    view.stream = 0
    return view


def launch(kernel, blocks, threads, shared=0):
    """``kernel`` configured for ``blocks`` x ``threads`` on this thread's :func:`stream`,
    with ``shared`` bytes of dynamic shared memory: every wsprox launch goes through it.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.cuda._device import cuda, grid_1d, launch
    >>> @cuda.jit
    ... def double(a):
    ...     i = cuda.grid(1)
    ...     if i < a.size:
    ...         a[i] *= 2
    >>> a = cuda.to_device(np.arange(3.0))
    >>> launch(double, *grid_1d(a.size))(a)
    >>> a.copy_to_host()
    array([0., 2., 4.])
    """
    return kernel[blocks, threads, stream(), shared]


class _StreamState:
    # A thread's device memory and plans on one (device, stream).
    def __init__(self):
        self.workspace = Workspace(empty=cuda.device_array)
        self.plans = {}
        self.built = 0


def _state():
    key = (getattr(cuda.get_current_device(), "id", 0), stream())
    states = _local.__dict__.setdefault("states", {})
    if key not in states:
        states[key] = _StreamState()
    return states[key]


def workspace():
    """The device :class:`wsprox.core.workspace.Workspace` of the calling thread
    on the current device and :func:`stream`, where :func:`scratch` takes its arrays.

    One per (device, stream): memory of one device is never handed to a
    kernel on another, and a call on another stream never overwrites work
    arrays that kernels still queued on the first stream use (calls on one
    stream are ordered by it). A thread's first call on a new stream
    therefore allocates its work arrays afresh.

    Examples
    --------
    >>> from wsprox.cuda._device import workspace
    >>> workspace() is workspace()
    True
    """
    return _state().workspace


#: Plans a thread keeps per (device, stream), the first built dropped first: room for
#: the few plans of every parameter of a large model (a plan keeps its work arrays).
MAX_PLANS = 256


def plan(key, build):
    """The calling thread's plan ``key`` on the current device and :func:`stream`:
    ``build()`` the first time, the same object on later calls.

    A plan is what a call of a given shape prepares before it launches
    anything (the geometry of every launch, the occupancy of the cooperative
    ones, the work arrays from :func:`scratch`), bound once, so that a steady
    call only launches. ``key`` must name everything ``build`` reads: the
    module, the shape and dtypes, the module parameters that tests patch.
    A plan holds on to its work arrays: a later plan that needs a larger one
    gets new memory and the earlier plan keeps its own, so that plans of
    different shapes stay valid (at most :data:`MAX_PLANS` of them), until
    :func:`wsprox.release_workspace`.

    Examples
    --------
    >>> from wsprox.cuda._device import plan, plans_built
    >>> before = plans_built()
    >>> plan(("example", 3), lambda: [3]) is plan(("example", 3), lambda: [4])
    True
    >>> plans_built() - before
    1
    """
    state = _state()
    found = state.plans.get(key)
    if found is None:
        found = build()
        state.built += 1
        state.plans[key] = found
        if len(state.plans) > MAX_PLANS:
            del state.plans[next(iter(state.plans))]
    return found


def plans_built():
    """How many plans the calling thread has built on the current device and :func:`stream`."""
    return _state().built


def scratch(name, shape, dtype):
    """A device work array of the calling thread, kept from one call to the next.

    Every prox call on the device needs a dozen work arrays; a fresh
    :func:`numba.cuda.device_array` is a ``cuMemAlloc`` (and its free a
    synchronisation), so the kernels take them from the thread's
    :func:`workspace` of device memory instead, which hands the same memory
    back while it is large enough. ``name`` must be unique among the arrays
    alive at once (a module prefix: ``"sort.keys"``); the contents are
    undefined, and valid until the thread's next call on the same device and
    stream that asks for that name (a :func:`plan` keeps its own). :func:`wsprox.release_workspace`
    frees them.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.cuda._device import scratch
    >>> a = scratch("example.a", (2, 3), np.float64)
    >>> b = scratch("example.a", (5,), np.float64)      # fits: the same memory
    >>> a.shape, b.shape
    ((2, 3), (5,))
    """
    return workspace().array(name, shape, np.dtype(dtype))


def release_scratch():
    """Free the calling thread's device work arrays (:func:`scratch`) and
    plans (:func:`plan`), on every device and stream.

    Examples
    --------
    >>> from wsprox.cuda._device import release_scratch
    >>> release_scratch()
    """
    _local.states = {}


on_release(release_scratch)


def synchronize():
    """Wait for every kernel launched so far (for timings).

    Examples
    --------
    >>> from wsprox.cuda import synchronize
    >>> synchronize()
    """
    cuda.synchronize()


def retarget(fn, **device_functions):
    """``fn``'s code with some of its globals replaced by device functions.

    The core's arithmetic is written once, as plain Python functions
    (:mod:`wsprox.core`); the device twin of one compiles the *same* source
    for the device, the host twins of the core functions it calls (Numba CPU
    dispatchers) swapped for their device twins.

    Examples
    --------
    >>> from wsprox.core.pava import _pava_row
    >>> retarget(_pava_row, cluster_value=len).__globals__["cluster_value"] is len
    True
    """
    g = types.FunctionType(fn.__code__, {**fn.__globals__, **device_functions}, fn.__name__,
                           fn.__defaults__, fn.__closure__)
    g.__doc__ = fn.__doc__
    return g

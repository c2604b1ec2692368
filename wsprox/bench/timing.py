"""Timing: seconds per call on the host, and on a CUDA device (the one definition of CUDA time)."""
import time

import numpy as np

__all__ = ["time_call", "time_cuda"]


def time_call(fn, args_list, *, sync=None, back_to_back=False):
    """Seconds per call of ``fn(*args)`` over ``args_list[1:]``, after one untimed call on ``args_list[0]``.

    By default the median of the calls, each timed alone: ``sync``, when
    given, is called before every timed call and, inside the timing, after
    it, so the time covers the work the call queued on a device, not only
    its launch. ``back_to_back=True`` makes the calls one after the other
    and returns the mean, ``sync`` called once before them and, inside the
    timing, once after the last: what a loop of calls costs per call when
    nothing waits for their results.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.random.default_rng(0).standard_normal(1000)
    >>> time_call(np.sort, [(w,)] * 4) > 0, time_call(np.sort, [(w,)] * 4, back_to_back=True) > 0
    (True, True)
    """
    sync = sync or (lambda: None)
    fn(*args_list[0])
    if back_to_back:
        sync()
        t = time.perf_counter()
        for args in args_list[1:]:
            fn(*args)
        sync()
        return (time.perf_counter() - t) / (len(args_list) - 1)
    times = []
    for args in args_list[1:]:
        sync()
        t = time.perf_counter()
        fn(*args)
        sync()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def time_cuda(fn, args_list, *, back_to_back=False):
    """CUDA time: :func:`time_call` on input already on the device, synchronised.

    The device is synchronised by the library of the first argument of
    ``args_list[0]``: ``torch.cuda.synchronize`` for a PyTorch tensor,
    ``cupy.cuda.Device().synchronize`` for a CuPy array, else
    :func:`wsprox.cuda.synchronize` (Numba). The one definition of CUDA time
    of ``python -m wsprox.bench`` and of ``paper_figures``; the arrays must
    be on the device already (copies are not part of the time).

    Examples
    --------
    >>> import numpy as np, wsprox
    >>> from numba import cuda
    >>> if cuda.is_available():  # a GPU, or the simulator
    ...     from wsprox.cuda import to_device
    ...     w = to_device(np.random.default_rng(0).standard_normal(16))
    ...     assert time_cuda(wsprox.prox, [(w, 0.1)] * 2) > 0
    """
    return time_call(fn, args_list, sync=_synchronizer(args_list[0][0]), back_to_back=back_to_back)


def _synchronizer(array):
    owner = type(array).__module__.partition(".")[0]
    if owner == "torch":
        import torch

        return torch.cuda.synchronize
    if owner == "cupy":
        import cupy

        return cupy.cuda.Device().synchronize
    from .. import cuda

    return cuda.synchronize

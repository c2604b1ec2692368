"""The contenders of ``python -m wsprox.bench``: what is timed, on what, and how."""
import functools
import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import wsprox

from .authors import authors_prox
from .baselines import scipy_prox, torchsort_prox
from .timing import time_call, time_cuda

__all__ = ["ARRAYS", "BACK_TO_BACK_MAX", "Case", "cpu_cases", "cuda_cases", "device_arrays", "device_floor",
           "torch_view"]

#: Device array kinds of ``--array``.
ARRAYS = ("numba", "torch", "cupy")

#: Calls of at most this many entries (launch-bound on a GPU) are also timed back to back.
BACK_TO_BACK_MAX = 10_000


def any_shape(rows, d):
    """Every shape."""
    return True


def vector(rows, d):
    """Single vectors only (the baselines that take one)."""
    return rows == 1


def launch_bound(rows, d):
    """Calls of at most :data:`BACK_TO_BACK_MAX` entries."""
    return rows * d <= BACK_TO_BACK_MAX


@dataclass(frozen=True)
class Case:
    """One timed contender: ``timer(fn, args(group))`` on the groups whose shape it ``applies`` to.

    ``role``: ``"floor"`` (the ratios' base), ``"baseline"`` or
    ``"wsprox"``; ``budgeted``: skipped at a size where ``--budget``
    projects it too slow (the floor and the library baselines always run).
    """

    backend: str
    method: str
    array: str
    fn: Callable
    args: Callable
    timer: Callable = time_call
    role: str = "wsprox"
    budgeted: bool = True
    applies: Callable = any_shape
    threads: int | None = None  # Numba's threads during the timing (None: as they are)

    def key(self):
        return self.backend, self.method, self.array, self.threads


def prox_call(w, lam, method, backend, warm=None):
    """The front door, along ``axis=1`` for a batch."""
    return wsprox.prox(w, lam, method=method, backend=backend, warm=warm, axis=None if w.ndim == 1 else 1)


def _warm_args(group, method):
    state = wsprox.ProxState()
    prox_call(group.sequence[0], group.lam, method, "cpu", state)  # the first call has no order to reuse
    return [(v, group.lam, method, "cpu", state) for v in group.sequence[1:]]


def _on_threads(timer, n):
    """``timer`` with Numba on ``n`` threads (restored afterwards)."""
    def timed(fn, args_list):
        import numba

        previous = numba.get_num_threads()
        numba.set_num_threads(n)
        try:
            return timer(fn, args_list)
        finally:
            numba.set_num_threads(previous)

    return timed


def cpu_cases(methods, baselines, threads=(None,)):
    """The cases of ``--backend cpu``; the authors' on PyTorch CPU tensors (array ``torch``) where torch is."""
    cases = []
    if baselines:
        cases += [Case("cpu", "numpy.sort[f64]", "numpy", np.sort, lambda g: g.repeated(g.w64), role="floor",
                       budgeted=False),
                  Case("cpu", "numpy.argsort", "numpy", np.argsort, lambda g: g.repeated(g.w), role="baseline",
                       budgeted=False),
                  Case("cpu", "scipy", "numpy", scipy_prox, lambda g: g.repeated(g.w, g.lam), role="baseline",
                       budgeted=False, applies=vector)]
        if importlib.util.find_spec("torchsort"):
            cases.append(Case("cpu", "torchsort", "numpy", torchsort_prox, lambda g: g.repeated(g.w, g.lam),
                              role="baseline", budgeted=False, applies=vector))
        if importlib.util.find_spec("torch"):  # quadratic on growing_cluster: budgeted
            cases.append(Case("cpu", "authors", "torch", authors_prox, lambda g: g.repeated(g.on("torch"), g.lam),
                              role="baseline", applies=vector))
    for n in threads:
        timer = time_call if n is None else _on_threads(time_call, n)
        for m in methods:
            cases.append(Case("cpu", m, "numpy", prox_call, lambda g, m=m: g.repeated(g.w, g.lam, m, "cpu"),
                              timer=timer, threads=n))
            cases.append(Case("cpu", m + "+warm", "numpy", prox_call, functools.partial(_warm_args, method=m),
                              timer=timer, threads=n))
    return cases


def torch_view(w):
    """The host array ``w`` as a PyTorch CPU tensor (no copy): the authors' input on the CPU."""
    import torch

    return torch.from_numpy(w)


def device_arrays():
    """``(usable, missing)``: device array kind -> host-to-device copy, and kind -> why it is not usable."""
    from .. import cuda

    usable = {"numba": lambda w: cuda.to_device(np.ascontiguousarray(w))}
    missing = {}
    copies = {"torch": lambda torch, w: torch.as_tensor(w, device="cuda"),
              "cupy": lambda cupy, w: cupy.asarray(w)}
    for name, copy in copies.items():
        try:
            module = importlib.import_module(name)
        except ImportError:
            missing[name] = f"{name} is not installed"
            continue
        if cuda.simulated():
            missing[name] = "the CUDA simulator takes Numba device arrays only"
        elif not module.cuda.is_available():
            missing[name] = f"{name} sees no CUDA device"
        else:
            usable[name] = functools.partial(copy, module)
    return usable, missing


def device_floor(usable):
    """``(name, array kind, fn)`` of the device floor: the best device sort of values and indices here."""
    if "torch" in usable:
        import torch

        return "torch.sort", "torch", functools.partial(torch.sort, dim=-1)
    if "cupy" in usable:
        import cupy

        def cupy_sort(a):
            order = cupy.argsort(a, axis=-1)
            return cupy.take_along_axis(a, order, axis=-1), order

        return "cupy.argsort+take", "cupy", cupy_sort
    from ..cuda.sort import rank_rows

    def numba_sort(a):
        return rank_rows(a.reshape(1, a.size) if a.ndim == 1 else a)

    return "wsprox.cuda.sort.rank_rows", "numba", numba_sort


def cuda_cases(methods, arrays, floor, baselines, usable):
    """The cases of ``--backend cuda``: the floor, this library's CPU path, the authors' on the device
    (where PyTorch has CUDA), and every method on every array kind, also back to back on small calls."""
    name, kind, fn = floor
    cases = []
    if baselines:
        cases += [Case("cuda", name, kind, fn, lambda g: g.repeated(g.on(kind)), time_cuda, role="floor",
                       budgeted=False),
                  Case("cpu", "auto", "numpy", prox_call, lambda g: g.repeated(g.w, g.lam, "auto", "cpu"))]
        if "torch" in usable:
            cases.append(Case("cuda", "authors", "torch", authors_prox, lambda g: g.repeated(g.on("torch"), g.lam),
                              time_cuda, role="baseline", applies=vector))
    back_to_back = functools.partial(time_cuda, back_to_back=True)
    for a in arrays:
        for m in methods:
            args = functools.partial(_device_args, array=a, method=m)
            cases += [Case("cuda", m, a, prox_call, args, time_cuda),
                      Case("cuda", m + "+back_to_back", a, prox_call, args, back_to_back, applies=launch_bound)]
    return cases


def _device_args(group, array, method):
    return group.repeated(group.on(array), group.lam, method, "cuda")

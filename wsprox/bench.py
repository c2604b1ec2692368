r"""Benchmark: ``python -m wsprox.bench``.

Times, in one run and on the same inputs, the front door
``wsprox.prox(w, lam, method=m)`` with every method of a backend, beside the
floor of a cold prox (one sort of the same length) and the natural
baselines. Every figure is the median of ``--repeat`` timed calls after one
untimed call (Numba compiles on first use); ratios are to the floor measured
in the same run, on the same machine state: on a loaded machine absolute
times drift, ratios much less.

``--backend cpu`` (the default), on NumPy arrays:

``numpy.sort[f64]``
    The floor: :func:`numpy.sort` of a float64 array of the input's shape
    (random normal; NumPy's SIMD sort), the reference cost of one sort.
``numpy.argsort``
    :func:`numpy.argsort` of the input (no SIMD).
``scipy``
    The SciPy pipeline: argsort, shift by the velocities,
    :func:`scipy.optimize.isotonic_regression`, un-sort (one vector only).
``torchsort``
    When importable (one vector only): torchsort's L2 ``soft_rank`` through
    the identity :math:`\operatorname{prox}(w) = w + b - a\,\mathrm{soft\_rank}(w; a)`,
    :math:`a = 2\lambda/(d-1)`, :math:`b = \lambda(d+1)/(d-1)`.
``<method>``
    ``wsprox.prox(w, lam, method=<method>)``, cold.
``<method>+warm``
    The same on a simulated training sequence: every step adds noise of
    ``1e-3`` times the weights' standard deviation to the previous prox
    output, and every call passes the same :class:`wsprox.ProxState`.

``--backend cuda``, on device arrays:

``<method> [<array>]``
    ``wsprox.prox(a, lam, method=<method>, backend="cuda")`` on the input
    copied to the device before the timing, as every kind of ``--array``
    (default: every kind usable here: Numba device arrays always, PyTorch
    CUDA tensors and CuPy arrays where those libraries see a GPU), timed by
    :func:`time_cuda` (the device synchronised before and after every call).
    No warm start.
the floor
    ``torch.sort`` (values and indices) of the same data on the same device
    when PyTorch has CUDA; else ``cupy.argsort`` and the gather of the
    values; else wsprox's own device sort, ``wsprox.cuda.sort.rank_rows``
    (the Numba-only case, the simulator's). The header says which.
``cpu auto``
    ``wsprox.prox(w, lam)`` on the host array: this library's CPU path on
    the same machine.

Shapes: ``--sizes`` gives single vectors (``--rows N``: ``(N, d)`` batches
of them), ``--batches ROWSxD`` batches, each proxed along ``axis=1``. When
neither is given: the CPU times vectors of ``1e3 .. 1e7``; CUDA vectors of
``1e4 .. 1e8`` and the batches ``16x128``, ``4096x1024`` and ``100000x100``.

Inputs: ``normal`` (standard normal, ``--lam``; a batch draws every row)
and every family of :data:`wsprox.worstcase.FAMILIES` with its own ``lam``
(a batch repeats its vector in every row), each generated for the dtype
(``family(d, dtype=...)``); a family that does not exist at a size and dtype
is skipped with its reason printed.

``--json PATH`` writes (and rewrites after every group, so an interrupted run
keeps what it measured) ``{"meta": ..., "records": [...]}``, one record per
measurement with the keys ``backend, method, array, threads, input, dtype, rows, d,
lam, median_ms, floor, floor_ms, ratio_to_floor, speedup_over_scipy``
(``array``: numpy, numba, torch or cupy; the last four null where not
measured, e.g. with ``--no-baselines``).

Without a usable device (or the module) ``--backend cuda`` says so and exits
with status 2, and so does an ``--array`` kind that is not usable here.

The CPU's goals (issue 16): ``--small`` times the vectors ``d = 10 .. 1e4``
(the per-call cost that dominates proximal-gradient loops and bias vectors);
``--threads 1 2 ...`` times every wsprox case on each number of Numba threads
and prints the speed-up over the first; ``--load N`` starts ``N`` busy
processes beside the measurement (stopped afterwards), for the busy-machine
goal. The run ends with the goals' ratios: for ``d >= 1e6`` the default
method's time over the floor and the speed-up over SciPy, for ``d <= 1e4``
its time over SciPy's, and with ``--threads 1 N ...`` the speed-up of every
number of threads over one (under ``--load``: the busy-machine goal, never
slower than one thread). The OpenMP wait policy is the environment's
(``--openmp passive`` sets the tuned one, which only the collision
algorithms other than PAVA can feel: PAVA's pipeline uses no OpenMP).

Examples
--------
>>> from wsprox.bench import main
>>> main(["--quick", "--sizes", "100", "--dtype", "float64", "--inputs", "normal"])  # doctest: +SKIP
"""
from __future__ import annotations

import argparse
import functools
import importlib
import importlib.util
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import wsprox
from wsprox.cpu.parallel import passive_openmp
from wsprox.worstcase import FAMILIES

__all__ = ["main", "scipy_prox", "time_call", "time_cuda", "torchsort_prox", "training_sequence"]

#: Steps of noise added per warm call, relative to the weights' std.
NOISE = 1e-3

#: Shapes ``(rows, d)`` timed when neither ``--sizes`` nor ``--batches`` is given.
DEFAULT_SHAPES = {
    "cpu": [(1, 10**k) for k in range(3, 8)],
    "cuda": [(1, 10**k) for k in range(4, 9)] + [(16, 128), (4096, 1024), (100_000, 100)],
}

#: ``--small``: the vectors of the per-call-cost goal.
SMALL_SHAPES = [(1, d) for d in (10, 30, 100, 300, 1000, 3000, 10_000)]

#: ``--quick``: shapes of at most this many entries.
QUICK_ENTRIES = 10_000

#: Device array kinds of ``--array``.
ARRAYS = ("numba", "torch", "cupy")


def scipy_prox(w, lam):
    """The SciPy pipeline: argsort, shift, isotonic regression, un-sort.

    Examples
    --------
    >>> import numpy as np, wsprox
    >>> w = np.array([0.0, 1.0, 10.0])
    >>> bool(np.allclose(scipy_prox(w, 2.0), wsprox.prox(w, 2.0)))
    True
    """
    from scipy.optimize import isotonic_regression

    d = w.size
    order = np.argsort(w)
    z = w[order].astype(np.float64)
    if d > 1:
        z += lam * (d + 1 - 2 * np.arange(1, d + 1)) / (d - 1)
    out = np.empty(d)
    out[order] = isotonic_regression(z).x
    return out


def torchsort_prox(w, lam):
    """The prox through torchsort's L2 soft rank (Blondel et al., 2020).

    Examples
    --------
    >>> import importlib.util, numpy as np, wsprox
    >>> w = np.array([0.0, 1.0, 10.0])
    >>> if importlib.util.find_spec("torchsort"):  # an optional baseline
    ...     assert np.allclose(torchsort_prox(w, 2.0), wsprox.prox(w, 2.0), atol=1e-6)
    """
    import torch
    import torchsort

    d = w.size
    a = 2 * lam / (d - 1)
    b = lam * (d + 1) / (d - 1)
    t = torch.as_tensor(np.asarray(w, dtype=np.float64)).reshape(1, d)
    rank = torchsort.soft_rank(t, regularization_strength=a, regularization="l2")
    return (t + b - a * rank).numpy().reshape(d)


def training_sequence(w, lam, steps, *, seed=0):
    """``steps`` inputs of a simulated training loop starting from ``w``.

    ``w_{t+1} = prox(w_t) + NOISE * std(w_t) * N(0, 1)``, in ``w``'s dtype
    (the std taken in float64, so that float32 near its range's top is fine);
    the rows of a 2-D ``w`` are proxed one by one (``axis=1``).

    Examples
    --------
    >>> import numpy as np
    >>> seq = training_sequence(np.arange(5.0), 0.1, 3)
    >>> len(seq), seq[2].shape
    (3, (5,))
    """
    rng = np.random.default_rng(seed)
    seq = [w]
    for _ in range(steps - 1):
        x = wsprox.prox(seq[-1], lam, axis=None if w.ndim == 1 else 1)
        noise = NOISE * float(np.std(x, dtype=np.float64)) * rng.standard_normal(w.shape)  # no float32 overflow
        seq.append((x + noise).astype(w.dtype))
    return seq


def time_call(fn, args_list, *, sync=None):
    """Median seconds of ``fn(*args)`` over ``args_list[1:]``, after one untimed call on ``args_list[0]``.

    ``sync``, when given, is called before every timed call and, inside the
    timing, after it: the time then covers the work the call queued on a
    device, not only its launch.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.random.default_rng(0).standard_normal(1000)
    >>> time_call(np.sort, [(w,)] * 4) > 0
    True
    """
    sync = sync or (lambda: None)
    fn(*args_list[0])
    times = []
    for args in args_list[1:]:
        sync()
        t = time.perf_counter()
        fn(*args)
        sync()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def time_cuda(fn, args_list):
    """CUDA time: median seconds of ``fn(*args)`` on input already on the device, synchronised.

    :func:`time_call` with the device synchronised before and after every
    timed call, by the library of the first argument of ``args_list[0]``:
    ``torch.cuda.synchronize`` for a PyTorch tensor,
    ``cupy.cuda.Device().synchronize`` for a CuPy array, else
    :func:`wsprox.cuda.synchronize` (Numba). The one definition of CUDA time
    of this benchmark and of ``paper_figures``; the arrays must be on the
    device already (copies are not part of the time).

    Examples
    --------
    >>> import numpy as np, wsprox
    >>> from numba import cuda
    >>> if cuda.is_available():  # a GPU, or the simulator
    ...     from wsprox.cuda import to_device
    ...     w = to_device(np.random.default_rng(0).standard_normal(16))
    ...     assert time_cuda(wsprox.prox, [(w, 0.1)] * 2) > 0
    """
    return time_call(fn, args_list, sync=_synchronizer(args_list[0][0]))


def _synchronizer(array):
    owner = type(array).__module__.partition(".")[0]
    if owner == "torch":
        import torch

        return torch.cuda.synchronize
    if owner == "cupy":
        import cupy

        return cupy.cuda.Device().synchronize
    from . import cuda

    return cuda.synchronize


def _prox(w, lam, method, backend, warm=None):
    """The front door, along ``axis=1`` for a batch."""
    return wsprox.prox(w, lam, method=method, backend=backend, warm=warm, axis=None if w.ndim == 1 else 1)


def _make(name, rows, d, dtype):
    """``(w, lam)`` of input ``name`` as a vector (``rows == 1``) or a ``(rows, d)`` batch;
    ``lam`` None for ``--lam``."""
    if name == "normal":
        return np.random.default_rng(0).standard_normal((rows, d) if rows > 1 else d, dtype=dtype), None
    w, lam = FAMILIES[name](d, dtype=dtype)
    return (np.tile(w, (rows, 1)) if rows > 1 else w), lam


class _Data:
    """One group's input and what is made of it once, outside the timings."""

    def __init__(self, w, lam, reps, to_device):
        self.w, self.lam, self.reps, self._to_device = w, lam, reps, to_device
        self._copies = {}

    def on(self, kind):
        """The input as a device array of ``kind``, copied once."""
        if kind not in self._copies:
            self._copies[kind] = self._to_device[kind](self.w)
        return self._copies[kind]

    def repeated(self, *args):
        return [args] * self.reps

    @functools.cached_property
    def w64(self):
        return np.random.default_rng(1).standard_normal(self.w.shape)

    @functools.cached_property
    def sequence(self):
        return training_sequence(self.w, self.lam, self.reps + 1)


@dataclass(frozen=True)
class _Case:
    """One timed contender: ``timer(fn, args(data))``."""

    backend: str
    method: str
    array: str
    fn: Callable
    args: Callable
    timer: Callable = time_call
    role: str = "wsprox"  # or "floor" (always timed, the ratios' base), or "baseline" (always timed)
    vector_only: bool = False  # not timed on batches
    threads: int | None = None  # Numba's threads during the timing (None: as they are)

    def key(self):
        return self.backend, self.method, self.array, self.threads


def _warm_args(data, method):
    state = wsprox.ProxState()
    _prox(data.sequence[0], data.lam, method, "cpu", state)  # the first call has no order to reuse
    return [(v, data.lam, method, "cpu", state) for v in data.sequence[1:]]


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


def _cpu_cases(methods, baselines, threads=(None,)):
    cases = []
    if baselines:  # SciPy's isotonic regression and torchsort take one vector
        cases += [_Case("cpu", "numpy.sort[f64]", "numpy", np.sort, lambda g: g.repeated(g.w64), role="floor"),
                  _Case("cpu", "numpy.argsort", "numpy", np.argsort, lambda g: g.repeated(g.w), role="baseline"),
                  _Case("cpu", "scipy", "numpy", scipy_prox, lambda g: g.repeated(g.w, g.lam), role="baseline",
                        vector_only=True)]
        if importlib.util.find_spec("torchsort"):
            cases.append(_Case("cpu", "torchsort", "numpy", torchsort_prox, lambda g: g.repeated(g.w, g.lam),
                               role="baseline", vector_only=True))
    for n in threads:
        timer = time_call if n is None else _on_threads(time_call, n)
        for m in methods:
            cases.append(_Case("cpu", m, "numpy", _prox, lambda g, m=m: g.repeated(g.w, g.lam, m, "cpu"),
                               timer=timer, threads=n))
            cases.append(_Case("cpu", m + "+warm", "numpy", _prox, functools.partial(_warm_args, method=m),
                               timer=timer, threads=n))
    return cases


def _device_arrays():
    """``(usable, missing)``: device array kind -> host-to-device copy, and kind -> why it is not usable."""
    from . import cuda

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


def _floor(usable):
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
    from .cuda.sort import rank_rows

    def numba_sort(a):
        return rank_rows(a.reshape(1, a.size) if a.ndim == 1 else a)

    return "wsprox.cuda.sort.rank_rows", "numba", numba_sort


def _cuda_cases(methods, arrays, floor, baselines):
    name, kind, fn = floor
    cases = []
    if baselines:
        cases += [_Case("cuda", name, kind, fn, lambda g: g.repeated(g.on(kind)), time_cuda, role="floor"),
                  _Case("cpu", "auto", "numpy", _prox, lambda g: g.repeated(g.w, g.lam, "auto", "cpu"))]
    for a in arrays:
        for m in methods:
            cases.append(_Case("cuda", m, a, _prox, lambda g, a=a, m=m: g.repeated(g.on(a), g.lam, m, "cuda"),
                               time_cuda))
    return cases


def _batch(text):
    try:
        rows, d = (int(float(v)) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a batch is ROWSxD, e.g. 4096x1024; got {text!r}") from None
    return rows, d


def _parser():
    p = argparse.ArgumentParser(prog="python -m wsprox.bench", description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=float, nargs="+",
                   help="vector lengths d (default without --batches: CPU 1e3 ... 1e7, CUDA 1e4 ... 1e8)")
    p.add_argument("--rows", type=int, default=1,
                   help="time every --sizes d as a batch of this many rows, proxed along axis=1 (default 1)")
    p.add_argument("--batches", type=_batch, nargs="+", metavar="ROWSxD",
                   help="batches proxed along axis=1 (default without --sizes: CPU none, "
                        "CUDA 16x128 4096x1024 100000x100)")
    p.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    p.add_argument("--repeat", type=int, default=5, help="timed calls per case (median)")
    p.add_argument("--methods", nargs="+", help="methods of the backend, or auto (default: every solver)")
    p.add_argument("--inputs", nargs="+", help="input families (default: normal and wsprox.worstcase's)")
    p.add_argument("--lam", type=float, default=0.01, help="penalty weight of normal (std 1)")
    p.add_argument("--backend", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--array", choices=ARRAYS, nargs="+",
                   help="--backend cuda: device array kinds given to wsprox.prox (default: every usable one)")
    p.add_argument("--openmp", choices=["passive", "default"], default="default",
                   help="OpenMP wait policy: the environment's (default: what users get) or passive "
                        "(OMP_WAIT_POLICY=PASSIVE unless set, see wsprox.cpu.parallel.passive_openmp; "
                        "only the collision algorithms other than PAVA use OpenMP)")
    p.add_argument("--no-baselines", action="store_true", help="time wsprox only (no floor, no ratios)")
    p.add_argument("--json", metavar="PATH", help="also write every record as JSON")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke test: shapes of at most {QUICK_ENTRIES} entries, at most 2 repeats")
    p.add_argument("--small", action="store_true",
                   help="the small vectors d = 10 .. 1e4 (with --sizes/--batches: added to them)")
    p.add_argument("--threads", type=int, nargs="+", metavar="N",
                   help="CPU: time every wsprox case on each of these numbers of Numba threads "
                        "(default: as Numba has them); the speed-up over the first is printed")
    p.add_argument("--load", type=int, default=0, metavar="N",
                   help="N busy processes beside the measurement, stopped afterwards (default 0)")
    p.add_argument("--budget", type=float, default=10.0,
                   help="seconds per case: a wsprox case whose time at the previous size, extrapolated "
                        "quadratically, would exceed it is skipped at this size (default 10; the floor "
                        "and the library baselines always run)")
    return p


def _shapes(args):
    if args.sizes is None and args.batches is None:
        shapes = SMALL_SHAPES if args.small else DEFAULT_SHAPES[args.backend]
    else:
        shapes = [(args.rows, int(s)) for s in args.sizes or []] + list(args.batches or [])
        shapes += SMALL_SHAPES if args.small else []
    if any(d < 2 or rows < 1 for rows, d in shapes):
        raise SystemExit("--sizes must be at least 2, --rows and the rows of --batches at least 1")
    if args.quick:
        shapes = [(r, d) for r, d in shapes if r * d <= QUICK_ENTRIES] or [(1, 1000)]
    return sorted(set(shapes))


def _projected(previous, d):
    """Seconds a call at size ``d`` may take, from ``(d0, seconds)`` at a smaller size,
    extrapolated quadratically (the worst case of end and imminent collisions)."""
    if previous is None:
        return 0.0
    d0, t0 = previous
    return t0 * (d / d0) ** 2


def _size(d):
    """``1e+06`` for the powers of ten from ``1e4``, else the digits."""
    return f"{d:.0e}" if d >= 10_000 and str(d).strip("0") == "1" else str(d)


def _label(backend, method, array, *, run_backend, floor=False):
    text = method if backend == run_backend else f"{backend} {method}"
    text += f" [{array}]" if array != "numpy" else ""
    return text + (" (floor)" if floor else "")


def _group_records(times, fields):
    """One record per ``(case, seconds)`` of a group; ``fields``: the group's input, dtype, shape, lam, floor."""
    floor_t = next((t for c, t in times if c.role == "floor"), None)
    scipy_t = next((t for c, t in times if c.method == "scipy"), None)
    return [{"backend": c.backend, "method": c.method, "array": c.array, "threads": c.threads, **fields,
             "median_ms": t * 1e3,
             "floor_ms": floor_t * 1e3 if floor_t else None,
             "ratio_to_floor": t / floor_t if floor_t else None,
             "speedup_over_scipy": scipy_t / t if scipy_t else None} for c, t in times]


def _print_group(head, records, run_backend):
    scipy = any(r["speedup_over_scipy"] is not None for r in records)
    print(f"\n{head:<48}{'ms':>12}{'x floor':>10}" + (f"{'scipy/t':>10}" if scipy else ""))
    for r in records:
        label = _label(r["backend"], r["method"], r["array"], run_backend=run_backend,
                       floor=r["method"] == r["floor"])
        label += f" @{r['threads']}t" if r["threads"] is not None else ""
        ratio, speedup = r["ratio_to_floor"], r["speedup_over_scipy"]
        print(f"  {label:<46}{r['median_ms']:12.3f}" + (f"{ratio:9.2f}x" if ratio is not None else f"{'-':>10}")
              + (f"{speedup:9.2f}x" if speedup is not None else ""))


def _write_json(path, meta, records):
    """Write (atomically: a run killed meanwhile leaves the previous file) the records so far."""
    meta["loadavg_end"] = os.getloadavg()
    with open(f"{path}.tmp", "w") as f:
        json.dump({"meta": meta, "records": records}, f, indent=1)
    os.replace(f"{path}.tmp", path)


def main(argv=None):
    """Run the benchmark; returns the exit status. See ``--help``."""
    args = _parser().parse_args(argv)
    if args.openmp == "passive":
        passive_openmp()
    policy = os.environ.get("OMP_WAIT_POLICY", "default")
    shapes = _shapes(args)
    repeat = min(max(1, args.repeat), 2) if args.quick else max(1, args.repeat)
    if args.array and args.backend != "cuda":
        raise SystemExit("--array applies to --backend cuda")
    methods = list(wsprox.cpu.SOLVERS)
    if args.backend == "cuda":
        try:
            from . import cuda

            cuda.require_device()
            usable, missing = _device_arrays()
        except Exception as exc:  # noqa: BLE001 -- no module, no device: no such backend here
            print(f"wsprox.bench: --backend cuda is not usable here ({type(exc).__name__}: {exc})",
                  file=sys.stderr)
            return 2
        methods = list(cuda.SOLVERS)
    if args.methods:
        unknown = sorted(set(args.methods) - set(methods) - {"auto"})
        if unknown:
            raise SystemExit(f"unknown methods {unknown}; known: {sorted(methods)} and auto")
        methods = args.methods
    inputs = args.inputs or ["normal", *FAMILIES]
    unknown = sorted(set(inputs) - {"normal", *FAMILIES})
    if unknown:
        raise SystemExit(f"unknown inputs {unknown}; known: {['normal', *sorted(FAMILIES)]}")
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    baselines = not args.no_baselines
    if args.threads and (args.backend != "cpu" or min(args.threads) < 1):
        raise SystemExit("--threads applies to --backend cpu, with numbers of at least 1")
    if args.load < 0:
        raise SystemExit("--load must be at least 0")
    with _busy(args.load):
        return _run(args, shapes, repeat, methods, inputs, dtypes, baselines, policy,
                    locals().get("usable"), locals().get("missing"), argv)


def _busy(n):
    """A context with ``n`` busy processes (a spinning Python loop each) beside it."""
    import contextlib
    import subprocess

    @contextlib.contextmanager
    def spinning():
        procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
        try:
            yield
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()

    return spinning()


def _run(args, shapes, repeat, methods, inputs, dtypes, baselines, policy, usable, missing, argv):

    meta = {
        "backend": args.backend, "lam": args.lam, "repeat": repeat, "noise": NOISE, "argv": argv or sys.argv[1:],
        "threads": args.threads, "load": args.load,
        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(), "omp_wait_policy": policy,
    }
    print(f"wsprox.bench: backend={args.backend} lam={args.lam} repeat={repeat} "
          f"loadavg={meta['loadavg_start'][0]:.1f} OMP_WAIT_POLICY={policy}")
    if args.backend == "cuda":
        arrays = args.array or [a for a in ARRAYS if a in usable]
        unusable = [a for a in arrays if a not in usable]
        if unusable:
            print(f"wsprox.bench: --array {' '.join(unusable)} is not usable here ("
                  + "; ".join(missing[a] for a in unusable) + ")", file=sys.stderr)
            return 2
        floor = _floor(usable)
        meta.update(arrays=arrays, floor=floor[0] if baselines else None)
        print(f"device arrays: {', '.join(arrays)}"
              + "".join(f"; {a} skipped: {why}" for a, why in missing.items()))
        print((f"floor: {floor[0]} of the same data on the device (values and indices); " if baselines else "")
              + "every call synchronised before and after (wsprox.bench.time_cuda)")
        cases = _cuda_cases(methods, arrays, floor, baselines)
        to_device = usable
    else:
        meta.update(arrays=["numpy"], floor="numpy.sort[f64]" if baselines else None)
        if baselines:
            print("floor: numpy.sort of a float64 array of the input's shape")
        cases = _cpu_cases(methods, baselines, args.threads or (None,))
        to_device = {}
    meta["versions"] = {m: sys.modules[m].__version__ for m in ("numpy", "numba", "torch", "cupy")
                        if m in sys.modules}
    print("median ms; 'x floor': time / the floor's"
          + ("; 'scipy/t': speed-up over the SciPy pipeline" if args.backend == "cpu" and baselines else ""))
    records = []
    last = {}  # (input, dtype, rows, case key) -> (d, seconds) at the last size timed
    for name in inputs:
        for dtype in dtypes:
            for rows, d in shapes:
                batch = f" rows={rows}" if rows > 1 else ""
                try:
                    w, lam = _make(name, rows, d, dtype)
                except ValueError as exc:  # a family may not exist at every size and dtype
                    print(f"\n{name} {dtype}{batch} d={_size(d)}: skipped ({exc})")
                    continue
                lam = args.lam if lam is None else lam
                group = [c for c in cases if rows == 1 or not c.vector_only]
                active = [c for c in group if c.role != "wsprox"
                          or _projected(last.get((name, dtype, rows, c.key())), d) * (repeat + 1) <= args.budget]
                head = f"{name} {dtype}{batch} d={_size(d)} lam={lam:.3g}"
                skipped = [_label(c.backend, c.method, c.array, run_backend=args.backend)
                           for c in group if c not in active]
                if not any(c.role == "wsprox" for c in active):
                    print(f"\n{head}\n  skipped, projected over --budget {args.budget:g} s: {', '.join(skipped)}")
                    continue
                data = _Data(w, lam, repeat + 1, to_device)
                times = [(c, c.timer(c.fn, c.args(data))) for c in active]
                del data  # the device copies
                for c, t in times:
                    if c.role == "wsprox":
                        last[(name, dtype, rows, c.key())] = (d, t)
                group_records = _group_records(times, {"input": name, "dtype": dtype, "rows": rows, "d": d,
                                                       "lam": lam, "floor": meta["floor"]})
                _print_group(head, group_records, args.backend)
                records += group_records
                if skipped:
                    print(f"  skipped, projected over --budget {args.budget:g} s: {', '.join(skipped)}")
                if args.json:
                    _write_json(args.json, meta, records)
    if args.json:
        _write_json(args.json, meta, records)
    if args.backend == "cpu" and baselines:
        _print_goals(records, methods, args.threads)
    if args.backend == "cuda":
        _print_cuda_goals(records)
    return 0


def _print_cuda_goals(records):
    """The GPU goals' ratios (issue 13): ``auto`` against the floor, the CPU and the
    time budgets; search collisions on the worst cases against random input."""
    cuda = [r for r in records if r["backend"] == "cuda" and r["method"] != r["floor"]]
    cpu = {(r["input"], r["dtype"], r["rows"], r["d"]): r["median_ms"] for r in records if r["backend"] == "cpu"}
    normal = {(r["method"], r["array"], r["dtype"], r["d"]): r["median_ms"]
              for r in cuda if r["input"] == "normal" and r["rows"] == 1}
    lines = []
    for r in cuda:
        at = f"{r['input']} {r['dtype']} {r['array']} {r['rows']}x{_size(r['d'])}"
        ratio = r["ratio_to_floor"]
        if r["method"] == "auto" and r["input"] == "normal":
            if r["rows"] == 1 and r["d"] >= 10**6 and ratio is not None:
                lines.append(f"{at}: {ratio:.2f}x the floor (goal <= 3)")
            if r["rows"] == 1 and r["d"] == 10**7 and (r["input"], r["dtype"], 1, r["d"]) in cpu:
                lines.append(f"{at}: {cpu[(r['input'], r['dtype'], 1, r['d'])] / r['median_ms']:.1f}x "
                             "faster than the CPU (goal >= 20)")
            if r["rows"] == 1 and r["d"] == 10**8:
                lines.append(f"{at}: {r['median_ms']:.1f} ms (goal: 78.7M entries in <= 30 ms)")
            if (r["rows"], r["d"]) == (16, 128):
                lines.append(f"{at}: {r['median_ms']:.3f} ms a call (goal <= 0.1)")
            if (r["rows"], r["d"]) == (4096, 1024) and ratio is not None:
                lines.append(f"{at}: {ratio:.2f}x the floor (goal <= 2)")
        key = (r["method"], r["array"], r["dtype"], r["d"])
        if r["method"] == "search_collisions" and r["input"] != "normal" and r["rows"] == 1 and key in normal:
            lines.append(f"{at}: {r['median_ms'] / normal[key]:.2f}x random input's time (goal <= 2)")
    if lines:
        print("\ngoals (issue 13):\n  " + "\n  ".join(lines))


def _print_goals(records, methods, threads):
    """The CPU goals' ratios (issue 16) for the default method, cold, on normal input."""
    method = "pava" if "pava" in methods else methods[0]
    lines = []
    for r in records:
        if r["input"] != "normal" or r["rows"] != 1 or r["method"] != method:
            continue
        at = f"d={_size(r['d'])} {r['dtype']}" + (f" @{r['threads']}t" if r["threads"] else "")
        if r["d"] >= 10**6:
            lines.append(f"{at}: {r['ratio_to_floor']:.2f}x numpy.sort (goal <= 1.5), "
                         f"{r['speedup_over_scipy']:.1f}x faster than SciPy (goal >= 4)")
        elif r["d"] <= 10**4 and r["speedup_over_scipy"]:
            goal = 0.5 if r["d"] <= 100 else 1.0
            lines.append(f"{at}: {1 / r['speedup_over_scipy']:.2f}x SciPy's time (goal <= {goal:g})")
    if threads and len(threads) > 1:
        base = {(r["input"], r["dtype"], r["rows"], r["d"], r["method"]): r["median_ms"]
                for r in records if r["threads"] == threads[0]}
        for r in records:
            key = (r["input"], r["dtype"], r["rows"], r["d"], r["method"])
            if r["threads"] not in (None, threads[0]) and r["method"] == method and key in base:
                lines.append(f"d={_size(r['d'])} {r['dtype']} {r['input']}: {r['threads']} threads "
                             f"{base[key] / r['median_ms']:.2f}x faster than {threads[0]}"
                             + (" (goal >= 1 loaded, >= 5 on 16 cores at d=1e7)" if threads[0] == 1 else ""))
    if lines:
        print("\ngoals (" + method + ", cold):\n  " + "\n  ".join(lines))


if __name__ == "__main__":
    sys.exit(main())

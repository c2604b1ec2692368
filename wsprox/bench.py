r"""Benchmark: ``python -m wsprox.bench``.

Times, in one run and on the same inputs, the prox of every method of the
backend (``wsprox.cpu.SOLVERS``, or ``wsprox.cuda.SOLVERS``), cold and warm,
against the baselines:

``numpy.sort[f64]``
    :func:`numpy.sort` of a float64 vector of the same length (NumPy's SIMD
    sort): the reference cost of one sort, the baseline of the ratios.
``numpy.argsort``
    :func:`numpy.argsort` of the input (no SIMD).
``scipy``
    The SciPy pipeline: argsort, shift by the velocities,
    :func:`scipy.optimize.isotonic_regression`, un-sort.
``torchsort``
    When importable: torchsort's L2 ``soft_rank`` through the identity
    :math:`\operatorname{prox}(w) = w + b - a\,\mathrm{soft\_rank}(w; a)`,
    :math:`a = 2\lambda/(d-1)`, :math:`b = \lambda(d+1)/(d-1)`.
``<method>``
    ``wsprox.prox(w, lam, method=<method>)``, cold.
``<method>+warm``
    The same on a simulated training sequence: every step adds noise of
    ``1e-3`` times the weights' standard deviation to the previous prox
    output, and every call passes the same :class:`wsprox.ProxState`.

Batches: ``--rows N`` times ``N`` copies of each input vector as one
``(N, d)`` batch proxed along ``axis=1`` (one CUDA block or thread per row);
``numpy.sort[f64]`` then sorts every row, and the SciPy and torchsort
baselines, which take one vector, are left out.

Inputs: ``normal`` (standard normal, ``--lam``) and, when
:mod:`wsprox.worstcase` is there, every family of its ``FAMILIES`` registry
(``family(d) -> (w, lam)``, with its own ``lam``). Every figure is the median
of ``--repeat`` timed calls after one untimed call (Numba compiles on first
use). Ratios are to ``numpy.sort[f64]`` measured in the same run, on the
same machine state: on a loaded machine absolute times drift, ratios much
less.

Backends: ``--backend cuda`` times :mod:`wsprox.cuda` (its ``SOLVERS``,
``to_device``, ``device_array``, ``prox_rows`` and ``synchronize``): the
input is copied to the device before the timing, every timed call runs the
device pipeline and synchronises (no warm start on the device). Without a
usable device (or the module) the benchmark says so and exits with status 2.

Examples
--------
>>> from wsprox.bench import main
>>> main(["--quick", "--sizes", "100", "--dtype", "float64", "--inputs", "normal"])  # doctest: +SKIP
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

import wsprox
from wsprox.cpu.kernels import passive_openmp

__all__ = ["main", "scipy_prox", "time_call", "torchsort_prox", "training_sequence"]

#: Steps of noise added per warm call, relative to the weights' std.
NOISE = 1e-3


def scipy_prox(w, lam):
    """The SciPy pipeline: argsort, shift, isotonic regression, un-sort."""
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
    """The prox through torchsort's L2 soft rank (Blondel et al., 2020)."""
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

    ``w_{t+1} = prox(w_t) + NOISE * std(w_t) * N(0, 1)``, in ``w``'s dtype.
    """
    rng = np.random.default_rng(seed)
    seq = [w]
    for _ in range(steps - 1):
        x = wsprox.prox(seq[-1], lam)
        noise = NOISE * float(np.std(x)) * rng.standard_normal(w.shape)
        seq.append((x + noise).astype(w.dtype))
    return seq


def time_call(fn, args_list):
    """Median seconds of ``fn(*args)`` over ``args_list`` after one warm-up."""
    fn(*args_list[0])
    times = []
    for args in args_list[1:]:
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _inputs(names):
    families = {"normal": lambda d: np.random.default_rng(0).standard_normal(d)}
    try:
        from . import worstcase
    except ImportError:
        worstcase = None
    if worstcase is not None:
        families.update(getattr(worstcase, "FAMILIES", {}))
    if names:
        unknown = sorted(set(names) - set(families))
        if unknown:
            raise SystemExit(f"unknown inputs {unknown}; known: {sorted(families)}")
        families = {k: families[k] for k in names}
    return families


def _backend(name):
    """The methods of a backend and ``run(method, v, lam, state)``, one timed call.

    CPU: ``wsprox.prox`` on the host vector. CUDA (the hook for
    :mod:`wsprox.cuda`): the vector is copied to the device once, outside
    the timing, and every call is ``wsprox.cuda.prox_rows`` on device arrays
    followed by ``wsprox.cuda.synchronize()``; no warm start there.
    """
    if name == "cpu":
        def run(method, v, lam, state=None):
            return wsprox.prox(v, lam, method=method, warm=state, axis=None if v.ndim == 1 else 1)

        return dict(wsprox.cpu.SOLVERS), run
    from . import cuda

    cuda.require_device()
    device = {}

    def run(method, v, lam, state=None):
        if device.get("host") is not v:  # copy each new input once, untimed below
            rows = cuda.to_device(np.ascontiguousarray(v.reshape(-1, v.shape[-1])))
            device.update(host=v, rows=rows, out=cuda.device_array(rows.shape, rows.dtype))
        cuda.prox_rows(cuda.SOLVERS[method], device["rows"], lam, 0.0, device["out"])
        cuda.synchronize()

    return dict(cuda.SOLVERS), run


def _cases(w, lam, methods, run, warm, repeat, baselines):
    reps = repeat + 1
    w64 = np.random.default_rng(1).standard_normal(w.shape)
    cases = {}
    if baselines:
        cases["numpy.sort[f64]"] = time_call(np.sort, [(w64,)] * reps)
        cases["numpy.argsort"] = time_call(np.argsort, [(w,)] * reps)
    if baselines and w.ndim == 1:  # SciPy's isotonic regression and torchsort: one vector
        cases["scipy"] = time_call(scipy_prox, [(w, lam)] * reps)
        try:
            import torchsort  # noqa: F401
        except ImportError:
            pass
        else:
            cases["torchsort"] = time_call(torchsort_prox, [(w, lam)] * reps)
    seq = training_sequence(w, lam, reps + 2) if warm else []
    for m in methods:
        cases[m] = time_call(run, [(m, w, lam)] * reps)
        if warm:
            state = wsprox.ProxState()
            run(m, seq[0], lam, state)  # the first call has no order to reuse
            run(m, seq[1], lam, state)  # untimed warm calls: every warm kernel compiled
            cases[m + "+warm"] = time_call(run, [(m, v, lam, state) for v in seq[2:]])
    return cases


def _parser():
    p = argparse.ArgumentParser(prog="python -m wsprox.bench", description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=float, nargs="+", default=[1e3, 1e4, 1e5, 1e6, 1e7],
                   help="vector lengths d (default 1e3 ... 1e7)")
    p.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    p.add_argument("--rows", type=int, default=1,
                   help="a batch of this many vectors, proxed along axis=1 (default 1: one vector)")
    p.add_argument("--repeat", type=int, default=5, help="timed calls per case (median)")
    p.add_argument("--methods", nargs="+", help="methods of the backend (default: all)")
    p.add_argument("--inputs", nargs="+", help="input families (default: normal and wsprox.worstcase)")
    p.add_argument("--lam", type=float, default=0.01, help="penalty weight (inputs have std about 1)")
    p.add_argument("--backend", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--openmp", choices=["passive", "default"], default="passive",
                   help="OpenMP wait policy: passive (OMP_WAIT_POLICY=PASSIVE unless set, "
                        "see wsprox.cpu.kernels.passive_openmp) or the runtime's default")
    p.add_argument("--no-baselines", action="store_true", help="time wsprox only")
    p.add_argument("--json", metavar="PATH", help="also write every record as JSON")
    p.add_argument("--quick", action="store_true", help="smoke test: d <= 1e4, 2 repeats")
    p.add_argument("--budget", type=float, default=10.0,
                   help="seconds per case: a method whose time at the previous size, extrapolated "
                        "quadratically, would exceed it is skipped at this size (default 10)")
    return p


def _projected(previous, d):
    """Seconds a call at size ``d`` may take, from ``(d0, seconds)`` at a smaller size,
    extrapolated quadratically (the worst case of end and imminent collisions)."""
    if previous is None:
        return 0.0
    d0, t0 = previous
    return t0 * (d / d0) ** 2


def main(argv=None):
    """Run the benchmark; returns the exit status. See ``--help``."""
    args = _parser().parse_args(argv)
    if args.openmp == "passive":
        passive_openmp()
    policy = os.environ.get("OMP_WAIT_POLICY", "default")
    sizes = sorted({int(s) for s in args.sizes})
    if any(s < 2 for s in sizes):
        raise SystemExit("--sizes must be at least 2")
    if args.rows < 1:
        raise SystemExit("--rows must be at least 1")
    repeat = max(1, args.repeat)
    if args.quick:
        sizes = [s for s in sizes if s <= 10_000] or [1000]
        repeat = min(repeat, 2)
    try:
        methods, run = _backend(args.backend)
    except Exception as exc:  # noqa: BLE001 -- no module, no device: no such backend here
        print(f"wsprox.bench: --backend {args.backend} is not usable here "
              f"({type(exc).__name__}: {exc})", file=sys.stderr)
        return 2
    if args.methods:
        unknown = sorted(set(args.methods) - set(methods))
        if unknown:
            raise SystemExit(f"unknown methods {unknown}; known: {sorted(methods)}")
        methods = {m: methods[m] for m in args.methods}
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    families = _inputs(args.inputs)

    meta = {
        "backend": args.backend, "lam": args.lam, "repeat": repeat, "noise": NOISE, "rows": args.rows,
        "numpy": np.__version__, "python": platform.python_version(),
        "machine": platform.machine(), "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(), "omp_wait_policy": policy,
    }
    print(f"wsprox.bench: backend={args.backend} lam={args.lam} repeat={repeat} "
          f"loadavg={meta['loadavg_start'][0]:.1f} OMP_WAIT_POLICY={policy}")
    print("median ms; 'x sort': time / numpy.sort[f64]; 'scipy/t': speed-up over the SciPy pipeline")
    records = []
    last = {}  # (input, dtype, method) -> (d, seconds) at the last size timed
    for name, gen in families.items():
        for dtype in dtypes:
            for d in sizes:
                try:
                    made = gen(d)
                except ValueError as exc:  # a family may not exist at every size
                    print(f"\n{name} {dtype} d={d:.0e}: skipped ({exc})")
                    continue
                # wsprox.worstcase families give (w, lam): the lam that makes them hard.
                w, lam = made if isinstance(made, tuple) else (made, args.lam)
                w = np.asarray(w, dtype=dtype)
                if args.rows > 1:
                    w = np.tile(w, (args.rows, 1))
                active = {m: s for m, s in methods.items()
                          if _projected(last.get((name, dtype, m)), d) * (repeat + 1) <= args.budget}
                cases = _cases(w, lam, active, run, args.backend == "cpu", repeat,
                               not args.no_baselines)
                for m in active:
                    last[(name, dtype, m)] = (d, cases[m])
                base = cases.get("numpy.sort[f64]", float("nan"))
                scipy = cases.get("scipy", float("nan"))
                batch = f" rows={args.rows}" if args.rows > 1 else ""
                head = f"{name} {dtype}{batch} d={d:.0e} lam={lam:.3g}"
                print(f"\n{head:<40}{'ms':>12}{'x sort':>10}{'scipy/t':>10}")
                for case, t in cases.items():
                    print(f"  {case:<28}{t * 1e3:12.3f}{t / base:10.2f}x{scipy / t:9.2f}x")
                    records.append({"input": name, "dtype": dtype, "rows": args.rows, "d": d, "lam": lam,
                                    "case": case,
                                    "seconds": t, "ratio_to_sort": t / base,
                                    "speedup_over_scipy": scipy / t})
                skipped = [m for m in methods if m not in active]
                if skipped:
                    print(f"  skipped, projected over --budget {args.budget:g} s: {', '.join(skipped)}")
    meta["loadavg_end"] = os.getloadavg()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "records": records}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

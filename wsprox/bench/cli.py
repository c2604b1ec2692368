"""The command line of ``python -m wsprox.bench`` (see :mod:`wsprox.bench`): shapes, the run, its output."""
import argparse
import contextlib
import json
import math
import os
import platform
import subprocess
import sys

import wsprox
from wsprox.cpu.parallel import passive_openmp
from wsprox.worstcase import FAMILIES

from .cases import (
    ARRAYS,
    BACK_TO_BACK_MAX,
    cpu_cases,
    cuda_cases,
    device_arrays,
    device_floor,
    torch_view,
)
from .first_call import ROW, first_call_seconds
from .goals import cpu_goals, cuda_goals, size
from .inputs import NOISE, Group, make_input

__all__ = ["main"]

#: Shapes ``(rows, d)`` of random normal input when none of ``--sizes``, ``--batches``, ``--small``,
#: ``--warm-start`` is given.
DEFAULT_SHAPES = {
    "cpu": [(1, 10**k) for k in range(3, 8)],
    "cuda": [(1, 10**k) for k in range(4, 9)] + [(16, 128), (4096, 1024), (100_000, 100)],
}

#: The same for the worst-case families: on CUDA 1e5 and 1e6, after 1e4, whose times let ``--budget``
#: skip the cases that are quadratic on a family (imminent collisions on growing_cluster) at the larger sizes.
FAMILY_SHAPES = {"cpu": DEFAULT_SHAPES["cpu"], "cuda": [(1, 10**k) for k in range(4, 7)]}

#: ``--small``: the vectors of the per-call-cost goal.
SMALL_SHAPES = [(1, d) for d in (10, 30, 100, 300, 1000, 3000, 10_000)]

#: ``--warm-start``: the vectors of the warm-start goal (a warm call never slower than a cold one).
WARM_SHAPES = [(1, 10**k) for k in range(1, 7)]

#: Penalty weights of random normal input without ``--lam``.
DEFAULT_LAMS = {"cpu": [0.01], "cuda": [0.01, 1.0]}

#: ``--quick``: shapes of at most this many entries.
QUICK_ENTRIES = 10_000


def _batch(text):
    try:
        rows, d = (int(float(v)) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a batch is ROWSxD, e.g. 4096x1024; got {text!r}") from None
    return rows, d


def _parser():
    p = argparse.ArgumentParser(prog="python -m wsprox.bench",
                                description="Time wsprox.prox beside the floor of one sort and the baselines.")
    p.add_argument("--sizes", type=float, nargs="+",
                   help="vector lengths d (default without --batches: CPU 1e3 ... 1e7, CUDA 1e4 ... 1e8, "
                        "the worst-case families on CUDA 1e4 ... 1e6)")
    p.add_argument("--rows", type=int, default=1,
                   help="time every --sizes d as a batch of this many rows, proxed along axis=1 (default 1)")
    p.add_argument("--batches", type=_batch, nargs="+", metavar="ROWSxD",
                   help="batches proxed along axis=1 (default without --sizes: CPU none, "
                        "CUDA 16x128 4096x1024 100000x100 of random normal input)")
    p.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    p.add_argument("--repeat", type=int, default=5, help="timed calls per case (median)")
    p.add_argument("--methods", nargs="+", help="methods of the backend, or auto (default: every solver)")
    p.add_argument("--inputs", nargs="+", help="input families (default: normal and wsprox.worstcase's)")
    p.add_argument("--lam", type=float, nargs="+",
                   help="penalty weights of normal (std 1) input, each its own group (default: CPU 0.01, "
                        "CUDA 0.01 and 1)")
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
    p.add_argument("--warm-start", action="store_true",
                   help="the vectors d = 10, 100 .. 1e6 of the warm-start goal (with --sizes/--batches: "
                        "added to them)")
    p.add_argument("--threads", type=int, nargs="+", metavar="N",
                   help="CPU: time every wsprox case on each of these numbers of Numba threads "
                        "(default: as Numba has them); the speed-up over the first is printed")
    p.add_argument("--load", type=int, default=0, metavar="N",
                   help="N busy processes beside the measurement, stopped afterwards (default 0)")
    p.add_argument("--budget", type=float, default=10.0,
                   help="seconds per case: a case whose time at the previous size, extrapolated "
                        "quadratically, would exceed it is skipped at this size (default 10; the floor "
                        "and the library baselines always run, the authors' imminent collisions are budgeted)")
    return p


def _shapes(args, *, family):
    """The shapes ``(rows, d)`` of one input: a worst-case family's (``family``) or normal's."""
    if args.sizes is None and args.batches is None and not args.small and not args.warm_start:
        shapes = (FAMILY_SHAPES if family else DEFAULT_SHAPES)[args.backend]
    else:
        shapes = [(args.rows, int(s)) for s in args.sizes or []] + list(args.batches or [])
        shapes += (SMALL_SHAPES if args.small else []) + (WARM_SHAPES if args.warm_start else [])
    if args.quick:
        shapes = [(r, d) for r, d in shapes if r * d <= QUICK_ENTRIES] or [(1, 1000)]
    return sorted(set(shapes))


#: The methods whose worst case is quadratic in ``d`` (rounds times work): their projections are.
QUADRATIC = ("end_collisions", "imminent_collisions", "authors")


def _projected(previous, d, method):
    """Seconds a call of ``method`` at size ``d`` may take, from ``(d0, seconds)`` at a smaller
    size: extrapolated quadratically for :data:`QUADRATIC` methods, as ``d log d`` otherwise."""
    if previous is None:
        return 0.0
    d0, t0 = previous
    if method in QUADRATIC:
        return t0 * (d / d0) ** 2
    return t0 * (d / d0) * math.log(max(d, 2)) / math.log(max(d0, 2))


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
              + (f"{speedup:9.2f}x" if speedup is not None else ""), flush=True)


def _write_json(path, meta, records):
    """Write (atomically: a run killed meanwhile leaves the previous file) the records so far."""
    meta["loadavg_end"] = os.getloadavg()
    with open(f"{path}.tmp", "w") as f:
        json.dump({"meta": meta, "records": records}, f, indent=1)
    os.replace(f"{path}.tmp", path)


def _normalise(args):
    """Check the arguments and fill in the defaults that depend on the backend, in place."""
    if args.array and args.backend != "cuda":
        raise SystemExit("--array applies to --backend cuda")
    if args.threads and (args.backend != "cpu" or min(args.threads) < 1):
        raise SystemExit("--threads applies to --backend cpu, with numbers of at least 1")
    if args.load < 0:
        raise SystemExit("--load must be at least 0")
    if any(s < 2 for s in args.sizes or []) or args.rows < 1 or any(r < 1 or d < 2 for r, d in args.batches or []):
        raise SystemExit("--sizes must be at least 2, --rows and the rows of --batches at least 1")
    args.repeat = min(max(1, args.repeat), 2) if args.quick else max(1, args.repeat)
    args.inputs = args.inputs or ["normal", *FAMILIES]
    unknown = sorted(set(args.inputs) - {"normal", *FAMILIES})
    if unknown:
        raise SystemExit(f"unknown inputs {unknown}; known: {['normal', *sorted(FAMILIES)]}")
    args.dtype = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    args.lam = args.lam or DEFAULT_LAMS[args.backend]


def _methods(args, known):
    if not args.methods:
        return list(known)
    unknown = sorted(set(args.methods) - set(known) - {"auto"})
    if unknown:
        raise SystemExit(f"unknown methods {unknown}; known: {sorted(known)} and auto")
    return args.methods


def main(argv=None):
    """Run the benchmark; returns the exit status. See ``--help``.

    Examples
    --------
    >>> from wsprox.bench import main
    >>> main(["--quick", "--sizes", "100", "--dtype", "float64", "--inputs", "normal"])  # doctest: +SKIP
    0
    """
    args = _parser().parse_args(argv)
    _normalise(args)
    if args.openmp == "passive":
        passive_openmp()
    usable = missing = None
    if args.backend == "cuda":
        try:
            from .. import cuda

            cuda.require_device()
            usable, missing = device_arrays()
        except Exception as exc:  # noqa: BLE001 -- no module, no device: no such backend here
            print(f"wsprox.bench: --backend cuda is not usable here ({type(exc).__name__}: {exc})",
                  file=sys.stderr)
            return 2
        methods = _methods(args, cuda.SOLVERS)
    else:
        methods = _methods(args, wsprox.cpu.SOLVERS)
    with _busy(args.load):
        return _run(args, methods, usable, missing, argv)


@contextlib.contextmanager
def _busy(n):
    """A context with ``n`` busy processes (a spinning Python loop each) beside it."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def _run(args, methods, usable, missing, argv):
    baselines = not args.no_baselines
    policy = os.environ.get("OMP_WAIT_POLICY", "default")
    meta = {
        "backend": args.backend, "lam": args.lam, "repeat": args.repeat, "noise": NOISE,
        "argv": argv or sys.argv[1:], "threads": args.threads, "load": args.load,
        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(), "omp_wait_policy": policy,
    }
    print(f"wsprox.bench: backend={args.backend} lam={' '.join(f'{v:g}' for v in args.lam)} repeat={args.repeat} "
          f"loadavg={meta['loadavg_start'][0]:.1f} OMP_WAIT_POLICY={policy}")
    if args.backend == "cuda":
        arrays = args.array or [a for a in ARRAYS if a in usable]
        unusable = [a for a in arrays if a not in usable]
        if unusable:
            print(f"wsprox.bench: --array {' '.join(unusable)} is not usable here ("
                  + "; ".join(missing[a] for a in unusable) + ")", file=sys.stderr)
            return 2
        floor = device_floor(usable)
        meta.update(arrays=arrays, floor=floor[0] if baselines else None)
        print(f"device arrays: {', '.join(arrays)}"
              + "".join(f"; {a} skipped: {why}" for a, why in missing.items()))
        print((f"floor: {floor[0]} of the same data on the device (values and indices); " if baselines else "")
              + "every call synchronised before and after (wsprox.bench.time_cuda); '+back_to_back': "
                f"calls of at most {BACK_TO_BACK_MAX:,} entries one after the other, the mean")
        meta.update(_first_call())
        cases, converters = cuda_cases(methods, arrays, floor, baselines, usable), usable
    else:
        meta.update(arrays=["numpy"], floor="numpy.sort[f64]" if baselines else None)
        if baselines:
            print("floor: numpy.sort of a float64 array of the input's shape")
        cases, converters = cpu_cases(methods, baselines, args.threads or (None,)), {"torch": torch_view}
    print("median ms; 'x floor': time / the floor's"
          + ("; 'scipy/t': speed-up over the SciPy pipeline" if args.backend == "cpu" and baselines else ""))
    records = []
    last = {}  # (input, dtype, rows, lam, case key) -> (d, seconds) at the last size timed
    for name in args.inputs:
        for dtype in args.dtype:
            for rows, d in _shapes(args, family=name != "normal"):
                batch = f" rows={rows}" if rows > 1 else ""
                try:
                    w, own_lam = make_input(name, rows, d, dtype)
                except ValueError as exc:  # a family may not exist at every size and dtype
                    print(f"\n{name} {dtype}{batch} d={size(d)}: skipped ({exc})")
                    continue
                for lam in args.lam if own_lam is None else [own_lam]:
                    head = f"{name} {dtype}{batch} d={size(d)} lam={lam:.3g}"
                    group = Group(w, lam, args.repeat + 1, converters)
                    fields = {"input": name, "dtype": dtype, "rows": rows, "d": d, "lam": lam, "floor": meta["floor"]}
                    records += _time_group(head, group, fields, cases, last, args)
                    if args.json:
                        _write_json(args.json, meta, records)
    meta["versions"] = {m: sys.modules[m].__version__ for m in ("numpy", "numba", "torch", "cupy")
                        if m in sys.modules}
    if args.json:
        _write_json(args.json, meta, records)
    if args.backend == "cuda":
        method, goals = "auto", cuda_goals(records)
    else:
        method = _goal_method(methods)
        goals = cpu_goals(records, method, args.threads, load=args.load)
    if goals:
        print(f"\ngoals ({method}):\n  " + "\n  ".join(goals))
    return 0


def _goal_method(methods):
    """The method of the CPU goals: ``auto`` if timed, else PAVA (what auto picks), else the first."""
    return next((m for m in ("auto", "pava") if m in methods), methods[0])


def _first_call():
    """``first_call_cold_s`` and ``first_call_warm_s`` of the meta (None where the run failed), printed."""
    try:
        cold, warm = first_call_seconds()
    except RuntimeError as exc:
        print(f"first call of a new process: not measured ({exc})", file=sys.stderr)
        cold = warm = None
    else:
        print(f"first call of a new process (import wsprox, one CUDA prox of {ROW} float32 entries): {cold:.1f} s "
              f"with an empty Numba cache, {warm:.1f} s with the cache it left")
    return {"first_call_cold_s": cold, "first_call_warm_s": warm}


def _time_group(head, group, fields, cases, last, args):
    """Time the cases that apply to one group and fit the budget; print and return their records."""
    rows, d = fields["rows"], fields["d"]
    where = (fields["input"], fields["dtype"], rows, fields["lam"])
    shaped = [c for c in cases if c.applies(rows, d)]
    active = [c for c in shaped if not c.budgeted
              or _projected(last.get((*where, c.key())), d, c.method) * (args.repeat + 1) <= args.budget]
    skipped = [_label(c.backend, c.method, c.array, run_backend=args.backend) for c in shaped if c not in active]
    note = f"  skipped, projected over --budget {args.budget:g} s: {', '.join(skipped)}"
    if not any(c.role == "wsprox" for c in active):
        print(f"\n{head}\n{note}")
        return []
    times = [(c, c.timer(c.fn, c.args(group))) for c in active]
    for c, t in times:
        if c.budgeted:
            last[(*where, c.key())] = (d, t)
    records = _group_records(times, fields)
    _print_group(head, records, args.backend)
    if skipped:
        print(note)
    return records

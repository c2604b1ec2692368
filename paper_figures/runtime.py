r"""Figure 2, runtime versus d: every method beside numpy.sort and SciPy.

For random normal weights (``lam = 1``) and the worst case of imminent
collisions (:func:`wsprox.worstcase.growing_cluster`), the median wall time
of :func:`wsprox.prox` for every collision algorithm of the CPU backend
(``wsprox.cpu.SOLVERS``; new methods appear automatically), of one
``numpy.sort`` (the floor: every method sorts) and of the SciPy pipeline
(argsort, ``z = x + v``, ``scipy.optimize.isotonic_regression``, un-sort).
With a CUDA device (``numba.cuda.is_available()``) the CUDA backend is timed
too, through the same front door on a Numba device array, by
:func:`wsprox.bench.time_cuda` (the benchmark's definition of CUDA time: input
already on the device, synchronised before and after every call); without
one that is skipped and the output says so. A measurement whose
extrapolated time exceeds the budget (imminent collisions on the worst case
is quadratic) is skipped and recorded as such, and so is the worst case at a
size where float64 cannot hold it (:func:`wsprox.worstcase.growing_cluster`).
"""
import functools
import platform

import numba
import numpy as np

import wsprox
from wsprox.bench import scipy_prox, time_call, time_cuda

from ._common import Report, plt, progress, save_png, write_csv, write_json
from ._inputs import INPUTS, RANDOM_LAM, grow, make_input, method_names

NAME = "runtime"
SHOWS = "median seconds of wsprox.prox per method vs d (random and worst-case inputs), beside numpy.sort and SciPy"


def _cuda_status():
    """Whether to time the CUDA backend, and the line that says so."""
    try:
        import numba
        from numba import cuda
    except ImportError:
        return False, "CUDA: skipped, numba.cuda cannot be imported"
    if numba.config.ENABLE_CUDASIM:
        return False, "CUDA: skipped, NUMBA_ENABLE_CUDASIM is set (the simulator is not timed)"
    if not cuda.is_available():
        return False, "CUDA: skipped, numba.cuda.is_available() is False (no GPU on this machine)"
    return True, "CUDA: timed on the device (input already there, synchronised before and after each call)"


def _on_host(w):
    return w


def _contenders(with_cuda):
    """Name -> (prepare the input once, the timed call, its timer)."""
    out = {f"cpu {m}": (_on_host, functools.partial(_prox, method=m), time_call) for m in method_names()}
    if with_cuda:
        from wsprox import cuda

        out.update({f"cuda {m}": (cuda.to_device, functools.partial(_prox, method=m), time_cuda)
                    for m in cuda.SOLVERS})
    out["numpy.sort"] = (_on_host, lambda w, lam: np.sort(w), time_call)
    out["scipy pipeline"] = (_on_host, scipy_prox, time_call)
    return out


def _prox(w, lam, *, method):
    """The front door: host input on the CPU, a device array on CUDA."""
    return wsprox.prox(w, lam, method=method)


def make(out_dir, *, quick=False):
    report = Report(NAME, SHOWS)
    sizes = [10**k for k in range(2, 5 if quick else 8)]
    budget = 1.0 if quick else 20.0
    with_cuda, cuda_note = _cuda_status()
    contenders = _contenders(with_cuda)
    rows = []
    skipped, skipped_at = [], []     # the reasons, and (input, method, d) for the figure's markers
    for kind in INPUTS:
        history = {name: [] for name in contenders}
        for d in progress(sizes, f"runtime ({kind})"):
            try:
                w, lam = make_input(kind, d)
            except ValueError as exc:  # the worst case does not exist at every size
                skipped.append(f"{kind} at d={d}: {exc}")
                continue
            # many repeats where they are cheap: small sizes are the noisiest on a loaded machine
            repeats = (5 if quick else 15) if d <= 10**4 else 5 if d <= 10**5 else 3 if d <= 10**6 else 1
            for name, (prepare, fn, timer) in contenders.items():
                if not grow(history[name], d, budget):
                    skipped.append(f"{name} on {kind} at d={d} (extrapolated over {budget:g} s)")
                    skipped_at.append((kind, name, d))
                    continue
                try:
                    seconds = timer(fn, [(prepare(w), lam)] * (repeats + 1))
                except Exception as exc:  # noqa: BLE001 -- a backend that cannot take this method: record, go on
                    skipped.append(f"{name} on {kind} at d={d}: {type(exc).__name__}: {exc}")
                    skipped_at.append((kind, name, d))
                    continue
                history[name].append((d, seconds))
                rows.append({"input": kind, "d": d, "method": name, "seconds": seconds})

    fig, axes = plt.subplots(1, len(INPUTS), figsize=(12, 4.5), sharey=True)
    for ax, kind in zip(axes, INPUTS):
        for name in contenders:
            pts = [(r["d"], r["seconds"]) for r in rows if r["input"] == kind and r["method"] == name]
            if pts:
                style = "--" if name in ("numpy.sort", "scipy pipeline") else "-o"
                (line,) = ax.loglog(*zip(*pts), style, label=name, ms=4)
                # a cross at the first size skipped, at the height of the last one measured
                first_skip = min((d for k, n, d in skipped_at if k == kind and n == name), default=None)
                if first_skip is not None:
                    ax.plot(first_skip, pts[-1][1], "x", ms=9, mew=2, color=line.get_color())
        ax.set(title=f"{kind} input", xlabel="d", ylabel="median seconds")
        ax.tick_params(labelleft=True)
        ax.grid(True, which="major", alpha=0.3)
    axes[0].plot([], [], "kx", ms=9, mew=2, label="skipped from here on (over budget or unsupported)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"float64, lam = {RANDOM_LAM:g} on the random input (the family's own on the worst case); "
                 f"{numba.get_num_threads()} Numba threads; "
                 f"{platform.machine()} {platform.processor() or platform.system()}", fontsize=9)
    save_png(fig, out_dir, NAME, report)
    write_csv(rows, out_dir, NAME, report)
    write_json({"rows": rows, "skipped": skipped, "cuda": cuda_note, "sizes": sizes}, out_dir, NAME, report)

    report.lines.append(cuda_note)
    largest = max(sizes)
    for kind in INPUTS:
        at = {r["method"]: r["seconds"] for r in rows if r["input"] == kind and r["d"] == largest}
        if at:
            report.lines.append(f"{kind}, d={largest}: " + ", ".join(f"{m} {s * 1e3:.2f} ms" for m, s in at.items()))
    report.lines += [f"skipped: {s}" for s in skipped]
    return report

r"""Figure 3, rounds versus d: the parallel depth of each collision algorithm.

``wsprox.prox_result(w, lam, method=m).rounds`` counts what the paper's
complexity counts: rounds of imminent collisions (nearly flat on random
input, linear on :func:`wsprox.worstcase.growing_cluster`), levels times
binary-search steps of search collisions (polylogarithmic:
:math:`\le \lceil\log_2 d\rceil^2`), iterations of end collisions (one per
final cluster, so the number of clusters). The figure checks these three
claims on every size and records the verdicts.
"""
import math
import time

import numpy as np

import wsprox

from ._common import Report, plt, progress, save_png, write_csv, write_json
from ._inputs import INPUTS, grow, make_input, method_names

NAME = "rounds"
SHOWS = "parallel rounds vs d: imminent (flat on random, linear on worst case), search (polylog), end (= clusters)"


def _claims(rows):
    """The paper's complexity claims, checked on every measured row."""
    def holds(method, kind, test):
        sel = [r for r in rows if r["method"] == method and (kind is None or r["input"] == kind)]
        return {"checked": len(sel), "holds": all(test(r) for r in sel)}

    return {
        "imminent_collisions on worst case: rounds >= d - 1":
            holds("imminent_collisions", "worst case", lambda r: r["rounds"] >= r["d"] - 1),
        "search_collisions: rounds <= ceil(log2 d)^2":
            holds("search_collisions", None, lambda r: r["rounds"] <= math.ceil(math.log2(r["d"])) ** 2),
        "end_collisions: rounds <= n_clusters":
            holds("end_collisions", None, lambda r: r["rounds"] <= r["n_clusters"]),
    }


def make(out_dir, *, quick=False):
    report = Report(NAME, SHOWS)
    sizes = [2**k for k in range(6, 13 if quick else 21, 2)]
    budget = 3.0 if quick else 20.0
    methods = method_names()
    rows, skipped = [], []
    for kind in INPUTS:
        history = {m: [] for m in methods}
        for d in progress(sizes, f"rounds ({kind})"):
            try:
                w, lam = make_input(kind, d)
            except ValueError as exc:   # the worst case exists only while float64 holds its integers
                skipped.append(f"{kind} at d={d}: {exc}")
                continue
            for m in methods:
                if not grow(history[m], d, budget):
                    skipped.append(f"{m} on {kind} at d={d} (extrapolated over {budget:g} s)")
                    continue
                start = time.perf_counter()
                res = wsprox.prox_result(w, lam, method=m)
                history[m].append((d, time.perf_counter() - start))
                rows.append({"input": kind, "d": d, "method": m, "rounds": int(res.rounds),
                             "n_clusters": int(res.n_clusters)})
    claims = _claims(rows)

    fig, axes = plt.subplots(1, len(INPUTS), figsize=(12, 4.5), sharey=True)
    ds = np.array(sizes, dtype=float)
    for ax, kind in zip(axes, INPUTS):
        for m in methods:
            pts = [(r["d"], r["rounds"]) for r in rows if r["input"] == kind and r["method"] == m]
            if pts:
                ax.loglog(*zip(*pts), "-o", ms=4, label=m, zorder=3)
        # A wide grey band under the methods: end collisions' rounds equal the number of clusters,
        # and their line must stay visible on top of it.
        clusters = sorted({(r["d"], r["n_clusters"]) for r in rows if r["input"] == kind})
        ax.loglog(*zip(*clusters), color="0.75", lw=6, solid_capstyle="round", zorder=1,
                  label="number of clusters")
        ax.loglog(ds, np.ceil(np.log2(ds)) ** 2, "k--", lw=0.8, label="ceil(log2 d)^2")
        ax.set(title=f"{kind} input", xlabel="d", ylabel="rounds")
        ax.tick_params(labelleft=True)
        ax.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=8)
    save_png(fig, out_dir, NAME, report)
    write_csv(rows, out_dir, NAME, report)
    write_json({"rows": rows, "claims": claims, "skipped": skipped}, out_dir, NAME, report)

    for kind in INPUTS:
        by_d = {}
        for r in rows:
            if r["input"] == kind:
                by_d.setdefault(r["d"], {})[r["method"]] = r["rounds"]
        report.lines.append(f"{kind}: " + "; ".join(
            f"d={d}: " + " ".join(f"{m}={v}" for m, v in rounds.items()) for d, rounds in by_d.items()))
    report.lines += [f"claim {c}: {'holds' if v['holds'] else 'FAILS'} ({v['checked']} sizes)"
                     for c, v in claims.items()]
    report.lines += [f"skipped: {s}" for s in skipped]
    return report

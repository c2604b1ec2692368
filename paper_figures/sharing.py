r"""Figure 5, sharing versus strength: distinct weights and penalty as lam grows.

The plain ``Net_2FC`` of :mod:`paper_figures.shuffled_pixels` is trained
briefly, without regularization, on its shifted digits; its first layer
``W`` (144 c1 x 144) is then proxed at growing ``lam``. The number of
distinct weights (clusters) and the penalty :math:`R(\operatorname{prox}_{\lambda R}(W))`
fall monotonically (clusters never split: the semigroup property), down to
one shared value at the collapse threshold
:math:`\lambda^* = \max_k (d-1)(\bar x - \bar x_{1..k})/(d-k)`. The figure
checks monotonicity and the threshold.
"""
from dataclasses import replace

import numpy as np

import wsprox

from ._common import Report, plt, progress, save_png, write_csv, write_json
from .particles import collapse_threshold
from .shuffled_pixels import SCALES, reproducible, torus_digits, train

NAME = "sharing"
SHOWS = "distinct weights (clusters) and penalty R of the prox of a trained first layer vs lam, up to total collapse"


def make(out_dir, *, quick=False):
    report = Report(NAME, SHOWS)
    config = SCALES["quick"] if quick else replace(SCALES["default"], epochs=10, train_copies=1)
    X, y, _, _ = torus_digits(config)
    with reproducible():
        net, _ = train("FC", X, y, config, desc="sharing: train FC")
    W = net.fc1.weight.detach().numpy().astype(np.float64)
    threshold = collapse_threshold(W)
    lams = np.append(np.geomspace(1e-6 * threshold, 1.2 * threshold, 12 if quick else 40),
                     [threshold * (1 - 1e-6), threshold * (1 + 1e-9)])
    lams.sort()
    rows = []
    for lam in progress(lams, "sharing: prox"):
        res = wsprox.prox_result(W, lam)
        rows.append({"lam": float(lam), "n_clusters": int(res.n_clusters),
                     "distinct_fraction": res.n_clusters / W.size, "penalty": float(wsprox.penalty(res.x))})
    clusters = np.array([r["n_clusters"] for r in rows])
    penalties = np.array([r["penalty"] for r in rows])
    at = {r["lam"]: r["n_clusters"] for r in rows}
    claims = {
        "clusters never increase with lam": bool(np.all(np.diff(clusters) <= 0)),
        "penalty never increases with lam": bool(np.all(np.diff(penalties) <= 1e-9 * penalties[0])),
        "one cluster just above the collapse threshold": at[threshold * (1 + 1e-9)] == 1,
        "more than one just below it": at[threshold * (1 - 1e-6)] > 1,
    }

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.loglog(lams, clusters, "o-", ms=3, label="distinct weights (clusters)")
    ax.set(xlabel="lam", ylabel="distinct weights", title=f"first layer of a trained FC net, d = {W.size}")
    ax.axvline(threshold, color="k", ls=":", label="collapse threshold lam*")
    ax2 = ax.twinx()
    ax2.semilogx(lams, penalties, "C1s-", ms=3, label="penalty R(prox)")
    ax2.set_ylabel("penalty R(prox)", color="C1")
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], loc="lower left")
    save_png(fig, out_dir, NAME, report)
    write_csv(rows, out_dir, NAME, report)
    write_json({"d": W.size, "collapse_threshold": threshold, "R(W)": float(wsprox.penalty(W)),
                "rows": rows, "claims": claims}, out_dir, NAME, report)

    report.lines.append(f"d = {W.size}, R(W) = {wsprox.penalty(W):.4g}, collapse threshold lam* = {threshold:.4g}")
    for frac in (1e-4, 1e-2, 0.5):
        r = min(rows, key=lambda r: abs(np.log(r["lam"] / (frac * threshold))))
        report.lines.append(f"lam = {r['lam']:.3g}: {r['n_clusters']} distinct weights, R = {r['penalty']:.4g}")
    report.lines += [f"claim {c}: {'holds' if v else 'FAILS'}" for c, v in claims.items()]
    return report

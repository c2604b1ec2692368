r"""Figure 1, particles: the prox as perfectly inelastic collisions.

A dozen weights are unit-mass particles with velocities
:math:`v_r = \lambda(d + 1 - 2r)/(d - 1)` in sorted order; they stick when
they meet. :func:`wsprox.physics.trajectories` computes the collision times
exactly; the figure draws :math:`x_i(t)` for :math:`t \in [0, 1]`, marks the
collisions, and checks the claims: the positions at :math:`t = 1` are
:func:`wsprox.prox` and at every :math:`t` they are
:math:`\operatorname{prox}_{t\lambda R}` (the semigroup property).
"""
import numpy as np

import wsprox
from wsprox.physics import trajectories

from ._common import Report, plt, save_png, write_csv, write_json

NAME = "particles"
SHOWS = "exact trajectories x_i(t) of 12 weights under prox_{t lam R}, t in [0, 1], collisions marked, ending at the prox"


def collapse_threshold(w):
    r"""The smallest ``lam`` at which the prox is the mean of ``w`` (all weights shared).

    :math:`\lambda^* = \max_{1 \le k < d} (d-1)(\bar x - \bar x_{1..k})/(d-k)` on the sorted ``x``.
    """
    x = np.sort(np.ravel(w)).astype(np.float64)
    d = x.size
    k = np.arange(1, d)
    prefix = np.cumsum(x)[:-1] / k
    return float(np.max((d - 1) * (x.mean() - prefix) / (d - k)))


def make(out_dir, *, quick=False, d=12, seed=1):
    report = Report(NAME, SHOWS)
    # three loose groups of weights; lam at 0.4 of total collapse merges within groups first
    w = np.repeat([-1.5, 0.0, 1.5], -(-d // 3))[:d] + 0.4 * np.random.default_rng(seed).normal(size=d)
    lam = 0.4 * collapse_threshold(w)
    traj = trajectories(w, lam)
    t = np.union1d(np.linspace(0.0, 1.0, 201), traj.times)
    pos = traj.positions(t)
    prox = wsprox.prox(w, lam)
    checks = {
        "max |x(1) - prox(w, lam)|": float(np.abs(traj.positions(1.0) - prox).max()),
        "max over t |x(t) - prox(w, t lam)|": float(
            max(np.abs(traj.positions(s) - wsprox.prox(w, s * lam)).max() for s in t)
        ),
        "clusters at t=1": int(traj.starts(1.0).size - 1),
        "clusters of prox_result": int(wsprox.prox_result(w, lam).n_clusters),
    }

    fig, ax = plt.subplots(figsize=(7, 4.5))
    final = traj.labels(1.0)
    for i in range(d):
        ax.plot(t, pos[:, i], lw=1.2, color=f"C{final[i] % 10}")
    events = []
    for s, clusters in traj.events:
        at = traj.positions(s)
        for members in clusters:
            ax.plot(s, at[members[0]], "ko", ms=5)
            events.append({"t": s, "particles": members.tolist(), "position": float(at[members[0]])})
    ax.plot(np.ones(d), prox, "kx", ms=8, label="wsprox.prox(w, lam)")
    ax.plot([], [], "ko", label="collision")
    ax.set(xlabel="t", ylabel="position $x_i(t) = \\mathrm{prox}_{t\\lambda R}(w)_i$",
           title=f"{d} weights, lam = {lam:.3g}: {len(events)} collisions, "
                 f"{checks['clusters at t=1']} clusters at t = 1")
    ax.legend(loc="best")
    save_png(fig, out_dir, NAME, report)

    write_csv([{"t": float(s), **{f"x{i}": float(p) for i, p in enumerate(row)}} for s, row in zip(t, pos)],
              out_dir, NAME, report)
    write_json({"w": w, "lam": lam, "events": events, "prox": prox, "checks": checks}, out_dir, NAME, report)
    report.lines += [f"{k}: {v:.3g}" if isinstance(v, float) else f"{k}: {v}" for k, v in checks.items()]
    return report

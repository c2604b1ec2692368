"""Particles: the prox at time t, prox_{t lam R}(w), for t in [0, 1].

Each weight is a particle moving at its velocity; particles that meet stick.
The positions at time t are the prox with penalty weight t*lam, so the
trajectories below are computed with wsprox.prox on a fine grid of t.
"""
import matplotlib.pyplot as plt
import numpy as np

import wsprox

w = np.random.default_rng(7).uniform(-1.0, 1.0, size=12)
lam = 0.6
t = np.linspace(0.0, 1.0, 401)
paths = np.array([wsprox.prox(w, s * lam) for s in t])
end = wsprox.prox_result(w, lam)
rank = np.argsort(np.argsort(w))

fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.8), width_ratios=(2, 1))
for i in range(w.size):
    left.plot(t, paths[:, i], color=plt.cm.viridis(rank[i] / (w.size - 1)), lw=1.4)
left.scatter(np.zeros(w.size), w, s=14, color="k", zorder=3, label="weights w (t = 0)")
left.scatter(np.ones(w.size), end.x, s=14, color="C3", zorder=3,
             label=f"prox (t = 1): {end.n_clusters} shared values")
left.set_xlabel("time t  (penalty weight t * lam)")
left.set_ylabel("position")
left.set_title(f"12 particles, lam = {lam}")
left.legend(loc="upper right", fontsize=8, frameon=False)

lams = np.geomspace(1e-3, 10.0, 60)
v = np.random.default_rng(0).normal(size=1000)
right.semilogx(lams, [wsprox.prox_result(v, s).n_clusters for s in lams], color="C0")
right.set_xlabel("lam")
right.set_ylabel("number of shared values")
right.set_title("d = 1000")

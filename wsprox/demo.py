"""A short demonstration: ``python -m wsprox.demo``.

Prints the prox of a random layer for growing ``lam``: the number of shared
values, the penalty, and the optimality certificate.
"""
import time

import numpy as np

import wsprox


def main(d: int = 100_000) -> None:
    w = np.random.default_rng(0).normal(size=d)
    print(f"d = {d}, R(w) = {wsprox.penalty(w):.4f}")
    print(f"{'lam':>8} {'clusters':>9} {'R(prox)':>9} {'residual':>10} {'optimal':>8} {'ms':>7}")
    for lam in (0.0, 0.01, 0.1, 1.0, 10.0):
        t0 = time.perf_counter()
        res = wsprox.prox_result(w, lam)
        ms = 1e3 * (time.perf_counter() - t0)
        cert = wsprox.check_optimality(w, res.x, lam)
        print(f"{lam:8.2f} {res.n_clusters:9d} {wsprox.penalty(res.x):9.4f} "
              f"{cert.residual:10.2e} {cert.optimal!s:>8} {ms:7.1f}")


if __name__ == "__main__":
    main()

"""The inputs of the runtime and rounds figures: random and worst case."""
import numpy as np

__all__ = ["INPUTS", "RANDOM_LAM", "grow", "make_input", "method_names"]

#: Penalty weight for the random input (standard normal weights).
RANDOM_LAM = 1.0

#: Costs below this many seconds count as this much when extrapolating.
FLOOR = 1e-3

#: Input kinds: random normal, and the family that makes imminent collisions take d rounds.
INPUTS = ("random", "worst case")


def make_input(kind, d, seed=0):
    """``(w, lam)`` of kind ``"random"`` or ``"worst case"`` and length ``d``.

    The worst case, :func:`wsprox.worstcase.growing_cluster`, raises a
    ValueError at sizes whose integers float64 does not hold (``d > 208064``).
    """
    if kind == "random":
        return np.random.default_rng(seed).normal(size=d), RANDOM_LAM
    from wsprox.worstcase import growing_cluster

    return growing_cluster(d, seed=seed)


def method_names():
    """Every collision algorithm of the CPU backend (new methods appear automatically)."""
    from wsprox import cpu

    return list(cpu.SOLVERS)


def grow(history, d, budget):
    """Whether a measurement at ``d`` fits ``budget`` (seconds or rounds x d work).

    ``history`` holds ``(d, cost)`` of the smaller sizes already measured; the
    cost at ``d`` is extrapolated with the slope of the last two points (at
    least linear), so quadratic cases stop before they take minutes.
    """
    if len(history) < 2:
        return True
    (d0, c0), (d1, c1) = history[-2:]
    c0, c1 = max(c0, FLOOR), max(c1, FLOOR)  # below a millisecond, timings are noise
    slope = max(1.0, np.log(c1 / c0) / np.log(d1 / d0))
    return c1 * (d / d1) ** slope <= budget

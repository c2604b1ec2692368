r"""Block arithmetic shared by the CPU collision algorithms.

A block (cluster) of sorted particles :math:`a..b` (0-based, inclusive) moves
at the mean of its velocities, which has the closed form

.. math::

    \bar v_{a..b} = \frac{\lambda}{b-a+1}\sum_{k=a}^{b} \frac{d-1-2k}{d-1}
                  = \lambda\,\frac{d - 1 - a - b}{d - 1},

so its position at time 1 (its value in the isotonic regression of
:math:`z = x + v`) is :math:`\operatorname{mean}(x_a..x_b) + \bar v_{a..b}`.
Using the closed form instead of summing the velocities keeps block values
accurate however long the block. :func:`block_value` evaluates it as one
quotient,

.. math::

    \frac{(d-1)\sum_{k=a}^{b} x_k + \lambda\, n\,(d-1-a-b)}{n\,(d-1)},
    \qquad n = b - a + 1,

whose numerator is exact for integer data and dyadic ``lam`` (of moderate
size); a correctly rounded quotient of exact numbers gives equal results for
blocks of exactly equal value, so the collision algorithms see the exact ties
of such inputs as ties and all find the exact partition.
"""
from numba import njit

__all__ = ["block_mean", "block_value", "soft_threshold"]


def _block_value(total, lam, d, a, b):
    """Position at time 1 of block ``a..b`` whose sorted values sum to ``total``."""
    n = b - a + 1
    if d <= 1 or lam == 0.0:           # no velocities: the plain mean, exact for singletons
        return total / n
    return (total * (d - 1) + lam * (n * (d - 1 - a - b))) / (n * (d - 1))


def _block_mean(x, lam, a, e):
    """Value of the block ``x[a:e]`` of the sorted row ``x``: its first value
    plus the compensated (Neumaier) sum of the offsets from it. Accurate to a
    few ulps however long the block (the certificate's tolerance expects it),
    and a block of equal values gets exactly that value."""
    x0 = x[a]
    total = 0.0
    carry = 0.0
    for k in range(a + 1, e):
        v = x[k] - x0
        t = total + v
        if abs(total) >= abs(v):
            carry += (total - t) + v
        else:
            carry += (v - t) + total
        total = t
    return x0 + block_value(total + carry, lam, x.shape[0], a, e - 1)


def _soft_threshold(v, l1):
    """``sign(v) max(|v| - l1, 0)``: the prox of ``l1 |.|`` after the blocks' values."""
    if v > l1:
        return v - l1
    if v < -l1:
        return v + l1
    return 0.0


#: The host kernels' block arithmetic; :mod:`wsprox.cuda.blocks` compiles the
#: same Python functions for the device, so both backends see the same ties.
block_value = njit(cache=True, inline="always")(_block_value)
block_mean = njit(cache=True, inline="always")(_block_mean)
soft_threshold = njit(cache=True, inline="always")(_soft_threshold)

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

__all__ = ["block_velocity", "block_value"]


@njit(cache=True, inline="always")
def block_velocity(lam, d, a, b):
    """Mean velocity of the block of sorted particles ``a..b`` (0-based)."""
    if d <= 1:
        return 0.0
    return lam * (d - 1 - a - b) / (d - 1)


@njit(cache=True, inline="always")
def block_value(total, lam, d, a, b):
    """Position at time 1 of block ``a..b`` whose sorted values sum to ``total``."""
    n = b - a + 1
    if d <= 1 or lam == 0.0:           # no velocities: the plain mean, exact for singletons
        return total / n
    return (total * (d - 1) + lam * (n * (d - 1 - a - b))) / (n * (d - 1))

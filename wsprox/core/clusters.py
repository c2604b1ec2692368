r"""Cluster arithmetic of both backends: a cluster's value, the soft-threshold, the settle.

A cluster of sorted particles :math:`a..b` (0-based, inclusive) moves at the
mean of its velocities, which has the closed form

.. math::

    \bar v_{a..b} = \frac{\lambda}{b-a+1}\sum_{k=a}^{b} \frac{d-1-2k}{d-1}
                  = \lambda\,\frac{d - 1 - a - b}{d - 1},

so its position at time 1 (its value in the isotonic regression of
:math:`z = x + v`) is :math:`\operatorname{mean}(x_a..x_b) + \bar v_{a..b}`.
Using the closed form instead of summing the velocities keeps cluster values
accurate however long the cluster. :func:`cluster_value` evaluates it as one
quotient,

.. math::

    \frac{(d-1)\sum_{k=a}^{b} x_k + \lambda\, n\,(d-1-a-b)}{n\,(d-1)},
    \qquad n = b - a + 1,

whose numerator is exact for integer data and dyadic ``lam`` (of moderate
size); a correctly rounded quotient of exact numbers gives equal results for
clusters of exactly equal value, so the collision algorithms see the exact
ties of such inputs as ties and all find the exact partition.

The prox of a cluster is its value soft-thresholded by ``l1``
(:func:`soft_threshold`), after a running max over the row's clusters
(:func:`settle_values`): rounding can leave neighbouring clusters a few ulps
out of the order the exact answer has, and the running max restores it.

The functions are plain Python, compiled here for the host
(``njit(inline="always")``) and by :mod:`wsprox.cuda.clusters` for the
device, so that both backends compute bit-identical cluster values.

Examples
--------
The cluster ``0..1`` of a row of 3 whose values sum to 3 (``lam = 2``), and a
row's values settled with ``l1 = 0.5``:

>>> import numpy as np
>>> cluster_value(3.0, 2.0, 3, 0, 1)
2.5
>>> values = np.array([1.0, 0.5, 3.0])
>>> settle_values(values, 3, 0.5)
>>> values.tolist()
[0.5, 0.5, 2.5]
"""
import math

from numba import njit

__all__ = ["cluster_mean", "cluster_value", "settle_values", "soft_threshold"]


def _cluster_value(total, lam, d, a, b):
    """Position at time 1 of the cluster ``a..b`` whose sorted values sum to ``total``."""
    n = b - a + 1
    if d <= 1 or lam == 0.0:           # no velocities: the plain mean, exact for singletons
        return total / n
    return (total * (d - 1) + lam * (n * (d - 1 - a - b))) / (n * (d - 1))


def _cluster_mean(x, lam, a, e):
    """Value of the cluster ``x[a:e]`` of the sorted row ``x``: its first value
    plus the compensated (Neumaier) sum of the offsets from it. Accurate to a
    few ulps however long the cluster (the certificate's tolerance expects it),
    and a cluster of equal values gets exactly that value."""
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
    return x0 + cluster_value(total + carry, lam, x.shape[0], a, e - 1)


def _soft_threshold(v, l1):
    """``sign(v) max(|v| - l1, 0)``: the prox of ``l1 |.|`` after the clusters' values."""
    if v > l1:
        return v - l1
    if v < -l1:
        return v + l1
    return 0.0


def _settle_values(values, n, l1):
    """Replace the values of a row's clusters ``values[:n]``, in order, by their
    running max, soft-thresholded: the prox of each cluster.

    The soft-threshold is non-decreasing, so it commutes with the max: a row
    settled in parts is the row settled whole once every part is raised to
    the last value of the parts before it.
    """
    top = -math.inf
    for b in range(n):
        top = max(values[b], top)
        values[b] = soft_threshold(top, l1)


cluster_value = njit(cache=True, inline="always")(_cluster_value)
cluster_mean = njit(cache=True, inline="always")(_cluster_mean)
soft_threshold = njit(cache=True, inline="always")(_soft_threshold)
settle_values = njit(cache=True)(_settle_values)

r"""Hard inputs for the prox and its collision algorithms.

Every generator has the same interface,

``family(d, *, seed=0) -> (w, lam)``
    ``w`` is a float64 vector of length ``d`` and ``lam`` a penalty weight at
    which the family is hard (or interesting); ``seed`` fixes the random ones
    and is ignored by the deterministic ones.

and :data:`FAMILIES` maps their names to them, so tests and benchmarks can
iterate over all of them:

>>> import wsprox
>>> from wsprox.worstcase import FAMILIES
>>> for name, family in FAMILIES.items():
...     w, lam = family(50)
...     assert w.shape == (50,) and w.dtype == "float64" and lam >= 0
>>> sorted(FAMILIES)[:3]
['all_equal', 'geometric', 'growing_cluster']

The families:

* :func:`growing_cluster` -- one cluster absorbs a single particle per round:
  imminent collisions need ``d`` rounds;
* :func:`ties`, :func:`all_equal`, :func:`two_far_clusters`,
  :func:`geometric`, :func:`polynomial`, :func:`huge`, :func:`tiny` --
  degenerate orders, spacings and magnitudes;
* :func:`naive_pava_quadratic` -- the family that makes a naive PAVA
  quadratic.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "FAMILIES",
    "growing_cluster",
    "ties",
    "all_equal",
    "two_far_clusters",
    "geometric",
    "polynomial",
    "huge",
    "tiny",
    "naive_pava_quadratic",
]


def growing_cluster(d, *, seed=0):
    r"""A cluster that absorbs exactly one particle per round of imminent collisions.

    Construction. Write :math:`c = 2\lambda/(d-1)` for the velocity gap of
    neighbouring particles, so sorted ``x`` gives :math:`z_k = x_k + v_k` with
    :math:`z_{k+1} - z_k = x_{k+1} - x_k - c`. Take a tie :math:`x_0 = x_1`
    (then :math:`z_0 = z_1 + c`) and after it steps of :math:`c + \delta`,
    :math:`x_k = (k-1)(c + \delta)` for :math:`k \ge 1`, so that
    :math:`z_k = z_1 + (k-1)\delta` increases from particle 1 on. A round of
    imminent collisions merges only runs on which ``z`` does not increase; the
    only one is, at first, :math:`\{0, 1\}`, and after ``t - 1`` rounds the
    cluster :math:`0..t-1` with mean

    .. math::

        m_t = \frac{z_0 + z_1 + \dots + z_{t-1}}{t}
            = z_1 + \frac{c + \delta (t-1)(t-2)/2}{t}

    is the only out-of-order neighbour of particle ``t`` exactly when
    :math:`m_t \ge z_t = z_1 + (t-1)\delta`, that is when
    :math:`\delta (t-1)(t+2)/2 \le c`. With :math:`\delta = 1` and
    :math:`c = 2d^2` this holds for every :math:`t \le d-1` with a margin of
    more than :math:`d` in :math:`m_t - z_t`, so round ``t`` merges particle
    ``t`` and nothing else: :math:`d - 1` merging rounds (plus the round that
    finds nothing left), ending in a single cluster. End collisions, by
    contrast, need one iteration and search collisions
    :math:`O(\log^2 d)` steps.

    All numbers are integers (``lam = d^2 (d-1)``, ``x`` below
    :math:`2 d^3` in magnitude after centring), exact in float64, and the
    margins exceed the rounding of every block value while
    :math:`d^3 \ll 2^{53}`; the round count is guaranteed for
    :math:`d \le 2^{16}`.

    Examples
    --------
    >>> import wsprox
    >>> from wsprox.worstcase import growing_cluster
    >>> w, lam = growing_cluster(64)
    >>> res = wsprox.prox_result(w, lam, method="imminent_collisions")
    >>> res.rounds, res.n_clusters
    (64, 1)
    """
    d = _check_size(d)
    if d == 1:
        return np.zeros(1), 1.0
    c = 2 * d * d
    k = np.arange(d, dtype=np.int64)
    x = np.maximum(k - 1, 0) * (c + 1)
    x -= x[d // 2]  # centre: halves the magnitudes, keeps every value an integer
    return x.astype(np.float64), float(d * d * (d - 1))


def ties(d, *, seed=0):
    """Random integers from a pool of about ``sqrt(d)`` values: many large ties.

    Examples
    --------
    >>> from wsprox.worstcase import ties
    >>> w, lam = ties(100)
    >>> len(set(w.tolist())) <= 10
    True
    """
    d = _check_size(d)
    pool = max(1, int(np.sqrt(d)))
    w = np.random.default_rng(seed).integers(0, pool, d).astype(np.float64)
    return w, 0.5 * pool


def all_equal(d, *, seed=0):
    """Every entry equal: one cluster at any ``lam``, ties broken by the sort.

    Examples
    --------
    >>> import wsprox
    >>> from wsprox.worstcase import all_equal
    >>> w, lam = all_equal(5)
    >>> wsprox.prox(w, lam)
    array([3., 3., 3., 3., 3.])
    """
    d = _check_size(d)
    return np.full(d, 3.0), 1.0


def two_far_clusters(d, *, seed=0):
    """Two tight groups ``2e6`` apart: each collapses, the two never meet.

    Examples
    --------
    >>> import wsprox
    >>> from wsprox.worstcase import two_far_clusters
    >>> w, lam = two_far_clusters(200)
    >>> wsprox.prox_result(w, lam).n_clusters
    2
    """
    d = _check_size(d)
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d) + np.where(np.arange(d) < d // 2, -1e6, 1e6)
    return w, 20.0


def geometric(d, *, seed=0):
    """Magnitudes spread geometrically from ``1e-8`` to ``1e8``, signs alternating.

    Examples
    --------
    >>> from wsprox.worstcase import geometric
    >>> w, lam = geometric(3)
    >>> w
    array([ 1.e-08, -1.e+00,  1.e+08])
    """
    d = _check_size(d)
    return np.geomspace(1e-8, 1e8, d) * np.where(np.arange(d) % 2, -1.0, 1.0), 1.0


def polynomial(d, *, seed=0):
    """Cubic spacing ``(k/d - 1/2)^3``: gaps from about ``1/d^3`` to ``1/d``.

    Examples
    --------
    >>> from wsprox.worstcase import polynomial
    >>> w, lam = polynomial(4)
    >>> w
    array([-0.125   , -0.015625,  0.      ,  0.015625])
    """
    d = _check_size(d)
    return (np.arange(d) / d - 0.5) ** 3, 0.01


def huge(d, *, seed=0):
    """Normal values scaled by ``1e150`` (sums stay finite).

    Examples
    --------
    >>> from wsprox.worstcase import huge
    >>> w, lam = huge(3)
    >>> bool(abs(w).max() > 1e149), lam
    (True, 1e+150)
    """
    d = _check_size(d)
    return np.random.default_rng(seed).standard_normal(d) * 1e150, 1e150


def tiny(d, *, seed=0):
    """Normal values scaled by ``1e-150`` (no subnormals in the velocities).

    Examples
    --------
    >>> from wsprox.worstcase import tiny
    >>> w, lam = tiny(3)
    >>> bool(abs(w).max() < 1e-149), lam
    (True, 1e-150)
    """
    d = _check_size(d)
    return np.random.default_rng(seed).standard_normal(d) * 1e-150, 1e-150


def naive_pava_quadratic(d, *, seed=0):
    """``np.r_[np.arange(n), np.arange(-(n-1), n), np.arange(-(n-1), 1)]``, cut to length ``d``.

    The family on which a naive pool-adjacent-violators (one that rescans
    from the start after each merge) is quadratic: ``n`` is the smallest with
    ``4n - 1 >= d``. Here it is the input ``w``, which the prox sorts: it
    becomes groups of two or three ties.

    Examples
    --------
    >>> from wsprox.worstcase import naive_pava_quadratic
    >>> naive_pava_quadratic(10)[0]
    array([ 0.,  1.,  2., -2., -1.,  0.,  1.,  2., -2., -1.])
    """
    d = _check_size(d)
    n = (d + 4) // 4
    w = np.r_[np.arange(n), np.arange(-(n - 1), n), np.arange(-(n - 1), 1)]
    return w[:d].astype(np.float64), 1.0


def _check_size(d):
    d = int(d)
    if d < 1:
        raise ValueError(f"d must be a positive integer, got {d}")
    return d


#: Every family, by name.
FAMILIES = {
    "growing_cluster": growing_cluster,
    "ties": ties,
    "all_equal": all_equal,
    "two_far_clusters": two_far_clusters,
    "geometric": geometric,
    "polynomial": polynomial,
    "huge": huge,
    "tiny": tiny,
    "naive_pava_quadratic": naive_pava_quadratic,
}

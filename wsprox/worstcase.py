r"""Hard inputs for the prox and its collision algorithms.

Every generator has the same interface,

``family(d, *, seed=0, dtype=numpy.float64) -> (w, lam)``
    ``w`` is a vector of length ``d`` and dtype ``dtype`` (float32 or
    float64) and ``lam`` a penalty weight at which the family is hard (or
    interesting); ``seed`` fixes the random ones and is ignored by the
    deterministic ones.

and :data:`FAMILIES` maps their names to them, so tests and benchmarks can
iterate over all of them:

>>> import wsprox
>>> from wsprox.worstcase import FAMILIES
>>> for name, family in FAMILIES.items():
...     for dtype in ("float32", "float64"):
...         w, lam = family(50, dtype=dtype)
...         assert w.shape == (50,) and w.dtype == dtype and lam >= 0
>>> sorted(FAMILIES)[:3]
['all_equal', 'geometric', 'growing_cluster']

Each family is generated *for* the dtype, so that it keeps its purpose
there: :func:`huge` and :func:`tiny` take magnitudes that float32 holds
(``1e30`` and ``1e-25`` instead of ``1e150`` and ``1e-150``), and the
families built of large integers (:func:`growing_cluster`,
:func:`naive_pava_quadratic`) raise a ValueError at a size whose integers the
dtype cannot hold exactly (above :math:`2^{24}` in float32, :math:`2^{53}` in
float64), rather than return rounded values that are no longer the
construction.

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
    "all_equal",
    "geometric",
    "growing_cluster",
    "huge",
    "naive_pava_quadratic",
    "polynomial",
    "ties",
    "tiny",
    "two_far_clusters",
]


def growing_cluster(d, *, seed=0, dtype=np.float64):
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
    :math:`d \le 2^{16}`. The integers reach about :math:`d^3`: float64
    holds them exactly up to :math:`d = 208064` (below :math:`2^{53}`),
    float32 up to :math:`d = 256` (below :math:`2^{24}`); beyond, rounding
    would merge many particles per round and the family would not be itself,
    so a larger ``d`` raises a ValueError.

    Examples
    --------
    >>> import wsprox
    >>> from wsprox.worstcase import growing_cluster
    >>> w, lam = growing_cluster(64)
    >>> res = wsprox.prox_result(w, lam, method="imminent_collisions")
    >>> res.rounds, res.n_clusters
    (64, 1)
    >>> wsprox.prox_result(*growing_cluster(64, dtype="float32"), method="imminent_collisions").rounds
    64
    """
    d, dtype = _check_size(d), _check_dtype(dtype)
    if d == 1:
        return np.zeros(1, dtype), 1.0
    c = 2 * d * d
    lam = d * d * (d - 1)
    _check_integers("growing_cluster", d, max(lam, (d - 1 - d // 2) * (c + 1)), dtype)
    k = np.arange(d, dtype=np.int64)
    x = np.maximum(k - 1, 0) * (c + 1)
    x -= x[d // 2]  # centre: halves the magnitudes, keeps every value an integer
    return x.astype(dtype), float(lam)


def ties(d, *, seed=0, dtype=np.float64):
    """Random integers from a pool of about ``sqrt(d)`` values: many large ties.

    Examples
    --------
    >>> from wsprox.worstcase import ties
    >>> w, lam = ties(100)
    >>> len(set(w.tolist())) <= 10
    True
    """
    d, dtype = _check_size(d), _check_dtype(dtype)
    pool = max(1, int(np.sqrt(d)))
    return np.random.default_rng(seed).integers(0, pool, d).astype(dtype), 0.5 * pool


def all_equal(d, *, seed=0, dtype=np.float64):
    """Every entry equal: one cluster at any ``lam``, ties broken by the sort.

    Examples
    --------
    >>> import wsprox
    >>> from wsprox.worstcase import all_equal
    >>> w, lam = all_equal(5)
    >>> wsprox.prox(w, lam)
    array([3., 3., 3., 3., 3.])
    """
    d, dtype = _check_size(d), _check_dtype(dtype)
    return np.full(d, 3.0, dtype), 1.0


def two_far_clusters(d, *, seed=0, dtype=np.float64):
    """Two tight groups ``2e6`` apart: each collapses, the two never meet.

    In float32 the unit offsets inside a group are rounded to multiples of
    ``1/16`` (the spacing at ``1e6``): the groups stay tight.

    Examples
    --------
    >>> import wsprox
    >>> from wsprox.worstcase import two_far_clusters
    >>> w, lam = two_far_clusters(200)
    >>> wsprox.prox_result(w, lam).n_clusters
    2
    """
    d, dtype = _check_size(d), _check_dtype(dtype)
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d) + np.where(np.arange(d) < d // 2, -1e6, 1e6)
    return w.astype(dtype), 20.0


def geometric(d, *, seed=0, dtype=np.float64):
    """Magnitudes spread geometrically from ``1e-8`` to ``1e8``, signs alternating.

    Examples
    --------
    >>> from wsprox.worstcase import geometric
    >>> w, lam = geometric(3)
    >>> w
    array([ 1.e-08, -1.e+00,  1.e+08])
    """
    d, dtype = _check_size(d), _check_dtype(dtype)
    w = np.geomspace(1e-8, 1e8, d) * np.where(np.arange(d) % 2, -1.0, 1.0)
    return w.astype(dtype), 1.0


def polynomial(d, *, seed=0, dtype=np.float64):
    """Cubic spacing ``(k/d - 1/2)^3``: gaps from about ``1/d^3`` to ``1/d``.

    Examples
    --------
    >>> from wsprox.worstcase import polynomial
    >>> w, lam = polynomial(4)
    >>> w
    array([-0.125   , -0.015625,  0.      ,  0.015625])
    """
    d, dtype = _check_size(d), _check_dtype(dtype)
    return ((np.arange(d) / d - 0.5) ** 3).astype(dtype), 0.01


def huge(d, *, seed=0, dtype=np.float64):
    """Normal values scaled by ``1e150`` (float32: ``1e30``), and ``lam`` as large.

    Near the top of the dtype's range, yet far enough below it that sums of
    ``d <= 1e8`` values stay finite (the squares of float64's do too): the
    overflow scaling of the prox at work.

    Examples
    --------
    >>> from wsprox.worstcase import huge
    >>> w, lam = huge(3)
    >>> bool(abs(w).max() > 1e149), lam
    (True, 1e+150)
    >>> w, lam = huge(3, dtype="float32")
    >>> bool(abs(w).max() > 1e29), lam
    (True, 1e+30)
    """
    d, dtype = _check_size(d), _check_dtype(dtype)
    scale = {np.float64: 1e150, np.float32: 1e30}[dtype.type]
    return (np.random.default_rng(seed).standard_normal(d) * scale).astype(dtype), scale


def tiny(d, *, seed=0, dtype=np.float64):
    r"""Normal values scaled by ``1e-150`` (float32: ``1e-25``), and ``lam`` as small.

    Near the bottom of the dtype's range, yet far enough above it that the
    values and the velocity step :math:`2\lambda/(d-1)` are normal numbers,
    not subnormal or zero, for ``d <= 1e8``.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.worstcase import tiny
    >>> w, lam = tiny(3)
    >>> bool(abs(w).max() < 1e-149), lam
    (True, 1e-150)
    >>> w, lam = tiny(3, dtype="float32")
    >>> bool(abs(w).min() > np.finfo(np.float32).tiny), lam
    (True, 1e-25)
    """
    d, dtype = _check_size(d), _check_dtype(dtype)
    scale = {np.float64: 1e-150, np.float32: 1e-25}[dtype.type]
    return (np.random.default_rng(seed).standard_normal(d) * scale).astype(dtype), scale


def naive_pava_quadratic(d, *, seed=0, dtype=np.float64):
    """``np.r_[np.arange(n), np.arange(-(n-1), n), np.arange(-(n-1), 1)]``, cut to length ``d``.

    The family on which a naive pool-adjacent-violators (one that rescans
    from the start after each merge) is quadratic: ``n`` is the smallest with
    ``4n - 1 >= d``. Here it is the input ``w``, which the prox sorts: it
    becomes groups of two or three ties. float32 holds its integers up to
    :math:`n = 2^{24}` (``d`` about ``6.7e7``): a larger ``d`` raises a
    ValueError there.

    Examples
    --------
    >>> from wsprox.worstcase import naive_pava_quadratic
    >>> naive_pava_quadratic(10)[0]
    array([ 0.,  1.,  2., -2., -1.,  0.,  1.,  2., -2., -1.])
    """
    d, dtype = _check_size(d), _check_dtype(dtype)
    n = (d + 4) // 4
    _check_integers("naive_pava_quadratic", d, n - 1, dtype)
    w = np.r_[np.arange(n), np.arange(-(n - 1), n), np.arange(-(n - 1), 1)]
    return w[:d].astype(dtype), 1.0


def _check_size(d):
    d = int(d)
    if d < 1:
        raise ValueError(f"d must be a positive integer, got {d}")
    return d


def _check_dtype(dtype):
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def _check_integers(name, d, largest, dtype):
    """A ValueError unless ``dtype`` holds every integer up to ``largest`` exactly."""
    bits = np.finfo(dtype).nmant + 1
    if largest > 2**bits:
        raise ValueError(f"{name}(d={d}) is made of integers up to {largest:.3g}, which {dtype} does not "
                         f"hold exactly (above 2^{bits}); take a smaller d")


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

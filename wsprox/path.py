r"""The exact :math:`\lambda` path of the prox, and solution paths of the composite problem.

The prox path
    As :math:`\lambda` grows from 0, :math:`\operatorname{prox}_{\lambda R}(w)`
    is the sticky-particle system of :mod:`wsprox.physics` read at time
    :math:`\lambda` with unit velocities :math:`v_r = (d+1-2r)/(d-1)` on the
    sorted :math:`x = \operatorname{sort}(w)`: clusters only ever merge. A
    cluster of sorted ranks :math:`a..b` (1-based) sits at
    :math:`\operatorname{mean}(x_a..x_b) + \lambda (d+1-a-b)/(d-1)`, and two
    neighbouring clusters :math:`L` (left) and :math:`R` of masses
    :math:`m_L, m_R` meet at

    .. math::

        \lambda_{LR} = \frac{(d-1)\,(\bar x_R - \bar x_L)}{m_L + m_R}.

    :func:`prox_path` computes every merge event, the :math:`\lambda` at
    which each boundary between sorted neighbours disappears, with a binary
    heap of the meeting times of neighbouring clusters (the earliest valid
    one merges its pair, stale entries are skipped): one sort and at most
    :math:`d - 1` merges of :math:`O(\log d)`, compiled with Numba. The
    result answers, for every :math:`\lambda` at once, how many clusters the
    prox has, which entries share a value, the prox itself, and the
    :math:`\lambda` at which :math:`K` clusters remain.
The collapse threshold
    Everything is one cluster (the prox is :math:`\operatorname{mean}(w)`
    everywhere) exactly when

    .. math::

        \lambda \ge \lambda_{\max} = \max_{1 \le k < d}
        \frac{(d-1)\,(\operatorname{mean}(x) - \operatorname{mean}(x_1..x_k))}{d-k},

    the last merge of the path; :func:`collapse_threshold` evaluates the
    formula directly in :math:`O(d \log d)`.
Solution paths
    :func:`solution_path` solves :math:`\min_x f(x) + \lambda R(x) +
    \ell_1\|x\|_1` (:func:`wsprox.optimize.minimize_composite`) over a grid
    of :math:`\lambda`, from the largest down, each solve warm-started at
    the solution of the previous one.

The prox path is that of :math:`\lambda R` alone: with an L1 term the prox is
that path soft-thresholded, whose zero cluster can split again as
:math:`\lambda` grows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from ._validation import check_penalty_weight
from .core.validation import as_float_array
from .optimize import minimize_composite

__all__ = ["ProxPath", "SolutionPath", "collapse_threshold", "prox_path", "solution_path"]


@dataclass(frozen=True)
class ProxPath:
    r"""The merge events of :math:`\operatorname{prox}_{\lambda R}(w)` for all :math:`\lambda \ge 0`.

    Attributes
    ----------
    w : ndarray of float64
        The input, flattened.
    order : ndarray of int64
        ``argsort(w)``: sorted rank ``k`` is entry ``order[k]``.
    merge_lams : ndarray of float64, shape (d - 1,)
        ``merge_lams[k]`` is the :math:`\lambda` at which the entries of
        sorted ranks ``k`` and ``k + 1`` (0-based) come to share a value;
        0 for ties of ``w``.

    Examples
    --------
    >>> from wsprox.path import prox_path
    >>> path = prox_path([0.0, 1.0, 10.0])
    >>> path.merge_lams          # 0 and 1 meet at lam = 2 * 1 / 2; then 10 at 2 * 9.5 / 3
    array([1.        , 6.33333333])
    >>> path.n_clusters([0.5, 2.0, 7.0])
    array([3, 2, 1])
    >>> path.prox(2.0)           # wsprox.prox([0, 1, 10], 2.0)
    array([1.5, 1.5, 8. ])
    """

    w: np.ndarray
    order: np.ndarray
    merge_lams: np.ndarray

    @property
    def lams(self):
        """The distinct merge events' :math:`\\lambda`, ascending."""
        return np.unique(self.merge_lams)

    @property
    def collapse_lam(self):
        """The :math:`\\lambda` from which the prox is one cluster (0.0 for ``d = 1``)."""
        return float(self.merge_lams.max(initial=0.0))

    def n_clusters(self, lam):
        """The number of clusters (distinct values) of the prox at ``lam`` (scalar or array).

        At a merge event the clusters that meet count as one. Every ``lam``
        must be finite and ``>= 0``, as for :meth:`prox` and :meth:`labels`.
        """
        lam = _check_lams(lam)
        merged = np.searchsorted(np.sort(self.merge_lams), lam, side="right")
        counts = self.w.size - merged
        return int(counts) if counts.ndim == 0 else counts

    def lam_for_clusters(self, n_clusters):
        r"""The smallest :math:`\lambda` at which at most ``n_clusters`` clusters remain.

        0 for ``n_clusters >= d`` (less where ``w`` has ties, which are merged
        at 0 too). Where several merges happen at one :math:`\lambda`, the
        count jumps past some values, and this is the :math:`\lambda` of the
        jump.
        """
        k = int(n_clusters)
        if k < 1:
            raise ValueError(f"n_clusters must be >= 1, got {n_clusters!r}")
        d = self.w.size
        return 0.0 if k >= d else float(np.sort(self.merge_lams)[d - 1 - k])

    def labels(self, lam):
        """The cluster of every entry at ``lam``, ``0..K-1`` by increasing value."""
        starts = self._starts(lam)
        labels = np.empty(self.w.size, dtype=np.int64)
        labels[self.order] = np.repeat(np.arange(starts.size - 1), np.diff(starts))
        return labels

    def prox(self, lam):
        r""":math:`\operatorname{prox}_{\lambda R}(w)` from the clusters at ``lam`` (cluster means plus drift)."""
        d = self.w.size
        starts = self._starts(lam)
        a, b = starts[:-1], starts[1:] - 1
        # The sums on w * 2**-e where they could overflow, the means scaled back (exact).
        e = _scale_exponent(self.w)
        centre = np.ldexp(np.add.reduceat(np.ldexp(self.w[self.order], -e), a) / (b - a + 1), e)
        drift = float(lam) * ((d - 1 - a - b) / (d - 1)) if d > 1 else np.zeros(1)
        out = np.empty(d)
        out[self.order] = np.repeat(centre + drift, b - a + 1)
        return out

    def _starts(self, lam):
        lam = check_penalty_weight(lam, "lam")
        alive = np.flatnonzero(self.merge_lams > lam) + 1
        return np.concatenate(([0], alive, [self.w.size])).astype(np.int64)


def prox_path(w) -> ProxPath:
    r"""Every merge event of :math:`\operatorname{prox}_{\lambda R}(w)` as :math:`\lambda` grows from 0.

    Parameters
    ----------
    w : array_like
        Real, finite values, treated as one flattened vector (as
        :func:`wsprox.prox` with ``axis=None``).

    Returns
    -------
    ProxPath
        The merge :math:`\lambda` of every boundary between sorted
        neighbours, with the clusters, the prox and the number of clusters at
        any :math:`\lambda`.

    Raises
    ------
    ValueError
        ``w`` empty, NaN or infinity in ``w``.
    TypeError
        ``w`` not real.

    Notes
    -----
    :math:`O(d \log d)`: a sort, then an event-driven merge with a binary
    heap, compiled (see :mod:`wsprox.path`). Exact up to rounding: a meeting
    :math:`\lambda` is computed from the clusters' sums (each a sum of its
    two parts, so accurate to a few units of roundoff), and one that rounds
    below the current event is clamped to it, so events never go back. The
    prox at a :math:`\lambda` between events is then the cluster means plus
    the drift, as :func:`wsprox.prox` computes it. Where the sums could
    overflow (``max|w|`` within a factor of about ``4 d`` of the largest
    float64), ``w`` is first multiplied by a power of two, which is exact
    but for parts below :math:`2^{e-1074}`, and the merge :math:`\lambda`
    multiplied back (they are homogeneous in ``w``); ``inf`` only where a
    merge :math:`\lambda` exceeds the largest float64.

    Examples
    --------
    >>> import numpy as np, wsprox
    >>> from wsprox.path import prox_path
    >>> w = np.random.default_rng(0).standard_normal(1000)
    >>> path = prox_path(w)
    >>> lam = path.lam_for_clusters(10)                  # where 10 shared values remain
    >>> path.n_clusters(lam), wsprox.prox_result(w, 1.001 * lam).n_clusters
    (10, 10)
    >>> bool(np.allclose(path.prox(0.3), wsprox.prox(w, 0.3)))
    True
    """
    values = as_float_array(w).astype(np.float64).ravel()
    if values.size == 0:
        raise ValueError("w is empty: there is no path to compute")
    order = np.argsort(values, kind="stable")
    # The merge lams are homogeneous in w: computed on w * 2**-e, where the
    # sums (at most 2 d max|w|) could overflow, and multiplied back exactly.
    e = _scale_exponent(values)
    with np.errstate(over="ignore"):
        lams = np.ldexp(_merge_lams(np.ldexp(values[order], -e)), e)
    return ProxPath(values, order, lams)


def collapse_threshold(w) -> float:
    r"""The smallest :math:`\lambda` at which :math:`\operatorname{prox}_{\lambda R}(w)` is all :math:`\operatorname{mean}(w)`.

    .. math::

        \lambda_{\max} = \max_{1 \le k < d}
        \frac{(d-1)\,(\operatorname{mean}(x) - \operatorname{mean}(x_1..x_k))}{d-k},
        \qquad x = \operatorname{sort}(w),

    0 for ``d = 1`` or a constant ``w``. It is the last merge of
    :func:`prox_path` (``ProxPath.collapse_lam``), here from the formula.

    Parameters
    ----------
    w : array_like
        Real, finite values, treated as one flattened vector.

    Returns
    -------
    float

    Examples
    --------
    >>> import wsprox
    >>> from wsprox.path import collapse_threshold
    >>> lam = collapse_threshold([0.0, 1.0, 10.0])
    >>> lam
    6.333333333333333
    >>> [wsprox.prox_result([0.0, 1.0, 10.0], s * lam).n_clusters for s in (0.999, 1.001)]
    [2, 1]
    """
    x = np.sort(as_float_array(w).astype(np.float64).ravel())
    d = x.size
    if d == 0:
        raise ValueError("w is empty: there is no threshold to compute")
    if d == 1:
        return 0.0
    # Homogeneous in w: computed on w * 2**-e where the sums could overflow, scaled back exactly.
    e = _scale_exponent(x)
    x = np.ldexp(x, -e)
    k = np.arange(1, d)
    prefix_means = np.cumsum(x[:-1]) / k
    # mean(x) - mean(x_1..x_k) = (mean(x_{k+1}..x_d) - mean(x_1..x_k)) (d - k) / d
    suffix_means = (np.cumsum(x[::-1])[::-1][1:]) / (d - k)
    with np.errstate(over="ignore"):
        return float(np.ldexp(max(np.max((suffix_means - prefix_means) * ((d - 1) / d)), 0.0), e))


def _scale_exponent(values):
    # The e >= 0 for which sums of up to 2 d entries of values * 2**-e cannot overflow.
    return max(math.frexp(float(np.abs(values).max()))[1] + (2 * values.size).bit_length() - 1021, 0)


def _check_lams(lam):
    # lam (a scalar or an array) as float64, every entry finite and >= 0.
    lams = np.asarray(lam)
    if lams.ndim == 0:
        return np.float64(check_penalty_weight(lam, "lam"))
    if lams.dtype.kind not in "iuf":
        raise TypeError(f"lam must be a real scalar or an array of real numbers, got dtype {lams.dtype}")
    lams = lams.astype(np.float64)
    bad = ~(np.isfinite(lams) & (lams >= 0))
    if bad.any():
        first = np.unravel_index(int(np.argmax(bad)), lams.shape)
        raise ValueError(f"lam must be finite and >= 0, got {lams[first]} at index "
                         f"{first[0] if lams.ndim == 1 else first}")
    return lams


@dataclass(frozen=True)
class SolutionPath:
    r"""The solutions of :func:`solution_path` along the :math:`\lambda` grid.

    Attributes
    ----------
    lams : ndarray of float64
        The grid, in the order given.
    x : ndarray of float64
        ``x[i]`` is the solution at ``lams[i]``, of ``x0``'s shape: the
        shape is ``(len(lams),) + x0.shape``.
    n_clusters : ndarray of int64
        The number of distinct values of every solution.
    results : list of scipy.optimize.OptimizeResult
        The full result of every solve (``fun``, ``optimality``, ``nit``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.path import solution_path
    >>> w = np.array([0.0, 1.0, 10.0])
    >>> sp = solution_path(lambda x: (0.5 * np.sum((x - w) ** 2), x - w), np.zeros(3), [0.5, 2.0, 8.0])
    >>> sp.n_clusters, sp.success
    (array([3, 2, 1]), True)
    """

    lams: np.ndarray
    x: np.ndarray
    n_clusters: np.ndarray
    results: list

    @property
    def success(self):
        """Whether every solve met its tolerance."""
        return all(r.success for r in self.results)


def solution_path(fun_and_grad, x0, lams, *, l1=0.0, **options) -> SolutionPath:
    r"""Solve :math:`\min_x f(x) + \lambda R(x) + \ell_1\|x\|_1` along a grid of :math:`\lambda`, warm-started.

    The solves run from the largest :math:`\lambda` down (few clusters first,
    as scikit-learn's ``lasso_path`` runs from the sparsest model), the first
    from ``x0``, each later one from the previous solution.

    Parameters
    ----------
    fun_and_grad : callable
        ``fun_and_grad(x) -> (f, grad f)``, as for
        :func:`wsprox.optimize.minimize_composite`.
    x0 : array_like
        The starting point of the first (largest-:math:`\lambda`) solve.
    lams : array_like
        The grid, 1-D, finite, ``>= 0``, in any order.
    l1 : float, optional
        The L1 weight, the same at every :math:`\lambda`.
    **options
        Further keyword arguments of :func:`wsprox.optimize.minimize_composite`
        (``tol``, ``max_iter``, ``step``, ...).

    Returns
    -------
    SolutionPath

    Raises
    ------
    ValueError
        ``lams`` empty, not 1-D, negative or not finite; and what
        :func:`wsprox.optimize.minimize_composite` raises.

    Examples
    --------
    A regression whose 8 true coefficients take 2 values: along the path the
    number of distinct fitted values falls from 8 to 1.

    >>> import numpy as np
    >>> from wsprox.path import solution_path
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((40, 8))
    >>> b = A @ np.repeat([1.0, -1.0], 4) + 0.1 * rng.standard_normal(40)
    >>> def fun_and_grad(x):
    ...     r = A @ x - b
    ...     return 0.5 * r @ r / 40, A.T @ r / 40
    >>> sp = solution_path(fun_and_grad, np.zeros(8), np.geomspace(1e-3, 10, 5))
    >>> sp.n_clusters
    array([8, 7, 2, 2, 1])
    """
    grid = np.asarray(lams, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError(f"lams must be a non-empty 1-D array, got shape {grid.shape}")
    for lam in grid:
        check_penalty_weight(lam, "lams")
    x = as_float_array(x0, "x0")
    results = [None] * grid.size
    for i in np.argsort(-grid, kind="stable"):
        results[i] = minimize_composite(fun_and_grad, x, grid[i], l1=l1, **options)
        x = results[i].x
    return SolutionPath(grid, np.array([r.x for r in results]),
                        np.array([r.n_clusters for r in results], dtype=np.int64), results)


@njit(cache=True)
def _merge_lams(x):
    # Clusters are runs a..end[a] of the sorted x, named by their start a;
    # total[a] is their sum, prev[c] the start of the left neighbour of c. The
    # boundary in front of every cluster c > 0 has one entry in a binary heap
    # of meeting lams (an indexed heap: pos[c] is its slot), updated in place
    # when a neighbour merges, so the heap never holds stale entries.
    d = x.size
    lams = np.full(max(d - 1, 0), np.inf)
    if d < 2:
        return lams
    end = np.arange(d)
    total = x.copy()
    prev = np.arange(-1, d - 1)
    key = np.empty(d - 1)
    node = np.arange(1, d)
    pos = np.arange(-1, d - 1)
    for c in range(1, d):
        key[c - 1] = _meeting(total, end, c - 1, c, d, 0.0)
    size = d - 1
    for i in range(size // 2 - 1, -1, -1):
        _sift_down(key, node, pos, i, size)
    while size > 0:
        now, c = key[0], node[0]
        size -= 1
        _place(key, node, pos, 0, key[size], node[size])
        _sift_down(key, node, pos, 0, size)
        a = prev[c]
        lams[c - 1] = now
        end[a] = end[c]
        total[a] += total[c]
        right = end[a] + 1
        if right < d:
            prev[right] = a
            _update(key, node, pos, size, right, _meeting(total, end, a, right, d, now))
        if a > 0:
            _update(key, node, pos, size, a, _meeting(total, end, prev[a], a, d, now))
    return lams


@njit(cache=True)
def _meeting(total, end, a, c, d, now):
    """The lam at which cluster a..c-1 meets c..end[c] (unit velocities), at least ``now``."""
    m_left, m_right = c - a, end[c] - c + 1
    gap = total[c] / m_right - total[a] / m_left
    return max(gap * (d - 1) / (m_left + m_right), now)


@njit(cache=True)
def _place(key, node, pos, i, k, c):
    key[i], node[i] = k, c
    pos[c] = i


@njit(cache=True)
def _update(key, node, pos, size, c, k):
    """Set boundary c's key to k and restore the heap."""
    i = pos[c]
    key[i] = k
    _sift_up(key, node, pos, i)
    _sift_down(key, node, pos, pos[c], size)


@njit(cache=True)
def _sift_down(key, node, pos, i, size):
    k, c = key[i], node[i]
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and key[child + 1] < key[child]:
            child += 1
        if key[child] >= k:
            break
        _place(key, node, pos, i, key[child], node[child])
        i = child
    _place(key, node, pos, i, k, c)


@njit(cache=True)
def _sift_up(key, node, pos, i):
    k, c = key[i], node[i]
    while i > 0:
        parent = (i - 1) // 2
        if key[parent] <= k:
            break
        _place(key, node, pos, i, key[parent], node[parent])
        i = parent
    _place(key, node, pos, i, k, c)

r"""The derivatives of the prox, exact, from the clusters it found.

The prox :math:`x = \operatorname{prox}_{\lambda R + \ell_1\|\cdot\|_1}(w)`
is piecewise linear in :math:`(w, \lambda, \ell_1)`. On each piece the
clusters :math:`G` (the entries that share a value) are fixed, and with
:math:`x_G` the value of cluster :math:`G`:

.. math::

    \frac{\partial x}{\partial w} = J = \sum_{G \text{ active}} \frac{1_G 1_G^\top}{|G|},
    \qquad
    \frac{\partial x_G}{\partial \lambda} = \frac{1}{|G|}\sum_{k \in G} \frac{d + 1 - 2k}{d - 1}
        = \frac{d - 2s_G - |G|}{d - 1},
    \qquad
    \frac{\partial x_G}{\partial \ell_1} = -\operatorname{sign}(x_G),

where :math:`k` runs over the ranks (ascending, from 1) that the cluster's
entries take in the sorted vector, :math:`s_G` is the number of entries
below the cluster, and the last two are 0 on the cluster that
:math:`\ell_1` thresholds to 0. A cluster is *active* unless :math:`\ell_1 > 0`
thresholds it to 0: with :math:`\ell_1 = 0` every cluster is active, one
whose value happens to be 0 included (it moves with :math:`w` like any
other). :math:`J` is the orthogonal projection onto the vectors constant on
every active cluster and zero on the thresholded one
(:math:`J = J^\top = J^2`): the prox moves each cluster as one particle, at
its mean velocity (:doc:`/theory`). For :math:`\lambda = 0` the prox is the
soft thresholding of :math:`w` and :math:`J = \operatorname{diag}(1[\text{active}])`
whatever ties :math:`w` has (tied entries part as soon as :math:`w` moves);
the derivative in :math:`\lambda` there is the right derivative (ties stay
tied for :math:`\lambda > 0`).

**Ties and kinks.** Where the clusters are stable (every small change of the
arguments keeps them) these are the derivatives. Entries tied in :math:`w`
are stable for :math:`\lambda > 0`: they stay tied in a neighbourhood. At a
kink, where the clusters change (two clusters meeting exactly, a cluster on
the point of splitting, a cluster value at exactly :math:`\pm\ell_1` before
thresholding), the prox has no derivative; the formulas then give the
derivative of the piece whose clusters are those of the result, the
clusters merged as ``labels`` says (entries of equal value share one) and a
value thresholded to exactly 0 counted as zero. That piece contains the point,
so its Jacobian is a limit of nearby Jacobians: an element of the Bouligand,
hence of the Clarke, generalised Jacobian.

Everything is computed from the labels and the values, :math:`O(d)` per
vector with scatter-adds over the labels, and written once for NumPy arrays,
torch tensors and JAX arrays (:mod:`wsprox.torch` backpropagates with it on
the tensor's device, :mod:`wsprox.jax` takes its JVP from it). The NumPy
interface is :meth:`wsprox.ProxResult.vjp` and :meth:`wsprox.ProxResult.jvp`.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

__all__ = ["Linearization", "check_direction", "linearize"]


def linearize(labels, x, lam, *, l1=0.0, xp=np) -> Linearization:
    r"""The linear piece of the prox at its result: :class:`Linearization`.

    Parameters
    ----------
    labels : array of int64, shape (n, d)
        The cluster of every entry of every row, numbered ``0..K-1`` by
        increasing value within the row (:attr:`wsprox.ProxResult.labels` as
        rows).
    x : array of float, shape (n, d)
        The prox, rows as ``labels``; only its signs matter (and its dtype,
        that of the results), so ``sign(x)`` does as well.
    lam : float or bool
        The weight :math:`\lambda` the prox was computed with (only
        ``lam > 0`` matters, so that flag does as well; a traced boolean
        for JAX).
    l1 : float or bool, optional
        The weight :math:`\ell_1` (only ``l1 > 0`` matters: then a cluster
        at 0 is thresholded, else it is active like any other).
    xp : module, optional
        ``numpy`` (default), ``torch`` or ``jax.numpy``: the kind of
        ``labels`` and ``x``.

    Returns
    -------
    Linearization
        Arrays of ``xp`` (on ``x``'s device for tensors), in ``x``'s dtype.

    Notes
    -----
    Two scatter-adds over ``n d`` cluster slots (row ``r``'s cluster ``j``
    is slot ``r d + j``) and a cumulative sum of the cluster sizes:
    :math:`O(nd)` time and memory.

    Examples
    --------
    >>> import numpy as np, wsprox
    >>> res = wsprox.prox_result([0.0, 1.0, 10.0], 2.0)     # clusters {0, 1} and {2}
    >>> lin = linearize(res.labels[None], res.x[None], 2.0)
    >>> lin.velocity                                         # mean velocities (d+1-2k)/(d-1)
    array([[ 0.5,  0.5, -1. ]])
    >>> lin.project(np.array([[1.0, 0.0, 0.0]]))             # J averages within the clusters
    array([[0.5, 0.5, 0. ]])
    """
    n, d = labels.shape
    # Row r's cluster j is slot r * d + j; the row numbers 0..n-1 as a cumulative
    # sum, which makes them an array of xp on labels' device.
    rows = xp.cumsum(xp.ones_like(labels[:, :1]), 0) - 1
    index = (labels + d * rows).reshape(-1)
    # A cluster at 0 is thresholded only when l1 > 0; with l1 = 0 it is an ordinary cluster.
    active = (x != 0) | xp.logical_not(xp.asarray(l1 > 0))
    sizes = _sum_by(index, xp.ones_like(x).reshape(-1), n * d, xp).reshape(n, d)
    below = xp.cumsum(sizes, 1) - sizes              # entries of the row below each cluster
    speed = ((d - 2 * below - sizes) / max(d - 1, 1)).reshape(-1)     # 0 for d = 1
    zero = x * 0
    shared = lam > 0
    if isinstance(shared, (bool, np.bool_)):
        shared = bool(shared)
    return Linearization(
        index=index,
        count=sizes.reshape(-1)[index].reshape(n, d),
        active=active,
        velocity=xp.where(active, speed[index].reshape(n, d), zero),
        l1_slope=-xp.sign(x),
        shared=shared,
        xp=xp,
    )


def _sum_by(index, values, size, xp):
    # sums[j] = the sum of values[i] over index[i] == j, flat, in values' precision at least.
    if xp is np:
        return np.bincount(index, weights=values, minlength=size).astype(values.dtype, copy=False)
    if hasattr(values, "index_add_"):                                     # torch
        return values.new_zeros(size).index_add_(0, index, values)
    return xp.zeros(size, values.dtype).at[index].add(values)             # jax.numpy


@dataclass(frozen=True)
class Linearization:
    r"""The prox near its result: :math:`x + J\,\delta w + \delta\lambda\, v + \delta\ell_1\, s`.

    Made by :func:`linearize`; every array of ``xp``, in rows ``(n, d)`` (the
    flat ones of ``n d`` cluster slots).

    Attributes
    ----------
    index : array of int64, shape (n d,)
        The slot of every entry's cluster, row-major (row ``r``'s cluster
        ``j`` is slot ``r d + j``).
    count : array, shape (n, d)
        The size of every entry's cluster.
    active : array of bool, shape (n, d)
        The entries whose cluster ``l1`` does not threshold to 0.
    velocity : array, shape (n, d)
        :math:`v = \partial x / \partial\lambda`: the mean velocity of the
        entry's cluster, 0 on the thresholded cluster.
    l1_slope : array, shape (n, d)
        :math:`s = \partial x / \partial\ell_1 = -\operatorname{sign}(x)`.
    shared : bool or boolean array
        ``lam > 0``: :math:`J` averages within the clusters; else
        :math:`J = \operatorname{diag}(\text{active})` (a traced flag for JAX).
    xp : module
        ``numpy`` or ``torch``.

    Examples
    --------
    >>> import numpy as np, wsprox
    >>> res = wsprox.prox_result([-3.0, 0.1, 2.0, 2.5], 1.0, l1=0.5)
    >>> res.x                            # a zero cluster and a cluster of two
    array([-1.5       ,  0.        ,  1.08333333,  1.08333333])
    >>> lin = linearize(res.labels[None], res.x[None], 1.0, l1=0.5)
    >>> lin.velocity, lin.l1_slope       # nothing moves the thresholded cluster
    (array([[ 1.        ,  0.        , -0.66666667, -0.66666667]]), array([[ 1., -0., -1., -1.]]))
    >>> lin.project(np.array([[0.0, 0.0, 1.0, 0.0]]))
    array([[0. , 0. , 0.5, 0.5]])
    """

    index: object
    count: object
    active: object
    velocity: object
    l1_slope: object
    shared: bool
    xp: object

    def project(self, v):
        r""":math:`J v`: the mean of ``v`` over every active cluster (``v`` itself
        for ``lam = 0``), 0 on the thresholded one. ``J`` is symmetric, so this is
        also :math:`J^\top v`.

        Examples
        --------
        >>> import numpy as np, wsprox
        >>> res = wsprox.prox_result([0.0, 1.0, 10.0], 2.0)
        >>> linearize(res.labels[None], res.x[None], 2.0).project(np.array([[1.0, 3.0, 5.0]]))
        array([[2., 2., 5.]])
        """
        zero = v * 0
        if self.shared is False:
            return self.xp.where(self.active, v, zero)
        sums = _sum_by(self.index, v.reshape(-1), self.index.shape[0], self.xp)
        mean = sums[self.index].reshape(v.shape) / self.count
        if self.shared is not True:                    # a traced flag (JAX)
            mean = self.xp.where(self.shared, mean, v)
        return self.xp.where(self.active, mean, zero)

    def vjp(self, g):
        r"""``(J g, <g, v>, <g, s>)``: the cotangents of ``w``, ``lam`` and ``l1``
        for the cotangent ``g`` of the prox (rows of ``(n, d)``); the last two
        are sums over all rows (one ``lam`` and one ``l1`` for every row).

        Examples
        --------
        >>> import numpy as np, wsprox
        >>> res = wsprox.prox_result([0.0, 1.0, 10.0], 2.0)
        >>> gw, glam, gl1 = linearize(res.labels[None], res.x[None], 2.0).vjp(np.ones((1, 3)))
        >>> gw, float(glam), float(gl1)      # the sum of x keeps its mean: d(sum x)/dlam = 0
        (array([[1., 1., 1.]]), 0.0, -3.0)
        """
        return self.project(g), (g * self.velocity).sum(), (g * self.l1_slope).sum()

    def jvp(self, dw, dlam=0.0, dl1=0.0):
        r""":math:`J\,\delta w + \delta\lambda\, v + \delta\ell_1\, s`, the change of
        the prox for the changes ``dw`` (rows of ``(n, d)``), ``dlam`` and
        ``dl1`` (scalars) of its arguments.

        Examples
        --------
        >>> import numpy as np, wsprox
        >>> res = wsprox.prox_result([0.0, 1.0, 10.0], 2.0)
        >>> linearize(res.labels[None], res.x[None], 2.0).jvp(np.zeros((1, 3)), dlam=1.0)
        array([[ 0.5,  0.5, -1. ]])
        """
        return self.project(dw) + dlam * self.velocity + dl1 * self.l1_slope


def check_direction(value, name: str) -> float:
    """A change of ``lam`` or ``l1``: a finite real scalar of either sign.

    Examples
    --------
    >>> check_direction(-1, "dlam")
    -1.0
    >>> check_direction(float("nan"), "dlam")
    Traceback (most recent call last):
    ...
    ValueError: dlam must be finite, got nan
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real scalar, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value

r"""The core's cluster arithmetic compiled for the device, and the clusters a kernel writes.

The device twins of :mod:`wsprox.core.clusters`, compiled from the same Python
functions, so that both backends compute bit-identical cluster values: a
cluster of sorted particles :math:`a..b` (0-based, inclusive) has the value
(position at time 1) :math:`\operatorname{mean}(x_a..x_b) + \lambda (d-1-a-b)/(d-1)`.

:class:`Clusters` carries a solve's results into its kernels and out to the
settle, as one argument, and :func:`planned_solve` runs the launches of a
solve: the contract of :mod:`wsprox.cuda`.
"""
from collections import namedtuple

from ..core import clusters as core_clusters
from ._device import cuda, plan, retarget
from .weights import as_weights

__all__ = ["Clusters", "cluster_mean", "cluster_value", "planned_solve", "settle_values", "soft_threshold"]

#: The clusters of every row of a batch, as a collision kernel writes them:
#: ``starts`` ``(n, d + 1)`` int64 (the cluster starts of row ``r`` in
#: ``starts[r, :counts[r]]``, then the sentinel ``d``), ``counts`` and
#: ``rounds`` ``(n,)`` int64.
Clusters = namedtuple("Clusters", "starts counts rounds")

cluster_value = cuda.jit(device=True, inline="always")(core_clusters._cluster_value)
cluster_mean = cuda.jit(device=True, inline="always")(
    retarget(core_clusters._cluster_mean, cluster_value=cluster_value))
soft_threshold = cuda.jit(device=True, inline="always")(core_clusters._soft_threshold)
settle_values = cuda.jit(device=True)(retarget(core_clusters._settle_values, soft_threshold=soft_threshold))


def planned_solve(key, build, x, lam, starts, counts, rounds, weights):
    """Run the launches of a collision kernel's ``solve(x, lam, starts, counts, rounds, weights)``.

    ``build(x, weights, clusters)`` makes them, with their work arrays, for
    the calls of ``key`` (a :func:`wsprox.cuda._device.plan`: once per call
    shape) and returns ``run(x, weights, clusters)``; ``weights`` are the
    call's, or None for those of ``lam`` (:mod:`wsprox.cuda.weights`).
    """
    weights = as_weights(lam) if weights is None else weights
    clusters = Clusters(starts, counts, rounds)
    plan(key, lambda: build(x, weights, clusters))(x, weights, clusters)

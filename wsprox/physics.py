r"""Exact particle trajectories of the prox: the physical picture, simulated.

Sort the weights, :math:`x_1 \le \dots \le x_d`, and give particle :math:`r`
unit mass and the velocity

.. math::

    v_r = \lambda\,\frac{d + 1 - 2r}{d - 1}
    \qquad (v_1 = \lambda, \; v_d = -\lambda),

the pull of every other particle at speed :math:`\lambda/(d-1)`. Particles
that meet stick (a perfectly inelastic collision): a cluster of the sorted
particles :math:`a..b` has mass :math:`m = b - a + 1`, centre of mass
:math:`X = \operatorname{mean}(x_a..x_b)` at :math:`t = 0` (momentum is
conserved, so the centre of mass moves as if nothing had collided), and the
mean velocity :math:`V = \lambda (d + 1 - a - b)/(d - 1)` (1-based ranks).
Its position at time :math:`t` is :math:`X + V t`. Neighbouring clusters
:math:`L` (left) and :math:`R` meet at

.. math::

    t_{LR} = \frac{X_R - X_L}{V_L - V_R},
    \qquad V_L - V_R = \lambda\,\frac{m_L + m_R}{d - 1} > 0,

so every pair of neighbours eventually collides and clusters never split.
The positions at time :math:`t` are :math:`\operatorname{prox}_{t\lambda R}(w)`
(the sticky-particle flow is the projection of the free flow :math:`x + t v`
onto the non-decreasing vectors, Brenier and Grenier 1998); at :math:`t = 1`
they are :func:`wsprox.prox` ``(w, lam)``, and the semigroup property
:math:`\operatorname{prox}_{(s+t)\lambda R} = \operatorname{prox}_{t\lambda R}
\circ \operatorname{prox}_{s\lambda R}` is the flow read at two times.

Each merge removes one boundary between sorted ranks ``k - 1`` and ``k``, so
the whole history is the time at which every boundary disappears: the merge
:math:`\lambda` of that boundary on the exact path of the prox
(:func:`wsprox.path.prox_path`, an event-driven heap of the meeting times of
neighbouring clusters, compiled, :math:`O(d \log d)`) divided by ``lam``.
This module reads the flow for pictures and checks; use :func:`wsprox.prox`
for the prox itself.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ._validation import check_penalty_weight
from .core.validation import as_float_array

__all__ = ["Trajectories", "trajectories"]


@dataclass(frozen=True)
class Trajectories:
    """The history of the inelastic collisions of :func:`trajectories`.

    Attributes
    ----------
    w : ndarray of float64
        The input, flattened.
    lam : float
        The penalty weight (the velocities' scale).
    order : ndarray of int64
        ``argsort(w)``: ``w[order]`` is sorted; sorted rank ``k`` is particle
        ``order[k]``.
    boundary_times : ndarray of float64, shape (d - 1,)
        ``boundary_times[k - 1]`` is the time at which the particles of sorted
        ranks ``k - 1`` and ``k`` become one cluster, ``inf`` when that is
        after ``t_max``.
    t_max : float
        The end of the simulated interval.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.physics import trajectories
    >>> tr = trajectories(np.array([0.0, 1.0, 10.0]), 2.0)
    >>> tr.times                      # the two small weights meet at t = 1/2
    array([0.5])
    >>> tr.positions(1.0)             # where they are at t = 1: the prox
    array([1.5, 1.5, 8. ])
    """

    w: np.ndarray
    lam: float
    order: np.ndarray
    boundary_times: np.ndarray
    t_max: float

    @property
    def times(self):
        """The distinct collision times in ``[0, t_max]``, ascending."""
        finite = self.boundary_times[np.isfinite(self.boundary_times)]
        return np.unique(finite)

    @property
    def events(self):
        """Every collision event as ``(t, clusters)``, in time order.

        ``clusters`` lists the clusters that exist just after time ``t`` and
        were formed at ``t``, each as the particle indices (into ``w``) it
        holds. Several clusters may form at one time (ties merge at ``t = 0``).
        """
        out = []
        for t in self.times:
            starts = self.starts(t)
            merged = []
            for a, b in itertools.pairwise(starts):
                if b - a > 1 and np.any(self.boundary_times[a:b - 1] == t):
                    merged.append(np.sort(self.order[a:b]))
            out.append((float(t), merged))
        return out

    def starts(self, t):
        """Start ranks of the clusters at time ``t``, with the sentinel ``d``."""
        d = self.w.size
        alive = np.flatnonzero(self.boundary_times > t) + 1
        return np.concatenate(([0], alive, [d])).astype(np.int64)

    def labels(self, t):
        """Cluster label of every particle at time ``t`` (0..K-1 by position)."""
        starts = self.starts(t)
        sorted_labels = np.repeat(np.arange(starts.size - 1), np.diff(starts))
        labels = np.empty(self.w.size, dtype=np.int64)
        labels[self.order] = sorted_labels
        return labels

    def positions(self, t):
        """Positions of the particles at time ``t`` (scalar or 1-D array).

        Returns an array of ``w``'s length for a scalar ``t`` and of shape
        ``(len(t), d)`` for an array; times beyond ``t_max`` are refused.
        """
        ts = np.asarray(t, dtype=np.float64)
        if np.any(ts < 0) or np.any(ts > self.t_max) or not np.all(np.isfinite(ts)):
            raise ValueError(f"t must lie in [0, t_max = {self.t_max}], got {t!r}")
        out = np.array([self._positions(float(s)) for s in ts.ravel()])
        return out[0] if ts.ndim == 0 else out.reshape(ts.shape + (self.w.size,))

    def _positions(self, t):
        d = self.w.size
        x = self.w[self.order]
        starts = self.starts(t)
        a, b = starts[:-1], starts[1:] - 1
        centre = np.add.reduceat(x, a) / (b - a + 1)
        velocity = self.lam * (d - 1 - a - b) / (d - 1) if d > 1 else np.zeros(1)
        out = np.empty(d)
        out[self.order] = np.repeat(centre + velocity * t, b - a + 1)
        return out


def trajectories(w, lam, *, t_max=1.0):
    r"""Simulate the inelastic collisions of the prox of :math:`\lambda R`.

    Parameters
    ----------
    w : array_like
        Real, finite values, treated as one flattened vector (as
        :func:`wsprox.prox` with ``axis=None``).
    lam : float
        Weight of the weight-sharing penalty, finite and ``>= 0``.
    t_max : float, optional
        Simulate ``t`` in ``[0, t_max]``; ``1`` (default) ends at the prox.

    Returns
    -------
    Trajectories
        The collision history: event times, the clusters at every event, and
        :meth:`Trajectories.positions` evaluating ``prox_{t lam R}(w)`` at any
        ``t`` in ``[0, t_max]``.

    Raises
    ------
    ValueError
        ``w`` empty, NaN or infinity in ``w``; ``lam`` or ``t_max`` negative
        or not finite.
    TypeError
        ``w`` not real.

    Notes
    -----
    Exact up to rounding: positions are centres of mass plus velocity times
    ``t`` from the closed forms of the module docstring, and a collision
    time computed slightly before the current time (rounding) is clamped to
    it. Exact ties in ``w`` merge at ``t = 0``. :math:`O(d \log d)`.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.physics import trajectories
    >>> traj = trajectories([0.0, 1.0, 10.0], 2.0)
    >>> traj.times            # particles 0 and 1 meet at t = 1 / (2 + 0) ...
    array([0.5])
    >>> [(t, [c.tolist() for c in cl]) for t, cl in traj.events]
    [(0.5, [[0, 1]])]
    >>> traj.positions(0.25)
    array([0.5, 1. , 9.5])
    >>> traj.positions(1.0)  # equals wsprox.prox([0, 1, 10], 2.0)
    array([1.5, 1.5, 8. ])
    """
    lam = check_penalty_weight(lam, "lam")
    t_max = check_penalty_weight(t_max, "t_max")
    values = as_float_array(w).astype(np.float64).ravel()
    if values.size == 0:
        raise ValueError("w is empty: there are no particles to follow")
    order = np.argsort(values, kind="stable")
    return Trajectories(values, lam, order, _boundary_times(values, lam, t_max), t_max)


def _boundary_times(values, lam, t_max):
    r"""Merge times of the boundaries between sorted ranks (``inf``: never by ``t_max``).

    The state at time ``t`` is the prox at ``t * lam``, so a boundary closes
    at its merge ``lam`` of the exact path (:func:`wsprox.path.prox_path`,
    compiled, :math:`O(d \log d)`) divided by ``lam``.
    """
    from .path import prox_path

    if values.size < 2 or lam == 0:
        return np.full(max(values.size - 1, 0), np.inf)
    with np.errstate(over="ignore"):
        times = prox_path(values).merge_lams / lam
    times[times > t_max] = np.inf
    return times

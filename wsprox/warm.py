r"""Warm starts: reuse the order of the previous prox call.

In a training loop the prox is applied to weights that moved a little since
the last step, so their order is nearly the previous one. A
:class:`ProxState` passed as ``warm=`` to :func:`wsprox.prox` remembers the
order of the last call and the next call repairs it (chunked sort, merges at
the chunk boundaries, a check that every row is sorted) instead of sorting
from scratch. The answer is the exact prox either way: when the weights
moved too far for the repair, the call falls back to the full sort.
"""
from __future__ import annotations

from .cpu.workspace import Workspace

__all__ = ["ProxState"]


class ProxState:
    """Memory of the previous prox call, for warm starts (``warm=state``).

    Create one per tensor being proxed and pass it to every call. It holds
    the last call's ascending order and its own work arrays for the CPU
    pipeline (:mod:`wsprox.cpu.workspace`), about 40 bytes per entry in all,
    which later calls reuse (``del state`` frees them).
    A call on an input of another shape (rows and length) than the last one
    starts cold and replaces them.

    Attributes
    ----------
    order : ndarray of int64 or None
        Per row, the ascending order of the last call's input.
    reused : bool
        Whether the last call repaired the previous order (False: it sorted
        from scratch, as on the first call).
    workspace : wsprox.cpu.workspace.Workspace
        The reusable work arrays.

    Examples
    --------
    >>> import numpy as np, wsprox
    >>> rng = np.random.default_rng(0)
    >>> w = rng.standard_normal(1000)
    >>> state = wsprox.ProxState()
    >>> for step in range(3):
    ...     x = wsprox.prox(w, 0.5, warm=state)
    ...     w = x + 1e-3 * rng.standard_normal(1000)
    >>> state.reused
    True
    >>> bool(np.array_equal(wsprox.prox(w, 0.5, warm=state), wsprox.prox(w, 0.5)))
    True
    """

    def __init__(self):
        self.order = None
        self.reused = False
        self.workspace = Workspace()

    def __repr__(self):
        shape = None if self.order is None else self.order.shape
        return f"ProxState(rows_by_d={shape}, reused={self.reused})"

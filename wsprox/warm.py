r"""Warm starts: reuse the order and the memory of the previous prox call.

In a training loop the prox is applied to weights that moved a little since
the last step. A :class:`ProxState` passed as ``warm=`` to :func:`wsprox.prox`
remembers the order of the last call and keeps the work arrays. The next
call first checks a sample of neighbouring pairs of that order against the
new weights. Where the order still holds, or is broken in a few places only
(weight decay, small steps, a few weights overtaking their neighbours), the
order is repaired in :math:`O(d)` plus sorts of the chunks that changed,
instead of a sort. Where it is broken everywhere (steps larger than the gaps
between neighbouring weights), a fresh sort is cheaper than any repair and
the call makes one. The answer is the exact prox either way.
"""
from __future__ import annotations

import threading

from .core.workspace import Workspace

__all__ = ["ProxState"]


class ProxState:
    """Memory of the previous prox call, for warm starts (``warm=state``).

    Create one per tensor being proxed and pass it to every call. It holds
    the last call's ascending order and its own work arrays for the CPU
    pipeline (:mod:`wsprox.core.workspace`), about 40 bytes per entry in all,
    which later calls reuse (``del state`` frees them). A call on an input
    of another shape (rows and length) than the last one starts cold and
    replaces them. See :func:`wsprox.cpu.repair.resort_rows` for when the
    order is repaired and when it is sorted afresh.

    A state may be shared between threads: a call holds the state's lock
    while it uses the state, so concurrent calls take turns (each gets its
    exact prox). It pickles and copies as a fresh, cold state: the order and
    the work arrays are caches, not worth saving with a checkpoint. CPU
    backend only.

    Attributes
    ----------
    order : ndarray of int64 or None
        Per row, the ascending order of the last call's input.
    reused : bool
        Whether the last call repaired the previous order (False: it sorted
        from scratch, as on the first call).
    workspace : wsprox.core.workspace.Workspace
        The reusable work arrays.
    lock : threading.Lock
        Held by a prox call while it reads and writes the state.

    Examples
    --------
    >>> import numpy as np, wsprox
    >>> rng = np.random.default_rng(0)
    >>> w = rng.standard_normal(1000)
    >>> state = wsprox.ProxState()
    >>> x = wsprox.prox(w, 0.5, warm=state)
    >>> x = wsprox.prox(0.99 * x, 0.5, warm=state)     # weight decay keeps the order
    >>> state.reused
    True
    >>> w = x + 1e-3 * rng.standard_normal(1000)       # noise breaks it everywhere
    >>> bool(np.array_equal(wsprox.prox(w, 0.5, warm=state), wsprox.prox(w, 0.5)))
    True
    >>> state.reused
    False
    """

    def __init__(self) -> None:
        self.order = None
        self.reused = False
        self.workspace = Workspace()
        self.lock = threading.Lock()

    def __getstate__(self):
        return {}

    def __setstate__(self, state):
        self.__init__()

    def __repr__(self):
        shape = None if self.order is None else self.order.shape
        return f"ProxState(rows_by_d={shape}, reused={self.reused})"

r"""Lower-hull device functions of the tiled search collisions (:mod:`wsprox.cuda.search_collisions`).

The lower-hull view of :mod:`wsprox.core.hull` on the device: a sorted row is
the point set ``P_j = (j, S_j)``, ``S_j = x_0 + ... + x_{j-1}``, the cluster
``a..b-1`` of the prox is the edge ``P_a P_b`` and its value is :func:`slope`
``(a, b)``, the core's ``cluster_value`` of the cluster's sum; the clusters
of the prox are the edges of the lower convex hull.

Sums of points are never formed as one float64 prefix over the row. The row is
cut into tiles of ``tile`` entries; ``E[j] = Eh[j] + El[j]`` (double-double)
is the sum of the entries of ``j``'s tile before ``j`` (tile-local),
``toth[c] + totl[c]`` the sum of tile ``c``, and ``bh[c] + bl[c]`` the sum of
the tiles before ``c``: the *points* ``pts = (Eh, El, toth, totl, bh, bl,
tile)`` of a row. :func:`range_sum` of ``a..b-1`` is the difference of the
tile-local sums when the range lies in one tile, plus the difference of the
tile offsets otherwise, every difference exact by the core's ``two_sum`` up
to the double-double parts: the error is about ``eps`` times the cluster's
sum plus ``eps**2`` times the partial sums, so a cluster of tiny entries
after large ones keeps its value. The same range always goes through the
same formula, so equal ranges have equal values, as on the CPU.

:func:`hull_pava` is the core's PAVA in hull form (:func:`wsprox.core.pava.hull_pava`)
over these points. The functions of a *group* of ``g`` threads
(:func:`group_scan`, :func:`merge_pair`) call ``cuda.syncthreads``: every
thread of the CUDA block must call them, with the same ``g``, in the same order.

Examples
--------
The row ``x = [0, 1, 2]`` in tiles of 2 (``lam = 2``, so ``z = [2, 1, 0]``):
tile 0 solves to the cluster ``0..1`` (:func:`hull_pava`), tile 1 is ``2``;
:func:`merge_pair` (one thread) finds that the cluster from 0 joins the
right (``slope(0, 3) = 1 <= slope(0, 2) = 1.5``) and empties tile 1's range:

>>> import numpy as np
>>> from numba import int64
>>> from wsprox.cuda import hull
>>> from wsprox.cuda._device import cuda
>>> @cuda.jit
... def demo(Eh, El, toth, totl, bh, bl, V, ulo, uhi, cum, out):
...     pts = (Eh, El, toth, totl, bh, bl, 2)
...     out[0] = hull.range_sum(pts, 3, 0, 3)
...     out[1] = hull.slope(pts, 2.0, 3, 0, 2)
...     uhi[0] = hull.hull_pava(pts, 2.0, 3, 0, 2, V)
...     out[2] = uhi[0]
...     out[3] = hull.merge_pair(0, 1, 0, 0, 1, 2, 3, ulo, uhi, cum, V, pts, 2.0, 3,
...                              cuda.shared.array(0, int64))
>>> zeros = [cuda.to_device(np.zeros(k)) for k in (3, 2)]
>>> V, ulo, uhi = (cuda.to_device(np.array(a)) for a in ([-1, -1, 2], [0, 2], [0, 3]))
>>> cum, out = cuda.device_array(2, dtype=np.int64), cuda.device_array(4)
>>> demo[1, 1, 0, 8 * hull.SHARED_SLOTS](zeros[0], zeros[0], cuda.to_device(np.array([1.0, 2.0])),
...                                       zeros[1], cuda.to_device(np.array([0.0, 1.0])), zeros[1],
...                                       V, ulo, uhi, cum, out)
>>> out.copy_to_host().tolist(), (uhi.copy_to_host() - ulo.copy_to_host()).tolist()
([3.0, 1.5, 1.0, 1.0], [1, 0])
"""
from ..core import hull as core_hull
from ..core import pava as core_pava
from ._device import cuda, retarget
from .clusters import cluster_value

__all__ = ["SHARED_SLOTS", "dd_add", "group_scan", "hull_pava", "merge_pair", "range_sum", "slope", "two_sum"]

#: int64 slots of shared memory per thread that :func:`merge_pair` uses.
SHARED_SLOTS = 6

#: The core's double-double arithmetic (:mod:`wsprox.core.hull`), compiled for the device.
two_sum = cuda.jit(device=True, inline="always")(core_hull._two_sum)
dd_add = cuda.jit(device=True, inline="always")(retarget(core_hull._dd_add, two_sum=two_sum))


@cuda.jit(device=True, inline="always")
def _local(pts, d, b, c):
    # Tile c's local sum before point b (the tile's end point allowed), double-double.
    tile = pts[6]
    if b == min(c * tile + tile, d):
        return pts[2][c], pts[3][c]
    return pts[0][b], pts[1][b]


@cuda.jit(device=True, inline="always")
def range_sum(pts, d, a, b):
    """``x_a + ... + x_{b-1}`` (``a < b``) from the points ``pts = (Eh, El, toth, totl, bh, bl, tile)``."""
    tile = pts[6]
    ca = a // tile
    cb = (b - 1) // tile
    hb, lb = _local(pts, d, b, cb)
    s, e = two_sum(hb, -pts[0][a])
    e += lb - pts[1][a]
    if ca == cb:
        return s + e
    u, f = two_sum(pts[4][cb], -pts[4][ca])
    f += pts[5][cb] - pts[5][ca]
    h, g = two_sum(s, u)
    return h + (g + (e + f))


@cuda.jit(device=True, inline="always")
def slope(pts, lam, d, a, b):
    """The value of the cluster ``a..b-1``: the slope of the hull edge ``P_a P_b``."""
    return cluster_value(range_sum(pts, d, a, b), lam, d, a, b - 1)


#: PAVA in hull form on the entries ``lo..hi-1`` of a row's points
#: (:func:`wsprox.core.pava.hull_pava`, the same source): ``hull_pava(pts, lam, d, lo, hi, V)``.
hull_pava = cuda.jit(device=True)(retarget(core_pava._hull_pava, slope=slope))


@cuda.jit(device=True)
def group_scan(i, g, t, u0, u1, ulo, uhi, cum, part):
    """Exclusive scan of the live counts ``uhi - ulo`` of the units ``u0..u1-1``
    into ``cum`` (relative to ``u0``) by the ``g`` threads of a group (this
    thread is the ``i``-th, block thread ``t``); returns the total. ``part``:
    ``blockDim.x`` shared int64 slots. Ends with a barrier."""
    w = (u1 - u0 + g - 1) // g
    a = min(u0 + i * w, u1)
    b = min(a + w, u1)
    s = 0
    for u in range(a, b):
        s += uhi[u] - ulo[u]
    part[t] = s
    cuda.syncthreads()
    off = 1
    while off < g:                       # Hillis-Steele over the group's threads
        v = part[t - off] if i >= off else 0
        cuda.syncthreads()
        part[t] += v
        cuda.syncthreads()
        off *= 2
    s = part[t] - s
    for u in range(a, b):
        cum[u] = s
        s += uhi[u] - ulo[u]
    total = part[t - i + g - 1]
    cuda.syncthreads()
    return total


@cuda.jit(device=True, inline="always")
def _vertex(rank, n, u0, u1, ulo, cum, V, end):
    # The cluster start of the given rank in the concatenation of the units' live
    # ranges; the rank n is the segment's end point.
    if rank >= n:
        return end
    lo = u0
    hi = u1 - 1
    while lo < hi:                       # the last unit with cum <= rank (never an empty one)
        m = (lo + hi + 1) // 2
        if cum[m] <= rank:
            lo = m
        else:
            hi = m - 1
    return V[ulo[lo] + rank - cum[lo]]


@cuda.jit(device=True)
def _joins_right(c, p, n, u0, u1, ulo, cum, V, end, pts, lam, d):
    # The CPU's predicate J(s) >= mid for the cluster start s of rank c < p, and
    # the rank of the vertex that ends s's cluster: the last minimiser of
    # slope(s, b_j) over the right hull b_1..b_q (ranks p+1..n), found by a
    # binary search on "the next vertex is no higher" (true, ..., true, false,
    # ...: the right hull is convex); J >= mid when that minimum is <= the
    # slope to s's neighbour a_{c+1} (the minimum over the left hull; <= takes
    # the last minimiser, as the CPU does).
    s = _vertex(c, n, u0, u1, ulo, cum, V, end)
    left = slope(pts, lam, d, s, _vertex(c + 1, n, u0, u1, ulo, cum, V, end))
    lo = p + 1
    hi = n
    while lo < hi:
        m = (lo + hi) // 2
        f = slope(pts, lam, d, s, _vertex(m, n, u0, u1, ulo, cum, V, end))
        if slope(pts, lam, d, s, _vertex(m + 1, n, u0, u1, ulo, cum, V, end)) <= f:
            lo = m + 1
        else:
            hi = m
    return slope(pts, lam, d, s, _vertex(lo, n, u0, u1, ulo, cum, V, end)) <= left, lo


@cuda.jit(device=True)
def merge_pair(i, g, t, u0, umid, u1, end, ulo, uhi, cum, V, pts, lam, d, sh):
    """Merge the solved segments ``u0..umid-1`` and ``umid..u1-1`` (units) by
    the ``g`` threads of a group; returns the search steps (0 without a
    right segment, ``umid >= u1``).

    ``ulo[u]:uhi[u]`` is unit ``u``'s live range of cluster starts in ``V``;
    ``cum`` is scratch for the units; ``end`` is the right segment's end point;
    ``sh``: :data:`SHARED_SLOTS` ``* blockDim.x`` shared int64 slots. A
    ``(g+1)``-ary search (``g`` candidates a step, each with its own binary
    search on the right hull; a binary search, as on the CPU, when ``g = 1``)
    finds the smallest rank ``i*`` of the left's cluster starts whose cluster
    joins the right; then the units keep the ranks ``0..i*`` and ``J..``,
    ``J`` the end of the new cluster ``a_{i*}..b_J``.
    """
    T = cuda.blockDim.x
    part, s_lo, s_hi, s_j, s_res, s_jr = sh[:T], sh[T:2 * T], sh[2 * T:3 * T], sh[3 * T:4 * T], \
        sh[4 * T:5 * T], sh[5 * T:6 * T]
    n = group_scan(i, g, t, u0, u1, ulo, uhi, cum, part)
    lead = t - i
    p = 0
    if umid < u1:
        p = cum[umid]                    # the left's cluster starts; the rank p is the midpoint
    if i == 0:
        s_lo[lead] = 0
        s_hi[lead] = p                   # rank p: no cluster joins the right
        s_j[lead] = n
    cuda.syncthreads()
    steps = 0
    while cuda.syncthreads_or(1 if s_lo[lead] < s_hi[lead] else 0):
        lo = s_lo[lead]
        hi = s_hi[lead]
        m = min(g, hi - lo)
        if i < m:
            ok, jr = _joins_right(lo + (i + 1) * (hi - lo) // (m + 1), p, n, u0, u1, ulo, cum, V, end,
                                  pts, lam, d)
            s_res[t] = 1 if ok else 0
            s_jr[t] = jr
        if lo < hi:
            steps += 1
        cuda.syncthreads()
        if i == 0 and lo < hi:           # the first candidate that joins narrows the range
            new_lo = lo
            new_hi = hi
            for k in range(m):
                c = lo + (k + 1) * (hi - lo) // (m + 1)
                if s_res[t + k] != 0:
                    new_hi = c
                    s_j[lead] = s_jr[t + k]
                    break
                new_lo = c + 1
            s_lo[lead] = new_lo
            s_hi[lead] = new_hi
        cuda.syncthreads()
    star = s_lo[lead]
    jrank = s_j[lead]
    if star < p:                         # trim: the left keeps ranks 0..star, the right J..
        w = (u1 - u0 + g - 1) // g
        a = min(u0 + i * w, u1)
        for u in range(a, min(a + w, u1)):
            k = cum[u]
            cnt = uhi[u] - ulo[u]
            if u < umid:
                uhi[u] = ulo[u] + max(0, min(cnt, star + 1 - k))
            else:
                ulo[u] = ulo[u] + min(cnt, max(0, jrank - k))
    cuda.syncthreads()
    return steps


r"""Search collisions on CUDA over the whole device: tiles, then a merge tree.

The paper's parallel algorithm (the mirror of
:mod:`wsprox.cpu.search_collisions`), in the lower-hull view: on the points ``P_j = (j, S_j)``,
``S_j = x_0 + ... + x_{j-1}`` (``j = 0..d``), the cluster ``a..b-1`` is the edge
``P_a P_b`` with the slope ``slope(a, b) = cluster_value(S_b - S_a, lam, d, a,
b - 1)`` (its value, the CPU's formula: :mod:`wsprox.core.hull`), and the clusters
of the prox are the edges of the lower convex hull, so a solved segment is its list
of cluster starts (hull vertices). Two adjacent solved segments ``A = a_0..a_p``
(``a_p = mid``) and ``B = b_0..b_q`` (``b_0 = mid``, ``b_q`` their end) merge
into one new cluster across the midpoint, or none:

.. code-block:: text

    J(i)  = last minimiser of slope(a_i, b_j), j = 1..q     # binary search: right while
                                                             # slope(a_i, b_j+1) <= slope(a_i, b_j)
    P(i)  = slope(a_i, b_J(i)) <= slope(a_i, a_i+1)          # the CPU's "J(s) >= mid"
    i*    = smallest i < p with P(i), else p                 # P: false ... false, true ... true
    if i* < p: keep a_0..a_i* and b_J(i*)..b_q               # the new cluster a_i*..b_J(i*)-1

Why it is right: the lower hull of ``A u B`` is a prefix of ``A``, one bridge
and a suffix of ``B``. ``P(i)`` asks whether the lowest line from ``a_i`` to
the points right of it touches ``B`` (``A`` is convex, so within ``A`` the
lowest is the edge to ``a_{i+1}``); it is monotone, as on the CPU. For
``i < i*`` the edge ``a_i a_{i+1}`` lies on or below every line from ``a_i``
into ``B``: a hull edge of the union. From ``a_{i*}`` the lowest line goes to
``b_J``: the bridge; the edges of ``B`` after ``b_J`` stay (``J`` is the
tangent point). Ties: ``<=`` in ``P`` and the *last* minimiser merge
neighbours of equal value, as PAVA's ``>=`` does, so the clusters are maximal
and equal the CPU's. The same search (``J``, then ``P``) decides the CPU's
levels, so with binary searches it takes the same steps.

Two launches: the tiles, then one cooperative kernel (:mod:`wsprox.cuda.grid`:
as many blocks as the device holds at once, each looping over its share of
the rows, pairs or tiles of a phase, a grid barrier between phases), every
tile and every pair of every row at once:

.. code-block:: text

    tiles    one block of T = THREADS threads per tile of B = TILE entries:
             E[j]   = x[tile start] + ... + x[j-1]         # block scan, double-double, tile-local
             tot[c] = the tile's sum
             every thread: PAVA (hull form, wsprox.core.pava.hull_pava) on its run of B/T entries
             for g = 2, 4, ..., T:                         # log2 T levels, groups of g threads
                 each group merges a pair of adjacent solved runs (the rule above)
             the tile's cluster starts, compacted to its front: its live range [lo_c, hi_c)
    merge    (cooperative, the phases below separated by grid barriers)
      offsets  a block per row: base[c] = tot[0] + ... + tot[c-1] in double-double
      level    for h = 1, 2, 4, ... < C (C = ceil(d / B) tiles; ceil(log2 C) levels):
               a block per pair of segments of h tiles: the rule on the concatenation
               of the tiles' live ranges (a scan of their counts ranks the vertices);
               trim the ranges (no vertex is copied)
      count    a block per row: a scan of the live counts -> counts, the sentinel, rounds
      gather   a block per tile: its live cluster starts -> starts

A group of ``g`` threads searches ``i*`` ``(g+1)``-ary: a step tests ``g``
candidates, each with its own binary search for ``J``; a vertex of a given
rank is found by a binary search on the units' count scan.

Accuracy: ``S_j`` is never one float64 prefix over the row (at ``d = 1e8``
that errs by more than the velocity step ``2 lam/(d-1)``): a range within a
tile is a difference of the double-double ``E``, a longer one adds the
difference of the double-double tile offsets, every difference by TwoSum, so
a cluster's sum errs by about ``eps`` times itself, not times the partial sums
before it (:func:`wsprox.cuda.hull.range_sum`). At ``lam = 0`` no particle
moves and the clusters are the runs of equal values, found directly (one
cooperative launch: a grid-wide count of the run starts, ``rounds = 0``):
differences of prefix sums cannot tell apart entries below ``eps**2`` of the
partial sums before them (``0`` and ``1e-152`` after ``-1024``), which with
``lam > 0`` matters only where the velocity step is as small.

``rounds[r]`` counts the search steps of the merges, summed over the merge
levels (the most of any pair of the row at a level), as the CPU counts the
binary-search steps of its levels. The levels below a thread's run of
``TILE // THREADS`` entries are PAVA, not counted, and a step of ``g`` threads
tests ``g`` candidates, so only with ``TILE = THREADS = 1`` (every entry a
tile, binary searches) does it equal the CPU's count.

Cost, for a row of ``d`` entries in ``C`` tiles of ``B`` entries and runs of
``r = B/T``: the scans, PAVA, count and gather are :math:`O(d)` work. A merge
by ``g`` threads of segments of ``p`` and ``q`` cluster starts spread over ``U``
units scans their counts (:math:`O(U)` work, :math:`O(U/g + \log g)` depth),
then takes :math:`\lceil \log_{g+1}(p+1) \rceil` steps of at most ``g``
candidates, each a binary search of :math:`O(\log q)` probes that find a
vertex in :math:`O(\log U)`: depth :math:`O(U/g + \log g + \log^3 d / \log(g+1))`
a level, over :math:`\lceil \log_2 (d/r) \rceil` levels after the PAVA's
:math:`O(r)`; work at most :math:`O((d/r) \log^2 d \log T)` in all (every
pair testing all its candidates); two launches, :math:`\lceil \log_2 C \rceil + 2` grid barriers.
Work arrays :math:`O(d)`, from the thread's device scratch; shared memory: the launches'
dynamic buffers only (the tile kernel's :math:`8 (12 T + B)` bytes, 40 KiB at
the defaults).
"""
from collections import namedtuple

import numpy as np
from numba import float64, int64

from ._device import cuda, launch, scratch
from .clusters import planned_solve
from .grid import cooperative_launcher, grid_launcher, launch_key
from .hull import SHARED_SLOTS, dd_add, group_scan, hull_pava, merge_pair
from .scan import ROW, SUM, grid_scan, own_entries, scratch_scan
from .weights import LAM

__all__ = ["THREADS", "TILE", "solve"]

#: Sorted entries per tile (a power of two, a multiple of :data:`THREADS`).
#: Read at every launch: tests lower it to run many tiles and levels at tiny ``d``.
TILE = 2048
#: Threads per CUDA block (a power of two, at most :data:`TILE`); each thread
#: of the tile kernel runs PAVA on ``TILE // THREADS`` entries. Read at every launch.
THREADS = 256

#: The double-double sums of every row (float64): ``Eh, El`` ``(n, d)``, the
#: tile-local prefix sums; ``toth, totl`` ``(n, C)``, the tiles' sums; ``bh, bl``
#: ``(n, C)``, the sums of the tiles before each (:mod:`wsprox.cuda.hull`).
Sums = namedtuple("Sums", "Eh El toth totl bh bl")
#: Every tile's live range ``lo:hi`` of cluster starts in ``V`` and its place
#: ``cum`` among its row's (int64, ``(n, C)`` each).
Units = namedtuple("Units", "lo hi cum")
#: The search steps (int64): ``tiles`` ``(n, C, levels inside a tile)`` of every
#: tile's levels, ``levels`` ``(n, all levels)`` of every row's levels.
Steps = namedtuple("Steps", "tiles levels")


@cuda.jit(device=True, inline="always")
def _dd_exclusive_scan(ph, pl, h, lo):
    # Every thread's exclusive prefix of the block's double-double values (h, lo):
    # a Hillis-Steele scan in the shared arrays ph, pl (one slot per thread).
    t = cuda.threadIdx.x
    ph[t] = h
    pl[t] = lo
    cuda.syncthreads()
    off = 1
    while off < cuda.blockDim.x:
        vh = ph[t - off] if t >= off else 0.0
        vl = pl[t - off] if t >= off else 0.0
        cuda.syncthreads()
        ph[t], pl[t] = dd_add(vh, vl, ph[t], pl[t])
        cuda.syncthreads()
        off *= 2
    if t == 0:
        return 0.0, 0.0
    return ph[t - 1], pl[t - 1]


@cuda.jit(cache=True)
def _tiles(x, weights, tile, sums, V, units, tsteps):
    # A block per tile c of row r: its sums, its PAVA runs and their merges (see the module).
    d = x.shape[1]
    C = units.lo.shape[1]
    r = cuda.blockIdx.x // C
    c = cuda.blockIdx.x % C
    t = cuda.threadIdx.x
    T = cuda.blockDim.x
    lam = weights[LAM]
    Eh, El, toth, totl = sums.Eh, sums.El, sums.toth, sums.totl
    per = tile // T
    t0 = c * tile
    n = min(tile, d - t0)
    xr, Vr = x[r], V[r]
    pts = (Eh[r], El[r], toth[r], totl[r], sums.bh[r], sums.bl[r], tile)  # bh, bl: never read in one tile
    f8 = cuda.shared.array(0, float64)
    ph, pl = f8[:T], f8[T:2 * T]
    i8 = cuda.shared.array(0, int64)
    rlo, rhi, rcum = i8[2 * T:3 * T], i8[3 * T:4 * T], i8[4 * T:5 * T]
    sh = i8[5 * T:(5 + SHARED_SLOTS) * T]
    lsteps = i8[(5 + SHARED_SLOTS) * T:(6 + SHARED_SLOTS) * T]
    stage = i8[(6 + SHARED_SLOTS) * T:(6 + SHARED_SLOTS) * T + tile]
    # 1. Tile-local exclusive prefix sums E in double-double (thread t owns the
    #    run a..b-1), and the tile's total.
    a = t0 + min(t * per, n)
    b = t0 + min(t * per + per, n)
    h = 0.0
    lo = 0.0
    for k in range(a, b):
        h, lo = dd_add(h, lo, xr[k], 0.0)
    lsteps[t] = 0
    h, lo = _dd_exclusive_scan(ph, pl, h, lo)
    for k in range(a, b):
        Eh[r, k] = h
        El[r, k] = lo
        h, lo = dd_add(h, lo, xr[k], 0.0)
    if t == T - 1:
        toth[r, c] = ph[T - 1]
        totl[r, c] = pl[T - 1]
    cuda.syncthreads()
    # 2. Sequential PAVA (hull form) on every thread's run.
    rlo[t] = a
    rhi[t] = a + hull_pava(pts, lam, d, a, b, Vr)
    cuda.syncthreads()
    # 3. log2(T) levels of merges of solved runs, groups of g threads per pair.
    runs = (n + per - 1) // per
    g = 2
    level = 0
    while g <= T:
        i = t % g
        u0 = t - i
        u1 = max(u0, min(u0 + g, runs))
        steps = merge_pair(i, g, t, u0, u0 + g // 2, u1, t0 + min((u0 + g) * per, n), rlo, rhi, rcum, Vr,
                           pts, lam, d, sh)
        if i == 0 and u0 + g // 2 < u1:
            cuda.atomic.max(lsteps, level, steps)
        g *= 2
        level += 1
    # 4. The tile's cluster starts, compacted to its front.
    total = group_scan(t, T, t, 0, runs, rlo, rhi, rcum, sh)
    if t < runs:
        for k in range(rlo[t], rhi[t]):
            stage[rcum[t] + k - rlo[t]] = Vr[k]
    cuda.syncthreads()
    for k in range(t, total, T):
        Vr[t0 + k] = stage[k]
    if t == 0:
        units.lo[r, c] = t0
        units.hi[r, c] = t0 + total
    if t < level:
        tsteps[r, c, t] = lsteps[t]


@cuda.jit(device=True)
def _row_offsets(r, sums, steps, levels_in):
    # Row r by the block: the tiles' offsets, an exclusive double-double scan of
    # their totals; the row's steps of the in-tile levels (the most of any tile).
    toth, totl, bh, bl = sums.toth, sums.totl, sums.bh, sums.bl
    tsteps, lvl = steps.tiles, steps.levels
    t = cuda.threadIdx.x
    T = cuda.blockDim.x
    C = toth.shape[1]
    f8 = cuda.shared.array(0, float64)
    ph, pl = f8[:T], f8[T:2 * T]
    lmax = cuda.shared.array(0, int64)[2 * T:3 * T]
    w = (C + T - 1) // T
    a = min(t * w, C)
    b = min(a + w, C)
    h = 0.0
    lo = 0.0
    for c in range(a, b):
        h, lo = dd_add(h, lo, toth[r, c], totl[r, c])
    lmax[t] = 0
    h, lo = _dd_exclusive_scan(ph, pl, h, lo)
    for c in range(a, b):
        bh[r, c] = h
        bl[r, c] = lo
        h, lo = dd_add(h, lo, toth[r, c], totl[r, c])
    for q in range(levels_in):
        m = 0
        for c in range(a, b):
            m = max(m, tsteps[r, c, q])
        cuda.atomic.max(lmax, q, m)
    cuda.syncthreads()
    for q in range(t, lvl.shape[1], T):
        lvl[r, q] = lmax[q] if q < levels_in else 0
    cuda.syncthreads()  # the shared scratch read, before the block's next row rewrites it


@cuda.jit(device=True)
def _merge_pair_of(p, pairs, h, index, tile, lam, sums, V, units, lvl):
    # Pair p (of pairs per row) of segments of h tiles whose right one is not empty, by the block.
    d = V.shape[1]
    C = units.lo.shape[1]
    r = p // pairs
    u0 = (p % pairs) * 2 * h
    u1 = min(u0 + 2 * h, C)
    t = cuda.threadIdx.x
    sh = cuda.shared.array(0, int64)[:SHARED_SLOTS * cuda.blockDim.x]
    pts = (sums.Eh[r], sums.El[r], sums.toth[r], sums.totl[r], sums.bh[r], sums.bl[r], tile)
    steps = merge_pair(t, cuda.blockDim.x, t, u0, u0 + h, u1, min(u1 * tile, d), units.lo[r], units.hi[r],
                       units.cum[r], V[r], pts, lam, d, sh)
    if t == 0:
        cuda.atomic.max(lvl, (r, index), steps)


@cuda.jit(device=True)
def _row_count(r, V, units, lvl, clusters):
    # Row r by the block: where each tile's surviving cluster starts go, the count, the sentinel, the rounds.
    t = cuda.threadIdx.x
    total = group_scan(t, cuda.blockDim.x, t, 0, units.lo.shape[1], units.lo[r], units.hi[r], units.cum[r],
                       cuda.shared.array(0, int64)[:cuda.blockDim.x])
    if t == 0:
        clusters.counts[r] = total
        clusters.starts[r, total] = V.shape[1]
        s = 0
        for q in range(lvl.shape[1]):
            s += lvl[r, q]
        clusters.rounds[r] = s


@cuda.jit(cache=True)
def _merge(tile, levels_in, levels, weights, sums, V, units, steps, clusters):
    # The offsets, the merge levels, the count and the gather: phases over the grid's blocks.
    grid = cuda.cg.this_grid()
    lam = weights[LAM]
    n = V.shape[0]
    C = units.lo.shape[1]
    g = cuda.blockIdx.x
    G = cuda.gridDim.x
    for r in range(g, n, G):
        _row_offsets(r, sums, steps, levels_in)
    grid.sync()  # orders: every row's tile offsets and level slots, before the merges read them
    for k in range(levels):
        h = 1 << k
        pairs = (C - h + 2 * h - 1) // (2 * h)
        for p in range(g, n * pairs, G):
            _merge_pair_of(p, pairs, h, levels_in + k, tile, lam, sums, V, units, steps.levels)
        grid.sync()  # orders: this level's trimmed ranges and steps, before the next phase reads them
    for r in range(g, n, G):
        _row_count(r, V, units, steps.levels, clusters)
    grid.sync()  # orders: every tile's place in its row (cum), before the gather reads them
    for b in range(g, n * C, G):
        r = b // C
        c = b % C
        a = units.lo[r, c]
        for k in range(cuda.threadIdx.x, units.hi[r, c] - a, cuda.blockDim.x):
            clusters.starts[r, units.cum[r, c] + k] = V[r, a + k]


@cuda.jit(cache=True)
def _tie_runs(gc, x, clusters, scan):
    # lam = 0: the clusters are the runs of equal values of every row (one cooperative launch).
    starts, counts, rounds = clusters
    fv, iv, fl = scan
    d = x.shape[1]
    first, stop, step = own_entries(gc, x.size)
    for q in range(first, stop, step):
        r = q // d
        k = q - r * d
        fl[q] = ROW if k == 0 else 0
        iv[q] = 1 if k == 0 or x[r, k] != x[r, k - 1] else 0
        fv[q] = 0.0
    cuda.syncthreads()  # the scan reads this block's own entries first
    grid_scan(SUM, fv, iv, fl, ROW, x.size, gc)  # iv[q]: the runs of q's row that start at or before q
    for q in range(first, stop, step):
        r = q // d
        k = q - r * d
        if k == 0 or x[r, k] != x[r, k - 1]:
            starts[r, iv[q] - 1] = k
        if k == d - 1:
            counts[r] = iv[q]
            starts[r, iv[q]] = d
            rounds[r] = 0


def _geometry(d):
    """``(tile, threads)`` for rows of ``d``: :data:`TILE` and :data:`THREADS`, halved
    together while a row still fits one tile (runs of ``TILE // THREADS`` entries)."""
    tile, threads = TILE, THREADS
    for name, v in (("TILE", tile), ("THREADS", threads)):
        if v < 1 or v & (v - 1):
            raise ValueError(f"wsprox.cuda.search_collisions.{name} must be a power of two, got {v}")
    if threads > tile:
        raise ValueError(f"wsprox.cuda.search_collisions.THREADS ({threads}) must not exceed TILE ({tile})")
    while threads > 1 and tile // 2 >= d:
        tile //= 2
        threads //= 2
    return tile, threads


def solve(x, lam, starts, counts, rounds, weights=None):
    """Clusters of every sorted row of the device array ``x`` (see :mod:`wsprox.cuda`);
    ``lam = 0`` (the host's number) takes the runs of equal values."""
    ties = lam == 0.0
    key = ("search_collisions", *x.shape, ties, TILE, THREADS, *launch_key())
    planned_solve(key, _ties_plan if ties else _plan, x, lam, starts, counts, rounds, weights)


def _plan(x, weights, clusters):
    # The two launches of a solve of x's shape, with their work arrays.
    n, d = x.shape
    tile, threads = _geometry(d)
    C = (d + tile - 1) // tile
    levels_in = threads.bit_length() - 1
    levels = (C - 1).bit_length()
    E = scratch("search.E", (2, n, d), np.float64)
    F = scratch("search.F", (4, n, C), np.float64)
    U = scratch("search.U", (3, n, C), np.int64)
    sums, units = Sums(E[0], E[1], F[0], F[1], F[2], F[3]), Units(U[0], U[1], U[2])
    V = scratch("search.V", (n, d), np.int64)
    steps = Steps(scratch("search.tsteps", (n, C, max(levels_in, 1)), np.int64),
                  scratch("search.lvl", (n, max(levels_in + levels, 1)), np.int64))
    tiles = (n * C, threads, 8 * ((6 + SHARED_SLOTS) * threads + tile))
    merge = cooperative_launcher(_merge, n * C, threads, 8 * SHARED_SLOTS * threads,
                                 tile, levels_in, levels, weights, sums, V, units, steps, clusters)

    def run(x, weights, clusters):
        launch(_tiles, *tiles)(x, weights, tile, sums, V, units, steps.tiles)
        merge(tile, levels_in, levels, weights, sums, V, units, steps, clusters)
    return run


def _ties_plan(x, weights, clusters):
    # lam = 0: the one launch of the runs of equal values, with its work arrays.
    n, d = x.shape
    scan = scratch_scan("search.ties", n * d)
    ties = grid_launcher(_tie_runs, n * d, x, clusters, scan)
    return lambda x, weights, clusters: ties(x, clusters, scan)

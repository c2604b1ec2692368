r"""The prox of one vector sharded across the processes of a ``torch.distributed`` group.

Every rank holds a 1-D shard of one logical vector ``w`` (shards may be
uneven or empty; ``w`` is their concatenation in rank order) and
:func:`prox_` replaces each shard by its part of the exact prox of ``w``,
without ever holding ``w`` on one rank. The algorithm, on ``P`` ranks and
``d`` entries:

1. **Sample sort.** Every rank sorts its shard by the key ``(value, global
   index)`` (unique keys: ties are split across ranks as evenly as distinct
   values, and the merge below joins them again). Each sends ``16 P``
   regularly spaced samples, weighted by its shard's length (an
   ``all_gather``); every rank picks the same ``P - 1`` splitters at the
   weighted quantiles ``k d / P``; an ``all_to_all`` of the values gives
   rank ``r`` the ``r``-th range of the sorted vector, of about ``d / P``
   entries, in sorted runs from the ranks in order (their indices increase
   with the rank), which a stable sort by value merges.
2. **Local hulls.** With ``o_r`` the global rank of rank ``r``'s first entry
   (an exclusive scan of the range lengths) and ``S_j = x_0 + ... + x_{j-1}``
   the global prefix sums (rank ``r``'s offset is the double-double sum of the
   totals of the ranges before it, from one ``all_gather``), the clusters of
   the prox are the edges of the lower convex hull of the points
   :math:`(j, S_j)` (:mod:`wsprox.core.hull`): the cluster ``a..b-1`` has the
   value :func:`wsprox.core.clusters.cluster_value` of :math:`S_b - S_a`, the
   slope of the edge. Each rank solves its range by PAVA in this hull form
   (:func:`wsprox.core.pava.hull_pava`), with global indices and
   double-double sums (so that exact ties stay ties, as in the PAVA of the
   backends).
3. **Merge tree.** :math:`\lceil \log_2 P \rceil` rounds; in round ``L``
   the groups of :math:`2^{L-1}` neighbouring ranks are merged pairwise by
   the rule of search collisions (one new cluster across each midpoint,
   :mod:`wsprox.cpu.search_collisions`; the hull form of
   :mod:`wsprox.cuda.search_collisions`): the smallest cluster start ``a_c`` of the left hull
   whose cluster joins the right, :math:`\min_{j \ge 1}
   \mathrm{slope}(a_c, b_j) \le \mathrm{slope}(a_c, a_{c+1})`, found by a
   binary search on ``c`` around binary searches on the convex right hull,
   and the last minimiser ``b_J``; the left keeps ``a_0..a_c``, the right
   ``b_J..``. Only *windows* of the hulls travel: the last ``k`` live cluster
   starts of each left group and the first ``k + 1`` of each right group,
   ``k = 32`` first, as (global index, double-double prefix sum) triples
   in one ``all_gather``. A search that reaches the cut end of a window
   (the answer may lie beyond it) doubles ``k`` for its pair and repeats;
   by the convexity of the hulls an answer inside the windows is the answer
   on the whole hulls. Every rank computes every pair's merge from the
   gathered windows, so the live counts of all ranks are known everywhere
   without more messages.
4. **Values and return.** One ``all_gather`` of each rank's first and last
   live cluster starts gives every rank the clusters that cross into its
   range; their values settled (:func:`wsprox.core.clusters.settle_values`:
   the running max, which repairs ulp inversions, soft-thresholded by
   ``l1``; then raised to the last value of the ranks before), and an
   ``all_to_all`` back to the owners of the original positions.

Communication per rank: the two ``all_to_all`` of about ``d / P`` float64
values each (out and back); ``O(P)`` small ``all_gather`` (a few numbers per
rank) and the samples (``48 P`` bytes per rank); per merge round one
``all_gather`` of at most ``24 (k + 1)`` bytes per rank, repeated with a
doubled ``k`` only while a new cluster reaches past the windows (on random
data the first window nearly always suffices; a cluster absorbing ``n``
clusters across a midpoint costs ``log2(n / 32)`` extra gathers of up to
``24 n`` bytes). Memory: ``O(d / P)`` per rank for the range (after a
balanced sort), plus the windows of the ranks (``O(P k)``). Work:
``O((d / P) log d)`` per rank for the sorts, ``O(d / P)`` for PAVA, and
``O(log^2 k)`` cluster values per pair and round.

The collectives are ``all_gather`` and ``all_to_all_single`` on float64
tensors: gloo on the CPU (tested) and NCCL (tensors on the current CUDA
device; the computation stays on the host, untested here) provide both.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._extras import require
from ._validation import check_penalty_weight
from .core.clusters import settle_values
from .core.hull import dd_add, edge_slope, prefix_sums
from .core.pava import hull_pava
from .core.validation import overflow_scale

torch = require("torch", extra="torch", feature="wsprox.distributed")
dist = require("torch.distributed", extra="torch", feature="wsprox.distributed")

__all__ = ["prox_"]

#: Samples per rank and rank of the group for the splitters of the sample sort.
SAMPLES_PER_RANK = 16

#: Live cluster starts of each side that the first exchange of a merge sends.
WINDOW = 32

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


@njit(cache=True)
def _cluster_values(j, h, lo, lam, d, out):
    # Values of the clusters between consecutive vertices (j, h + lo): the hull's edge slopes.
    for b in range(j.size - 1):
        out[b] = edge_slope(h[b], lo[b], h[b + 1], lo[b + 1], lam, d, j[b], j[b + 1])


class _Comm:
    """The collectives of one call, on float64 tensors of the group's device."""

    def __init__(self, group):
        self.group = group
        self.rank = dist.get_rank(group)
        self.size = dist.get_world_size(group)
        nccl = dist.get_backend(group) == "nccl"
        self.device = torch.device("cuda", torch.cuda.current_device()) if nccl else torch.device("cpu")

    def all_gather(self, a):
        t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64)).to(self.device)
        parts = [torch.empty_like(t) for _ in range(self.size)]
        dist.all_gather(parts, t, group=self.group)
        return torch.stack(parts).cpu().numpy()

    def all_to_all(self, a, send, recv):
        t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64)).to(self.device)
        out = torch.empty((int(sum(recv)),) + tuple(t.shape[1:]), dtype=t.dtype, device=self.device)
        dist.all_to_all_single(out, t, [int(n) for n in recv], [int(n) for n in send], group=self.group)
        return out.cpu().numpy()


def prox_(shard, lam, *, l1=0.0, group=None):
    r"""Replace every rank's shard of one vector by its part of the exact prox, in place.

    .. math::

        \operatorname{prox}(w) = \arg\min_x \tfrac12\|x - w\|^2 + \lambda R(x)
            + \ell_1 \|x\|_1,
        \qquad w = \mathrm{concat}(\mathrm{shard}_0, \ldots, \mathrm{shard}_{P-1}).

    A collective: every rank of ``group`` calls it, with the same ``lam`` and
    ``l1``. The algorithm (sample sort, PAVA per rank, a merge tree of
    :math:`\lceil\log_2 P\rceil` rounds exchanging windows of the cluster
    hulls) and its cost are in :mod:`wsprox.distributed`.

    Parameters
    ----------
    shard : torch.Tensor, 1-D, floating
        This rank's part of the vector (any length, 0 included; CPU for gloo,
        CPU or CUDA for NCCL). Computed in float64, written in its own dtype.
    lam : float
        The weight of the weight-sharing penalty :math:`R`, ``>= 0``.
    l1 : float, optional
        The weight of the :math:`\ell_1` penalty, ``>= 0``.
    group : torch.distributed.ProcessGroup, optional
        The ranks that share the vector; the default group when omitted.

    Returns
    -------
    torch.Tensor
        ``shard``, overwritten.

    Raises
    ------
    TypeError
        ``shard`` is not a 1-D floating tensor, or ``lam``/``l1`` not a real
        scalar (raised on the ranks that got it; the others wait).
    ValueError
        On every rank: some rank's shard holds NaN or infinity, or the ranks
        passed different ``lam`` or ``l1``.

    Examples
    --------
    A group of one process (the same call runs unchanged on ``P`` ranks):

    >>> import os, tempfile
    >>> import torch, torch.distributed as dist
    >>> import wsprox, wsprox.distributed
    >>> tmp = tempfile.mkdtemp()
    >>> dist.init_process_group("gloo", init_method="file://" + os.path.join(tmp, "init"),
    ...                         rank=0, world_size=1)
    >>> w = torch.tensor([0.0, 1.0, 10.0], dtype=torch.float64)
    >>> expected = wsprox.prox(w.numpy(), 2.0)
    >>> wsprox.distributed.prox_(w, 2.0)
    tensor([1.5000, 1.5000, 8.0000], dtype=torch.float64)
    >>> bool(torch.allclose(w, torch.from_numpy(expected)))
    True
    >>> dist.destroy_process_group()
    """
    if not isinstance(shard, torch.Tensor) or shard.ndim != 1 or shard.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"shard must be a 1-D floating torch.Tensor, got "
                        f"{type(shard).__name__}{getattr(shard, 'shape', '')} of dtype "
                        f"{getattr(shard, 'dtype', None)}")
    lam = check_penalty_weight(lam, "lam")
    l1 = check_penalty_weight(l1, "l1")
    comm = _Comm(group)
    w = shard.detach().to("cpu", torch.float64).numpy()
    finite = bool(np.isfinite(w).all())
    magnitude = float(np.abs(w).max()) if finite and w.size else 0.0
    info = comm.all_gather([w.size, magnitude, finite, lam, l1])
    if not info[:, 2].all():
        bad = [r for r in range(comm.size) if not info[r, 2]]
        raise ValueError(f"shard must be finite: the shards of ranks {bad} hold NaN or infinity")
    if (info[:, 3] != lam).any() or (info[:, 4] != l1).any():
        raise ValueError(f"every rank must pass the same lam and l1, got lam {info[:, 3].tolist()} "
                         f"and l1 {info[:, 4].tolist()}")
    lengths = info[:, 0].astype(np.int64)
    d = int(lengths.sum())
    if d == 0:
        return shard
    scale = overflow_scale(float(info[:, 1].max()), d, lam, l1)
    first = int(lengths[:comm.rank].sum())
    result = _prox_sharded(comm, w * scale, first, d, lam * scale, l1 * scale) / scale
    with torch.no_grad():
        shard.copy_(torch.from_numpy(result))
    return shard


def _prox_sharded(comm, w, first, d, lam, l1):
    """The prox of this rank's entries ``w`` (global indices ``first..``), float64."""
    order = np.argsort(w, kind="stable")            # by (value, global index first + order)
    v = w[order]
    send = _split(v, order, first, _splitters(comm, v, order, first, d))
    counts = comm.all_gather(send).astype(np.int64)  # counts[s, r]: from rank s to rank r
    recv = counts[:, comm.rank]
    part = comm.all_to_all(v, send, recv)
    # The parts come in rank order, each sorted by (value, index), and the global indices
    # of rank s are below those of rank s + 1: a stable sort by value (merging P runs) is
    # the sort by (value, index).
    perm = np.argsort(part, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(counts.sum(axis=0))])
    values = _solve(comm, part[perm], offsets, lam, l1)
    back = np.empty_like(values)
    back[perm] = values
    mine = comm.all_to_all(back, recv, send)
    result = np.empty_like(mine)
    result[order] = mine
    return result


def _splitters(comm, v, order, first, d):
    """The ``P - 1`` splitter keys (value, global index) at the weighted quantiles
    ``k d / P`` of the samples of the ranks' sorted values ``v``."""
    n_samples = SAMPLES_PER_RANK * comm.size
    m = v.size
    s = min(m, n_samples)
    rows = np.zeros((n_samples, 3))
    if s:
        at = ((np.arange(s) + 0.5) * m / s).astype(np.int64)
        rows[:s] = np.stack([v[at], first + order[at], np.full(s, m / s)], axis=1)
    samples = comm.all_gather(rows).reshape(-1, 3)
    samples = samples[samples[:, 2] > 0]
    samples = samples[np.lexsort((samples[:, 1], samples[:, 0]))]
    cum = np.cumsum(samples[:, 2])
    at = np.searchsorted(cum, np.arange(1, comm.size) * d / comm.size)
    return samples[np.minimum(at, samples.shape[0] - 1), :2]


def _split(v, order, first, splitters):
    """How many of the sorted values ``v`` (global indices ``first + order``) go to each
    rank: the keys (value, index) ``<=`` splitter ``k`` and above splitter ``k - 1`` to
    rank ``k``."""
    cuts = []
    for sv, sg in splitters:
        lo, hi = np.searchsorted(v, sv, "left"), np.searchsorted(v, sv, "right")
        cuts.append(lo + np.searchsorted(first + order[lo:hi], sg, "right"))
    return np.diff(np.concatenate([[0], cuts, [v.size]])).astype(np.int64)

def _solve(comm, x, offsets, lam, l1):
    """The prox of this rank's sorted range ``x``, which holds the global ranks
    ``offsets[r]..offsets[r + 1] - 1`` of the sorted vector."""
    rank, size = comm.rank, comm.size
    d = int(offsets[-1])
    o = int(offsets[rank])
    m = x.size
    sh, sl = np.empty(m + 1), np.empty(m + 1)
    prefix_sums(x, sh, sl)
    starts = np.empty(m, dtype=np.int64)
    n_starts = hull_pava((sh, sl, o), lam, d, 0, m, starts)
    table = comm.all_gather([sh[m], sl[m], n_starts])
    base = np.zeros((size + 1, 2))                   # double-double sums of the ranges before each rank
    for r in range(size):
        base[r + 1] = dd_add(base[r, 0], base[r, 1], table[r, 0], table[r, 1])
    ends = np.stack([offsets.astype(np.float64), base[:, 0], base[:, 1]], axis=1)  # the points o_r
    starts = starts[:n_starts]
    h, lo_ = dd_add(base[rank, 0], base[rank, 1], sh[starts], sl[starts])
    verts = np.stack([o + starts.astype(np.float64), h, lo_], axis=1)     # (global index, S) rows
    live = _merge_tree(comm, verts, table[:, 2].astype(np.int64), ends, lam, d)
    return _values(comm, verts[live[0]:live[1]], live[2], ends, lam, l1, d, o, m)


def _window(cnt, r0, r1, start, stop, take):
    # take[r] = (first, count) of rank r's live starts at the concatenated positions
    # start..stop-1 of the live starts of the ranks r0..r1-1.
    cum = 0
    for r in range(r0, r1):
        first = max(start - cum, 0)
        take[r] = first, max(min(stop - cum, cnt[r]) - first, 0)
        cum += cnt[r]


def _merge_tree(comm, verts, cnt, ends, lam, d):
    """Merge the ranks' hulls in ``ceil(log2 P)`` rounds; returns this rank's live range of
    ``verts`` and the live counts of every rank."""
    rank, size = comm.rank, comm.size
    lo, hi = 0, verts.shape[0]
    half = 1
    while half < size:
        pending = [(g, g + half, min(g + 2 * half, size)) for g in range(0, size, 2 * half) if g + half < size]
        k = WINDOW
        while pending:
            take = np.zeros((size, 2), dtype=np.int64)
            plan = []
            for g, mid, e in pending:
                p, q = cnt[g:mid].sum(), cnt[mid:e].sum()
                if p and q:
                    wl, wr = min(p, k), min(q, k + 1)
                    _window(cnt, g, mid, p - wl, p, take)
                    _window(cnt, mid, e, 0, wr, take)
                    plan.append((g, mid, e, p, q, wl, wr))
            if not plan:
                break
            rows = np.zeros((int(take[:, 1].max()), 3))
            first, n = take[rank]
            rows[:n] = verts[lo + first:lo + first + n]
            got = comm.all_gather(rows)
            pending = []
            for g, mid, e, p, q, wl, wr in plan:
                right = [got[r, :take[r, 1]] for r in range(mid, e)] + ([ends[e:e + 1]] if wr == q else [])
                right = np.concatenate(right)
                left = np.concatenate([got[r, :take[r, 1]] for r in range(g, mid)] + [right[:1]])
                found = _merge_pair(left, right, wl == p, wr == q, lam, d)
                if found is None:
                    pending.append((g, mid, e))
                elif found:
                    keep, gone = p - wl + found[0] + 1, found[1]
                    if g <= rank < mid:
                        hi = lo + min(max(keep - cnt[g:rank].sum(), 0), cnt[rank])
                    elif mid <= rank < e:
                        lo += min(max(gone - cnt[mid:rank].sum(), 0), cnt[rank])
                    _cut(cnt, g, mid, keep, e, gone)
            k *= 2
        half *= 2
    return lo, hi, cnt


def _cut(cnt, g, mid, keep, e, gone):
    # The left group keeps its first ``keep`` live starts, the right loses its first ``gone``.
    for r0, r1, n, left in ((g, mid, keep, True), (mid, e, gone, False)):
        cum = 0
        for r in range(r0, r1):
            inside = min(max(n - cum, 0), cnt[r])
            cum += cnt[r]
            cnt[r] = inside if left else cnt[r] - inside


def _merge_pair(left, right, left_full, right_full, lam, d):
    """The one-new-cluster rule on windows of two hulls.

    ``left`` is ``a_{p-w}..a_p`` (``a_p`` the midpoint), ``right`` is ``b_0..b_q``
    (``b_0`` the midpoint), rows (global index, S high, S low); ``*_full`` say whether
    the window is the whole side. Returns ``(c, J)`` (window positions: the new cluster
    is ``a_c..b_J - 1``), ``False`` when no cluster crosses the midpoint, or ``None``
    when the answer may lie beyond a window.
    """
    def slope(u, v):
        return edge_slope(u[1], u[2], v[1], v[2], lam, d, int(u[0]), int(v[0]))

    p, q = left.shape[0] - 1, right.shape[0] - 1
    lo, hi, end = 0, p, -1
    while lo < hi:                       # the smallest c whose cluster joins the right
        c = (lo + hi) // 2
        a, b = 1, q
        while a < b:                     # the last minimiser of slope(a_c, b_j): the right is convex
            j = (a + b) // 2
            if slope(left[c], right[j + 1]) <= slope(left[c], right[j]):
                a = j + 1
            else:
                b = j
        if a == q and not right_full:
            return None
        if slope(left[c], right[a]) <= slope(left[c], left[c + 1]):
            hi, end = c, a
        else:
            lo = c + 1
    if lo == p:
        return False
    if lo == 0 and not left_full:
        return None
    return lo, end


def _values(comm, live, cnt, ends, lam, l1, d, o, m):
    """The prox of the entries ``o..o+m-1``: the clusters between the live starts of all
    ranks (this rank's ``live``; the neighbours' from one gather), settled: the running
    max of their values, soft-thresholded, raised to the last value of the ranks before."""
    rank = comm.rank
    edges = np.full(6, np.nan)
    if live.shape[0]:
        edges[:3], edges[3:] = live[0], live[-1]
    edges = comm.all_gather(edges)
    before = [r for r in range(rank) if cnt[r]]
    after = [r for r in range(rank + 1, comm.size) if cnt[r]]
    chain = [live]
    if m and (not live.shape[0] or live[0, 0] > o):
        chain.insert(0, edges[before[-1], 3:][None])
    chain.append(edges[after[0], :3][None] if after else ends[-1:])
    chain = np.concatenate(chain)
    j = chain[:, 0].astype(np.int64)
    values = np.empty(j.size - 1)
    if m:
        _cluster_values(j, chain[:, 1], chain[:, 2], lam, d, values)
        settle_values(values, values.size, l1)
    tops = comm.all_gather([values[-1] if m else -np.inf])
    values = np.maximum(values, tops[:rank].max(initial=-np.inf))
    return np.repeat(values, np.diff(np.clip(j, o, o + m)))

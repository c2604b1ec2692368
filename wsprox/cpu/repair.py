r"""Warm ranking: repair the order of a previous call where it is only sparsely broken.

In proximal SGD the weights move little from one step to the next, so the
order of the last prox is often still the order, or is broken in a few
places. :func:`resort_rows` takes it and, in place:

1. checks a sample of ``SAMPLES`` neighbouring pairs through it: any descent
   means a fresh sort (:func:`wsprox.cpu.sort.rank_rows`), which is
   cheaper than repairing an order broken everywhere;
2. gathers the new values through the order, noting the chunks of ``CHUNK``
   entries that hold a descent; when none does (the order still holds),
   only the chunk boundaries are left to check: :math:`O(d)` in all;
3. sorts those chunks by packed keys (:mod:`wsprox.cpu.keys`; the keys hold
   the position within the chunk) and repairs the runs whose keys tie, as
   the cold ranking does;
4. merges the out-of-order tail and head at every chunk boundary, and
   verifies that every row is sorted.

It falls back to :func:`~wsprox.cpu.sort.rank_rows` when more than a
quarter of the chunks hold a descent, when the windows of two boundaries
overlap (an entry moved too far for the chunks) or when anything is left
out of order: always exact. It returns ``order`` (int64) and ``x``
(float64), per row, as the cold ranking does.
"""
import numpy as np

from ..core.pool import kernel, row_parts
from ..core.workspace import Workspace
from .keys import END, decode_index, encode, sort_keys
from .sort import _gather_chunks, _repair_ties, rank_rows

__all__ = ["CHUNK", "SAMPLES", "resort_rows"]

#: Entries per chunk of the warm ranking (a power of two).
CHUNK = 1 << 15
#: Neighbouring pairs of a previous order checked per row before the warm
#: ranking gathers the values through it.
SAMPLES = 1024


@kernel
def _sampled_descents(lo, hi, rows, order, samples, counts):
    # Descents among ``samples`` evenly spaced neighbours of rows[order], per row.
    d = rows.shape[1]
    for r in range(lo, hi):
        c = 0
        for j in range(samples):
            k = j * (d - 1) // samples
            c += rows[r, order[r, k + 1]] < rows[r, order[r, k]]
        counts[r] = c


@kernel
def _pack_chunks(lo, hi, x, shift, rs, cs, keys):
    # Keys of the chunks (rs[t], cs[t]) of 2**shift entries of x: the value's
    # top bits and the position within the chunk; padding past the row's end
    # sorts last.
    d = x.shape[1]
    xbits = x.view(np.uint64)
    for t in range(lo, hi):
        r = rs[t]
        first = cs[t] << shift
        for k in range(first, first + (1 << shift)):
            keys[t, k - first] = encode(xbits[r, k], 64, shift, k - first) if k < d else END


@kernel
def _permute_chunks(lo, hi, keys, shift, rs, cs, x, order):
    # Apply the sorted keys of every chunk (positions in it) to x and order.
    d = x.shape[1]
    chunk = keys.shape[1]
    for t in range(lo, hi):
        r = rs[t]
        first = cs[t] * chunk
        last = min(first + chunk, d)
        xs = x[r, first:last].copy()
        os = order[r, first:last].copy()
        for k in range(first, last):
            src = decode_index(keys[t, k - first], shift)
            x[r, k] = xs[src]
            order[r, k] = os[src]


@kernel
def _overlaps(lo, hi, x, chunk, starts, ends):
    # For every boundary between two chunks (sorted each): where the entries
    # out of order across it start and end (starts == ends: none).
    d = x.shape[1]
    nb = starts.shape[1]
    for f in range(lo, hi):
        r = f // nb
        b = f - r * nb
        e = (b + 1) * chunk
        if x[r, e - 1] <= x[r, e]:
            starts[r, b] = e
            ends[r, b] = e
            continue
        starts[r, b] = e - chunk + np.searchsorted(x[r, e - chunk:e], x[r, e], side="right")
        ends[r, b] = e + np.searchsorted(x[r, e:min(e + chunk, d)], x[r, e - 1], side="left")


@kernel
def _merge_overlaps(lo, hi, x, order, chunk, starts, ends):
    # Merge the two sorted runs of every overlap, which touch no other.
    nb = starts.shape[1]
    for f in range(lo, hi):
        r = f // nb
        b = f - r * nb
        a = starts[r, b]
        e = (b + 1) * chunk
        z = ends[r, b]
        if a == z:
            continue
        left_x = x[r, a:e].copy()
        left_o = order[r, a:e].copy()
        i = 0
        j = e
        for k in range(a, z):
            if j >= z or (i < e - a and left_x[i] <= x[r, j]):
                x[r, k] = left_x[i]
                order[r, k] = left_o[i]
                i += 1
            else:
                x[r, k] = x[r, j]
                order[r, k] = order[r, j]
                j += 1


def _merge_boundaries(x, order, chunk):
    """Merge the overlap of every two neighbouring sorted chunks; False if
    two overlaps touch (the order moved too far for the chunks)."""
    n, d = x.shape
    nb = (d - 1) // chunk  # boundaries per row
    starts = np.empty((n, nb), dtype=np.int64)
    ends = np.empty((n, nb), dtype=np.int64)
    _overlaps(n * nb, x, chunk, starts, ends)
    if np.any(starts[:, 1:] < ends[:, :-1]):
        return False
    _merge_overlaps(n * nb, x, order, chunk, starts, ends)
    return True


@kernel
def _is_sorted(lo, hi, x, parts, bad):
    """``bad[t]``: whether piece ``t % parts`` of row ``t // parts`` of ``x``
    holds a descent (its first entry compared with the one before it)."""
    d = x.shape[1]
    for t in range(lo, hi):
        r = t // parts
        p = t - r * parts
        bad[t] = 0
        for k in range(max(1, p * d // parts), (p + 1) * d // parts):
            if x[r, k] < x[r, k - 1]:
                bad[t] = 1
                break


def resort_rows(rows, order, work=None, *, chunk=None, samples=SAMPLES):
    r"""Like :func:`~wsprox.cpu.sort.rank_rows`, repairing ``order``, the order of similar rows.

    Parameters
    ----------
    rows : ndarray, shape (n, d), float32 or float64, C-contiguous
        Finite values; read only.
    order : ndarray of int64, shape (n, d)
        A permutation per row, typically the ``order`` of a previous call on
        nearby values; repaired in place into the order of ``rows`` (its
        contents are undefined when the call falls back to sorting).
    work : Workspace, optional
        As for :func:`~wsprox.cpu.sort.rank_rows`.
    chunk : int, optional
        Entries per chunk, a power of two: an entry may be out of place by
        little more than a chunk for the repair to succeed. Default:
        ``CHUNK``, or about ``d / 4`` for short rows.
    samples : int, optional
        Neighbouring pairs of ``order`` checked per row before anything else;
        one descent among them sends the rows to :func:`~wsprox.cpu.sort.rank_rows` at once.

    Returns
    -------
    order, x : as :func:`~wsprox.cpu.sort.rank_rows`, always exact; ``order`` is the argument
        itself when it could be repaired.
    reused : bool
        Whether ``order`` was repaired (False: sorted from scratch).

    Notes
    -----
    The repair pays only where the order is *sparsely* broken. Where it is
    broken everywhere (every entry moved past its neighbours, as under noise
    larger than the gaps between sorted values), sorting chunk by chunk costs
    about as much as :func:`~wsprox.cpu.sort.rank_rows` on this hardware (NumPy's sort of
    ``2^15`` keys takes 0.8 of the time per key of its sort of ``10^6``) and
    the gather through the old order comes on top, so a sample of
    ``samples`` neighbouring pairs decides first: a descent among them means
    a fresh sort. Otherwise: gather the values through ``order``, noting the
    chunks of ``chunk`` entries that hold a descent; none (the order still
    holds): done, :math:`O(d)`. Else sort those chunks (fresh sort when more
    than a quarter), repair tied top bits, merge the overlaps at chunk
    boundaries and verify, falling back to :func:`~wsprox.cpu.sort.rank_rows` when an entry
    moved too far.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([[0.0, 3.0, 1.0, 2.0, 5.0]])
    >>> order, x = rank_rows(w)
    >>> resort_rows(w + 0.1 * w, order)[2]                 # the order still holds
    True
    >>> order2, x2, reused = resort_rows(w + [[0.0, 0.0, 1.5, 0.0, 0.0]], order, chunk=2, samples=0)
    >>> order2, x2, reused
    (array([[0, 3, 2, 1, 4]]), array([[0. , 2. , 2.5, 3. , 5. ]]), True)
    """
    work = Workspace() if work is None else work
    n, d = rows.shape
    counts = np.zeros(n, dtype=np.int64)
    if d > 1:
        _sampled_descents(n, rows, order, min(samples, d - 1), counts)
    if counts.any():
        return (*rank_rows(rows, work), False)
    if chunk is None:
        chunk = min(CHUNK, 1 << max(4, (d // 4).bit_length() - 1))
    nc = -(-d // chunk)
    x = work.array("x", (n, d), np.float64)
    unsorted = np.empty((n, nc), dtype=np.bool_)
    _gather_chunks(unsorted.size, rows, order, chunk, x, unsorted)
    rs, cs = np.nonzero(unsorted)
    if rs.size > unsorted.size // 4:
        return (*rank_rows(rows, work), False)
    if rs.size:
        shift = chunk.bit_length() - 1
        keys = work.array("chunk_keys", (rs.size, chunk), np.uint64)
        _pack_chunks(rs.size, x, shift, rs, cs, keys)
        sort_keys(keys, halves=False)
        _permute_chunks(rs.size, keys, shift, rs, cs, x, order)
        _repair_ties(n * nc, x, order, shift, chunk, 1)
    parts = row_parts(n, d)
    bad = np.empty(n * parts, dtype=np.int64)
    if _merge_boundaries(x, order, chunk):
        _is_sorted(bad.size, x, parts, bad)
        if not bad.any():
            return order, x, True
    return (*rank_rows(rows, work), False)

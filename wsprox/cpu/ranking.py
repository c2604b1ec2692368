r"""Ranking: the ascending order of every row and its sorted values, exactly.

The prox is a non-decreasing function of the value and tied entries always
end in one cluster, so the pipeline needs sorted values ``x`` and *some*
permutation ``order`` with ``x = w[order]`` -- not a stable argsort. That
makes room for two fast, exact rankings.

**Cold** (:func:`sort_rows`): packed keys sorted by NumPy's SIMD sort. The
float is mapped to an unsigned integer of the same order,

.. math::

    u(b) = \begin{cases} \lnot b & \text{sign bit of } b \text{ set} \\
                         b \lor 2^{w-1} & \text{otherwise,} \end{cases}

(``b`` its ``w``-bit pattern; ``-0.0`` sorts just below ``0.0``), and the
top ``62 - s`` bits of :math:`u` (left-aligned in 64 bits) are packed above
the index in the low ``s = bit_length(d - 1)`` bits of a 64-bit key whose top
two bits are zero. Sorting the keys sorts by value, and the key holds the
index; read as float64 they are positive finite numbers of the same order,
which NumPy's SIMD sort handles faster than unsigned integers (about 15%).
For float32 (``s <= 30``) the key holds the whole value: the sorted values
are decoded from the keys with no gather and nothing to repair. For float64
the key holds the value's top ``62 - s`` bits only: the values are gathered
through the order, and every run of keys whose top bits tie (rare: values
within a relative :math:`2^{s-50}` of each other) and is out of order is
sorted by value in one linear pass (insertion sort when short, a sort of the
run otherwise). A
large row is sorted as two halves on two threads (NumPy releases the GIL)
and merged while decoding (merge path: every thread merges its own slice of
the output).

**Warm** (:func:`resort_rows`): repair, in place, the order of a previous
call where it is only sparsely broken. A sample of neighbouring pairs first
(any descent: a fresh sort, which is cheaper than repairing an order broken
everywhere); then gather the new values through the order, sort the chunks
of ``CHUNK`` entries that hold a descent (keys hold the position within the
chunk), merge the out-of-order tail and head at every chunk boundary, verify
that every row is sorted, and fall back to :func:`sort_rows` if the chunks'
windows overlap or anything is left out of order. Always exact; :math:`O(d)`
when the order still holds.

Both return ``order`` (int64) and ``x`` (float64), per row.
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit, prange

from .kernels import kernel, row_parts, threaded
from .workspace import Workspace

__all__ = ["CHUNK", "SAMPLES", "resort_rows", "sort_rows"]

#: Entries per chunk of the warm ranking (a power of two).
CHUNK = 1 << 15
#: Neighbouring pairs of a previous order checked per row before the warm
#: ranking gathers the values through it.
SAMPLES = 1024
#: Keys use the low 62 bits, so that NumPy sorts them as (positive, finite)
#: float64 bit patterns, whose SIMD sort is faster than its uint64 sort; this
#: one is above the key of every finite value.
_END = np.uint64((1 << 62) - 1)
#: Runs of tied top bits up to this length are repaired by insertion sort.
_INSERTION_MAX = 16

_pool = None


def _threads():
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="wsprox-sort")
    return _pool


# --------------------------------------------------------------------------
# keys


@njit(cache=True, inline="always")
def _key_value(b, width, s):
    # The top 62 - s bits of the order-preserving map, at bits s..61 of a key.
    return (_ordered(b, width) >> (s + np.uint64(2))) << s


@njit(cache=True, inline="always")
def _ordered(b, width):
    # Order-preserving map of a width-bit float pattern to a left-aligned uint64.
    u = np.uint64(b)
    top = np.uint64(1) << np.uint64(width - 1)
    if u & top:
        mask = (top - np.uint64(1)) | top
        u = ~u & mask
    else:
        u = u | top
    return u << np.uint64(64 - width)


@kernel
def _pack(bits, shift, parts, keys):
    n, d = bits.shape
    width = bits.itemsize * 8
    s = np.uint64(shift)
    for t in prange(n * parts):
        r = t // parts
        p = t - r * parts
        for k in range(p * d // parts, (p + 1) * d // parts):
            keys[r, k] = _key_value(bits[r, k], width, s) | np.uint64(k)


def _sort_keys(keys, *, halves=True):
    """Sort every row of ``keys`` in place, on two threads for large inputs.

    With ``halves``, a single row is sorted as two halves on the two threads,
    to be merged by the caller. Returns ``split``: every row is sorted on
    ``[0, split)`` and on ``[split, d)`` (``split == d`` when rows were
    sorted whole).
    """
    n, d = keys.shape
    keys = keys.view(np.float64)          # same order: see _END
    if not threaded(n * d) or (n == 1 and not halves):
        keys.sort(axis=1)
        return d
    if n == 1:
        split = d // 2
        pieces = (keys[:, :split], keys[:, split:])
    else:
        split = d
        pieces = (keys[: n // 2], keys[n // 2:])
    for f in [_threads().submit(p.sort, axis=1) for p in pieces]:
        f.result()
    return split


@njit(cache=True, inline="always")
def _merge_start(keys, r, split, k):
    # Merge path: how many of the first ``k`` merged keys come from [0, split).
    d = keys.shape[1]
    lo = max(0, k - (d - split))
    hi = min(k, split)
    while lo < hi:
        m = (lo + hi) // 2
        if keys[r, m] < keys[r, split + k - m - 1]:
            lo = m + 1
        else:
            hi = m
    return lo


@kernel
def _unpack(keys, split, parts, shift, exact, x, order):
    """Merge the two sorted runs of every row of keys into ``order``, and,
    when the keys hold whole float32 values (``exact``), decode the sorted
    values into ``x`` as float64."""
    n, d = keys.shape
    mask = (np.uint64(1) << np.uint64(shift)) - np.uint64(1)
    for t in prange(n * parts):
        r = t // parts
        p = t - r * parts
        lo = p * d // parts
        hi = (p + 1) * d // parts
        i = _merge_start(keys, r, split, lo)
        j = split + lo - i
        bits = np.empty(1, dtype=np.uint32)      # reinterpreted as float32 below
        value = bits.view(np.float32)
        for k in range(lo, hi):
            # Branch-free merge step (random keys defeat branch prediction);
            # _END, above every key, stands past the end of a run.
            a = keys[r, min(i, split - 1)] if i < split else _END
            b = keys[r, min(j, d - 1)] if j < d else _END
            left = np.int64(a < b)
            key = min(a, b)
            i += left
            j += 1 - left
            order[r, k] = np.int64(key & mask)
            if exact:
                u = np.uint32(key >> np.uint64(30))
                bits[0] = u ^ np.uint32(0x80000000) if u & np.uint32(0x80000000) else ~u
                x[r, k] = value[0]


@kernel
def _gather_chunks(rows, order, chunk, x, unsorted):
    # x = rows[order], and which chunks of x hold a descent (one task each).
    n, d = x.shape
    nc = unsorted.shape[1]
    for t in prange(n * nc):
        r = t // nc
        c = t - r * nc
        previous = -np.inf
        count = 0
        for k in range(c * chunk, min((c + 1) * chunk, d)):
            v = rows[r, order[r, k]]
            x[r, k] = v
            count += v < previous
            previous = v
        unsorted[r, c] = count > 0


# --------------------------------------------------------------------------
# repair of runs whose keys tie


@njit(cache=True, inline="always")
def _top(xbits, r, k, s):
    return _key_value(xbits[r, k], 64, s)


@njit(cache=True)
def _sort_run(x, order, r, a, b):
    """Sort ``x[r, a:b]`` ascending, permuting ``order[r, a:b]`` alike."""
    if b - a <= _INSERTION_MAX:
        for k in range(a + 1, b):
            v = x[r, k]
            o = order[r, k]
            j = k
            while j > a and x[r, j - 1] > v:
                x[r, j] = x[r, j - 1]
                order[r, j] = order[r, j - 1]
                j -= 1
            x[r, j] = v
            order[r, j] = o
        return
    perm = np.argsort(x[r, a:b])
    xs = x[r, a:b].copy()
    os = order[r, a:b].copy()
    for k in range(b - a):
        x[r, a + k] = xs[perm[k]]
        order[r, a + k] = os[perm[k]]


@njit(cache=True, inline="always")
def _run_cut(xbits, r, s, first, last, c):
    # The first start of a run of tied top bits at or after c in [first, last].
    while first < c < last and _top(xbits, r, c, s) == _top(xbits, r, c - 1, s):
        c += 1
    return c


@kernel
def _repair(x, order, shift, span, parts):
    """Sort by value every run of ``x`` whose top ``62 - shift`` bits tie.

    Within a span of entries sorted by key, entries of different top bits
    are in order, so only such runs can hold a descent. Every span is cut
    into ``parts`` pieces at run starts, repaired in parallel.
    """
    n, d = x.shape
    xbits = x.view(np.uint64)
    s = np.uint64(shift)
    spans = (d + span - 1) // span
    for t in prange(n * spans * parts):
        r = t // (spans * parts)
        q = t - r * spans * parts
        first = q // parts * span
        last = min(first + span, d)
        p = q - q // parts * parts
        lo = _run_cut(xbits, r, s, first, last, first + p * (last - first) // parts)
        hi = _run_cut(xbits, r, s, first, last, first + (p + 1) * (last - first) // parts)
        k = lo + 1
        while k < hi:
            if x[r, k] < x[r, k - 1]:
                top = _top(xbits, r, k, s)
                a = k - 1
                while a > lo and _top(xbits, r, a - 1, s) == top:
                    a -= 1
                b = k + 1
                while b < hi and _top(xbits, r, b, s) == top:
                    b += 1
                _sort_run(x, order, r, a, b)
                k = b
            k += 1


def sort_rows(rows, work=None):
    r"""Ascending order and sorted values of every row, by packed-key sort.

    Parameters
    ----------
    rows : ndarray, shape (n, d), float32 or float64, C-contiguous
        Finite values; read only.
    work : Workspace, optional
        Where the work arrays and the results live (default: fresh arrays).

    Returns
    -------
    order : ndarray of int64, shape (n, d)
        A permutation per row with ``rows[r, order[r]]`` ascending (tied
        entries in any order).
    x : ndarray of float64, shape (n, d)
        ``rows[r, order[r]]`` as float64.

    Notes
    -----
    One SIMD sort of ``n * d`` 64-bit keys (a large row as two halves on two
    threads, merged) plus :math:`O(nd)` passes; float64 adds a gather of the
    values through the order, and a run of ``m`` keys whose top ``62 - s``
    bits tie costs :math:`O(m \log m)` more.

    Examples
    --------
    >>> import numpy as np
    >>> order, x = sort_rows(np.array([[3.0, -1.0, 2.0]]))
    >>> order, x
    (array([[1, 2, 0]]), array([[-1.,  2.,  3.]]))
    """
    work = Workspace() if work is None else work
    n, d = rows.shape
    shift = int(d - 1).bit_length()
    parts = row_parts(n, d)
    keys = work.array("keys", (n, d), np.uint64)
    _pack(rows.view(np.uint32 if rows.dtype == np.float32 else np.uint64), shift, parts, keys)
    split = _sort_keys(keys)
    x = work.array("x", (n, d), np.float64)
    order = work.array("order", (n, d), np.int64)
    exact = rows.dtype == np.float32 and shift <= 30
    _unpack(keys, split, parts, shift, exact, x, order)
    if not exact:
        chunk = -(-d // parts)
        unsorted = np.empty((n, -(-d // chunk)), dtype=np.bool_)
        _gather_chunks(rows, order, chunk, x, unsorted)
        cuts = np.arange(chunk, d, chunk)
        if unsorted.any() or np.any(x[:, cuts] < x[:, cuts - 1]):
            _repair(x, order, shift, d, parts)
    return order, x


# --------------------------------------------------------------------------
# warm start


@kernel
def _sampled_descents(rows, order, samples):
    # Descents among ``samples`` evenly spaced neighbours of rows[order], per row.
    n, d = rows.shape
    counts = np.zeros(n, dtype=np.int64)
    for r in prange(n):
        c = 0
        for j in range(samples):
            k = j * (d - 1) // samples
            c += rows[r, order[r, k + 1]] < rows[r, order[r, k]]
        counts[r] = c
    return counts.sum()


@kernel
def _pack_chunks(x, shift, rs, cs, keys):
    # Keys of the chunks (rs[t], cs[t]) of 2**shift entries of x: the value's
    # top bits and the position within the chunk; padding past the row's end
    # sorts last.
    d = x.shape[1]
    xbits = x.view(np.uint64)
    s = np.uint64(shift)
    for t in prange(rs.size):
        r = rs[t]
        lo = cs[t] << shift
        for k in range(lo, lo + (1 << shift)):
            keys[t, k - lo] = _key_value(xbits[r, k], 64, s) | np.uint64(k - lo) if k < d else _END


@kernel
def _permute_chunks(keys, rs, cs, x, order):
    # Apply the sorted keys of every chunk (positions in it) to x and order.
    d = x.shape[1]
    chunk = keys.shape[1]
    mask = np.uint64(chunk - 1)
    for t in prange(rs.size):
        r = rs[t]
        lo = cs[t] * chunk
        hi = min(lo + chunk, d)
        xs = x[r, lo:hi].copy()
        os = order[r, lo:hi].copy()
        for k in range(lo, hi):
            src = np.int64(keys[t, k - lo] & mask)
            x[r, k] = xs[src]
            order[r, k] = os[src]


@kernel
def _merge_boundaries(x, order, chunk):
    """Merge the overlap of every two neighbouring sorted chunks; False if
    two overlaps touch (the order moved too far for the chunks)."""
    n, d = x.shape
    nb = (d - 1) // chunk  # boundaries per row
    lo = np.empty((n, nb), dtype=np.int64)
    hi = np.empty((n, nb), dtype=np.int64)
    for f in prange(n * nb):
        r = f // nb
        e = (f - r * nb + 1) * chunk
        end = min(e + chunk, d)
        if x[r, e - 1] <= x[r, e]:
            lo[r, f - r * nb] = e
            hi[r, f - r * nb] = e
            continue
        lo[r, f - r * nb] = e - chunk + np.searchsorted(x[r, e - chunk:e], x[r, e], side="right")
        hi[r, f - r * nb] = e + np.searchsorted(x[r, e:end], x[r, e - 1], side="left")
    for r in range(n):
        for b in range(1, nb):
            if lo[r, b] < hi[r, b - 1]:
                return False
    for f in prange(n * nb):
        r = f // nb
        b = f - r * nb
        a = lo[r, b]
        e = (b + 1) * chunk
        z = hi[r, b]
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
    return True


@kernel
def _is_sorted(x, parts):
    n, d = x.shape
    bad = 0
    for t in prange(n * parts):
        r = t // parts
        p = t - r * parts
        for k in range(max(1, p * d // parts), (p + 1) * d // parts):
            if x[r, k] < x[r, k - 1]:
                bad += 1
                break
    return bad == 0


def resort_rows(rows, order, work=None, *, chunk=None, samples=SAMPLES):
    r"""Like :func:`sort_rows`, repairing ``order``, the order of similar rows.

    Parameters
    ----------
    rows : ndarray, shape (n, d), float32 or float64, C-contiguous
        Finite values; read only.
    order : ndarray of int64, shape (n, d)
        A permutation per row, typically the ``order`` of a previous call on
        nearby values; repaired in place into the order of ``rows`` (its
        contents are undefined when the call falls back to sorting).
    work : Workspace, optional
        As for :func:`sort_rows`.
    chunk : int, optional
        Entries per chunk, a power of two: an entry may be out of place by
        little more than a chunk for the repair to succeed. Default:
        ``CHUNK``, or about ``d / 4`` for short rows.
    samples : int, optional
        Neighbouring pairs of ``order`` checked per row before anything else;
        one descent among them sends the rows to :func:`sort_rows` at once.

    Returns
    -------
    order, x : as :func:`sort_rows`, always exact; ``order`` is the argument
        itself when it could be repaired.
    reused : bool
        Whether ``order`` was repaired (False: sorted from scratch).

    Notes
    -----
    The repair pays only where the order is *sparsely* broken. Where it is
    broken everywhere (every entry moved past its neighbours, as under noise
    larger than the gaps between sorted values), sorting chunk by chunk costs
    about as much as :func:`sort_rows` on this hardware (NumPy's sort of
    ``2^15`` keys takes 0.8 of the time per key of its sort of ``10^6``) and
    the gather through the old order comes on top, so a sample of
    ``samples`` neighbouring pairs decides first: a descent among them means
    a fresh sort. Otherwise: gather the values through ``order``, noting the
    chunks of ``chunk`` entries that hold a descent; none (the order still
    holds): done, :math:`O(d)`. Else sort those chunks (fresh sort when more
    than a quarter), repair tied top bits, merge the overlaps at chunk
    boundaries and verify, falling back to :func:`sort_rows` when an entry
    moved too far.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([[0.0, 3.0, 1.0, 2.0, 5.0]])
    >>> order, x = sort_rows(w)
    >>> resort_rows(w + 0.1 * w, order)[2]                 # the order still holds
    True
    >>> order2, x2, reused = resort_rows(w + [[0.0, 0.0, 1.5, 0.0, 0.0]], order, chunk=2, samples=0)
    >>> order2, x2, reused
    (array([[0, 3, 2, 1, 4]]), array([[0. , 2. , 2.5, 3. , 5. ]]), True)
    """
    work = Workspace() if work is None else work
    n, d = rows.shape
    if d > 1 and _sampled_descents(rows, order, min(samples, d - 1)):
        return (*sort_rows(rows, work), False)
    if chunk is None:
        chunk = min(CHUNK, 1 << max(4, (d // 4).bit_length() - 1))
    nc = -(-d // chunk)
    x = work.array("x", (n, d), np.float64)
    unsorted = np.empty((n, nc), dtype=np.bool_)
    _gather_chunks(rows, order, chunk, x, unsorted)
    rs, cs = np.nonzero(unsorted)
    if rs.size > unsorted.size // 4:
        return (*sort_rows(rows, work), False)
    if rs.size:
        shift = chunk.bit_length() - 1
        keys = work.array("chunk_keys", (rs.size, chunk), np.uint64)
        _pack_chunks(x, shift, rs, cs, keys)
        _sort_keys(keys, halves=False)
        _permute_chunks(keys, rs, cs, x, order)
        _repair(x, order, shift, chunk, 1)
    if _merge_boundaries(x, order, chunk) and _is_sorted(x, row_parts(n, d)):
        return order, x, True
    return (*sort_rows(rows, work), False)

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
call. Gather the new values through it; the result is nearly sorted when the
values moved little. Sort chunks of ``CHUNK`` entries (keys hold the position
within the chunk), merge the out-of-order tail and head at every chunk
boundary, verify that every row is sorted, and fall back to
:func:`sort_rows` if the chunks' windows overlap or anything is left out of
order. Always exact, work :math:`O(d \log \mathrm{CHUNK})` plus the
fallback.

Both return ``order`` (int64) and ``x`` (float64), per row.
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import get_num_threads, njit, prange

from .kernels import kernel, threaded
from .workspace import Workspace

__all__ = ["CHUNK", "resort_rows", "sort_rows"]

#: Entries per chunk of the warm ranking (a power of two).
CHUNK = 1 << 15
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


def _row_parts(n, d):
    """Tasks per row: split a single large row among the threads."""
    return max(1, get_num_threads() // n) if threaded(n * d) else 1


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


def _sort_keys(keys):
    """Sort every row of ``keys`` in place, on two threads for large inputs.

    Splitting one row costs a merge (branchy, a few ms per million keys):
    worth it only from :data:`~wsprox.cpu.kernels.THREADED_MIN` entries.

    Returns ``split``: every row is sorted on ``[0, split)`` and on
    ``[split, d)`` (``split == d`` when rows were sorted whole).
    """
    n, d = keys.shape
    keys = keys.view(np.float64)          # same order: see _END
    if not threaded(n * d):
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
def _unpack(keys, split, parts, shift, rows, exact, x, order):
    """Merge the two sorted runs of every row of keys into ``order``, and the
    sorted values into ``x`` as float64: decoded from the keys when they
    hold whole float32 values (``exact``), else gathered from ``rows``.
    Returns the descents of ``x`` seen within each task's slice."""
    n, d = keys.shape
    mask = (np.uint64(1) << np.uint64(shift)) - np.uint64(1)
    descents = np.zeros(n * parts, dtype=np.int64)
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
            # no finite value has an all-ones key, the end-of-run sentinel.
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
        if not exact:
            previous = -np.inf
            count = 0
            for k in range(lo, hi):
                v = rows[r, order[r, k]]
                x[r, k] = v
                count += v < previous
                previous = v
            descents[t] = count
    return descents.sum()


@kernel
def _gather(rows, order, parts, x):
    n, d = rows.shape
    for t in prange(n * parts):
        r = t // parts
        p = t - r * parts
        for k in range(p * d // parts, (p + 1) * d // parts):
            x[r, k] = rows[r, order[r, k]]


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
    parts = _row_parts(n, d)
    keys = work.array("keys", (n, d), np.uint64)
    _pack(rows.view(np.uint32 if rows.dtype == np.float32 else np.uint64), shift, parts, keys)
    split = _sort_keys(keys)
    x = work.array("x", (n, d), np.float64)
    order = work.array("order", (n, d), np.int64)
    exact = rows.dtype == np.float32 and shift <= 30
    descents = _unpack(keys, split, parts, shift, rows, exact, x, order)
    cuts = np.arange(1, parts) * d // parts
    if descents or np.any(x[:, cuts] < x[:, cuts - 1]):
        _repair(x, order, shift, d, parts)
    return order, x


# --------------------------------------------------------------------------
# warm start


@kernel
def _pack_chunks(x, shift, keys):
    # Keys of x by chunk of 2**shift entries: the value's top bits and the
    # position within the chunk; the padding after the last entry sorts last.
    n, d = x.shape
    m = keys.shape[1]
    xbits = x.view(np.uint64)
    s = np.uint64(shift)
    for r in range(n):
        keys[r, d:] = _END
    for t in prange(n * (m >> shift)):
        r = t // (m >> shift)
        lo = (t - r * (m >> shift)) << shift
        for k in range(lo, min(lo + (1 << shift), d)):
            keys[r, k] = _key_value(xbits[r, k], 64, s) | np.uint64(k - lo)


@kernel
def _permute_chunks(keys, chunk, x, order):
    # Apply every chunk's sorted keys (positions in the chunk) to x and order.
    n, d = x.shape
    mask = np.uint64(chunk - 1)
    nc = (d + chunk - 1) // chunk
    for t in prange(n * nc):
        r = t // nc
        lo = (t - r * nc) * chunk
        hi = min(lo + chunk, d)
        xs = x[r, lo:hi].copy()
        os = order[r, lo:hi].copy()
        for k in range(lo, hi):
            src = np.int64(keys[r, k] & mask)
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


def resort_rows(rows, order, work=None, *, chunk=None):
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
        little more than a chunk for the warm path to succeed. Default:
        ``CHUNK``, or about ``d / 4`` for short rows.

    Returns
    -------
    order, x : as :func:`sort_rows`, always exact; ``order`` is the argument
        itself when it could be repaired.
    reused : bool
        Whether ``order`` was repaired (False: sorted from scratch).

    Notes
    -----
    Gather, sort chunks of ``chunk`` keys, repair tied top bits, merge the
    overlaps at chunk boundaries, verify: :math:`O(d \log \mathrm{chunk})`.
    When an entry moved too far the verification fails and the rows are
    sorted from scratch by :func:`sort_rows`.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([[0.0, 3.0, 1.0, 2.0, 5.0]])
    >>> order, x = sort_rows(w)
    >>> order2, x2, reused = resort_rows(w + [[0.0, 0.0, 1.5, 0.0, 0.0]], order, chunk=2)
    >>> order2, x2, reused
    (array([[0, 3, 2, 1, 4]]), array([[0. , 2. , 2.5, 3. , 5. ]]), True)
    """
    work = Workspace() if work is None else work
    n, d = rows.shape
    parts = _row_parts(n, d)
    x = work.array("x", (n, d), np.float64)
    _gather(rows, order, parts, x)
    if _is_sorted(x, parts):
        return order, x, True
    if chunk is None:
        chunk = min(CHUNK, 1 << max(4, (d // 4).bit_length() - 1))
    if d <= chunk:
        return (*sort_rows(rows, work), False)
    shift = chunk.bit_length() - 1
    keys = work.array("chunk_keys", (n, -(-d // chunk) * chunk), np.uint64)
    _pack_chunks(x, shift, keys)
    _sort_keys(keys.reshape(-1, chunk))
    _permute_chunks(keys, chunk, x, order)
    _repair(x, order, shift, chunk, 1)
    if _merge_boundaries(x, order, chunk) and _is_sorted(x, parts):
        return order, x, True
    return (*sort_rows(rows, work), False)

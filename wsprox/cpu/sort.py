r"""Cold ranking: the ascending order of every row and its sorted values, exactly.

The prox is a non-decreasing function of the value and tied entries always
end in one cluster, so the pipeline needs sorted values ``x`` and *some*
permutation ``order`` with ``x = w[order]`` -- not a stable argsort. That
makes room for a fast, exact ranking by packed keys (:mod:`wsprox.cpu.keys`:
the order-preserving map of the value's bits, the top ``62 - s`` of them
packed above the index in the low ``s = bit_length(d - 1)`` bits of a 64-bit
key).

:func:`rank_rows` packs the keys, sorts them with NumPy's SIMD sort (read as
float64), and decodes them. For float32 (``s <= 30``) the key holds the
whole value: the sorted values are decoded from the keys with no gather and
nothing to repair. For float64 the key holds the value's top ``62 - s`` bits
only: the values are gathered through the order, and every run of keys whose
top bits tie (rare: values within a relative :math:`2^{s-50}` of each other)
and is out of order is sorted by value in one linear pass (insertion sort
when short, a sort of the run otherwise). A large row is sorted as one run
per thread (:func:`~wsprox.cpu.keys.sort_keys`), merged down to two, and
those are merged while decoding (merge path: every task merges its own
slice of the output); every pass runs in tasks on the pool of
:mod:`wsprox.core.pool`.

The warm ranking (:mod:`wsprox.cpu.repair`) reuses the gather and the repair
of tied runs.
"""
import numpy as np
from numba import njit

from ..core.pool import kernel, row_parts
from ..core.workspace import Workspace
from .keys import decode32, decode_index, encode, merge_next, merge_start, sort_keys, top_bits

__all__ = ["rank_rows"]

#: Runs of tied top bits up to this length are repaired by insertion sort.
_INSERTION_MAX = 16


@kernel
def _pack(lo, hi, bits, shift, parts, keys):
    d = bits.shape[1]
    width = bits.itemsize * 8
    for t in range(lo, hi):
        r = t // parts
        p = t - r * parts
        for k in range(p * d // parts, (p + 1) * d // parts):
            keys[r, k] = encode(bits[r, k], width, shift, k)


@kernel
def _unpack(lo, hi, keys, split, parts, shift, exact, x, order):
    """Merge the two sorted runs of every row of keys into ``order``, and,
    when the keys hold whole float32 values (``exact``), decode the sorted
    values into ``x`` as float64."""
    d = keys.shape[1]
    bits = np.empty(1, dtype=np.uint32)      # reinterpreted as float32 below
    value = bits.view(np.float32)
    for t in range(lo, hi):
        r = t // parts
        p = t - r * parts
        first = p * d // parts
        i = merge_start(keys, r, 0, split, d, first)
        j = split + first - i
        for k in range(first, (p + 1) * d // parts):
            key, i, j = merge_next(keys, r, i, j, split, d)
            order[r, k] = decode_index(key, shift)
            if exact:
                bits[0] = decode32(key)
                x[r, k] = value[0]


@kernel
def _gather_chunks(lo, hi, rows, order, chunk, x, unsorted):
    # x = rows[order], and which chunks of x hold a descent (one task each).
    d = x.shape[1]
    nc = unsorted.shape[1]
    for t in range(lo, hi):
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
    return top_bits(xbits[r, k], 64, s)


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
def _repair_ties(lo, hi, x, order, shift, span, parts):
    """Sort by value every run of ``x`` whose top ``62 - shift`` bits tie.

    Within a span of entries sorted by key, entries of different top bits
    are in order, so only such runs can hold a descent. Every span is cut
    into ``parts`` pieces at run starts, repaired in parallel.
    """
    d = x.shape[1]
    xbits = x.view(np.uint64)
    s = np.uint64(shift)
    spans = (d + span - 1) // span
    for t in range(lo, hi):
        r = t // (spans * parts)
        q = t - r * spans * parts
        first = q // parts * span
        last = min(first + span, d)
        p = q - q // parts * parts
        start = _run_cut(xbits, r, s, first, last, first + p * (last - first) // parts)
        end = _run_cut(xbits, r, s, first, last, first + (p + 1) * (last - first) // parts)
        k = start + 1
        while k < end:
            if x[r, k] < x[r, k - 1]:
                top = _top(xbits, r, k, s)
                a = k - 1
                while a > start and _top(xbits, r, a - 1, s) == top:
                    a -= 1
                b = k + 1
                while b < end and _top(xbits, r, b, s) == top:
                    b += 1
                _sort_run(x, order, r, a, b)
                k = b
            k += 1


def rank_rows(rows, work=None):
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
    One SIMD sort of ``n * d`` 64-bit keys (a large row as one run per
    thread, merged) plus :math:`O(nd)` passes; float64 adds a gather of the
    values through the order, and a run of ``m`` keys whose top ``62 - s``
    bits tie costs :math:`O(m \log m)` more.

    Examples
    --------
    >>> import numpy as np
    >>> order, x = rank_rows(np.array([[3.0, -1.0, 2.0]]))
    >>> order, x
    (array([[1, 2, 0]]), array([[-1.,  2.,  3.]]))
    """
    work = Workspace() if work is None else work
    n, d = rows.shape
    shift = int(d - 1).bit_length()
    parts = row_parts(n, d)
    keys = work.array("keys", (n, d), np.uint64)
    _pack(n * parts, rows.view(np.uint32 if rows.dtype == np.float32 else np.uint64), shift, parts, keys)
    split = sort_keys(keys, work=work)
    x = work.array("x", (n, d), np.float64)
    order = work.array("order", (n, d), np.int64)
    exact = rows.dtype == np.float32 and shift <= 30
    _unpack(n * parts, keys, split, parts, shift, exact, x, order)
    if not exact:
        chunk = -(-d // parts)
        unsorted = np.empty((n, -(-d // chunk)), dtype=np.bool_)
        _gather_chunks(unsorted.size, rows, order, chunk, x, unsorted)
        cuts = np.arange(chunk, d, chunk)
        if unsorted.any() or np.any(x[:, cuts] < x[:, cuts - 1]):
            _repair_ties(n * parts, x, order, shift, d, parts)
    return order, x

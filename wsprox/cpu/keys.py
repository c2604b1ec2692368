r"""Sort keys: floats as order-preserving integers, packed with their index.

**Encode.** A float is mapped to an unsigned integer of the same order,

.. math::

    u(b) = \begin{cases} \lnot b & \text{sign bit of } b \text{ set} \\
                         b \lor 2^{w-1} & \text{otherwise,} \end{cases}

(``b`` its ``w``-bit pattern; :func:`ordered` left-aligns :math:`u` in 64
bits; ``-0.0`` sorts just below ``0.0``). The key of entry ``k`` of a row of
``d`` keeps the top ``62 - s`` bits of :math:`u` (:func:`top_bits`) above the
index ``k`` in the low ``s`` bits (:func:`encode`; ``s = bit_length(d - 1)``
for a whole row), and its top two bits are zero. Sorting the keys sorts by
value, ties of the kept bits by index.

**Decode.** The index is the low ``s`` bits (:func:`decode_index`). A
float32 key with ``s <= 30`` holds the whole value, which :func:`decode32`
recovers (:math:`u^{-1}`). A float64 key holds the top ``62 - s`` bits of
:math:`u` only, 12 of sign and exponent and ``50 - s`` of the mantissa: keys
of values within a relative :math:`2^{s-50}` of each other may tie in those
bits and then order the values by index, not by value
(:func:`wsprox.cpu.sort.rank_rows` repairs such runs).

**Sort.** Read as float64, keys are positive finite numbers of the same order
(their top two bits are zero), which NumPy's SIMD sort handles faster than
unsigned integers (about 15%); :data:`END` is above the key of every finite
value and stands for padding or past the end of a run.

**Parallel sort.** :func:`sort_keys` sorts a large row as one run per thread
on the pool of :mod:`wsprox.core.pool` (NumPy's sort releases the GIL) and
merges the runs pairwise (:func:`merge_start`, :func:`merge_next`: merge
path, every task merges an equal slice of the output) down to two, which
the caller merges while decoding; a batch is split by rows. The keys being
distinct, the result is the same whatever the number of threads.
"""
import numpy as np
from numba import get_num_threads, njit

from ..core.pool import TASKS, kernel, run, threaded, workers_keep_up

__all__ = ["END", "decode32", "decode_index", "encode", "merge_next", "merge_start", "ordered", "sort_keys",
           "top_bits"]

#: Keys use the low 62 bits, so that NumPy sorts them as (positive, finite)
#: float64 bit patterns; this one is above the key of every finite value.
END = np.uint64((1 << 62) - 1)


@njit(cache=True, inline="always")
def ordered(b, width):
    """The order-preserving map :math:`u` of a ``width``-bit float pattern
    ``b``, left-aligned in a uint64.

    Examples
    --------
    >>> import numpy as np
    >>> u = [ordered(b, 64) for b in np.array([-1.0, -0.0, 0.0, 2.0]).view(np.uint64)]
    >>> u == sorted(u), len(set(u))
    (True, 4)
    """
    u = np.uint64(b)
    top = np.uint64(1) << np.uint64(width - 1)
    if u & top:
        mask = (top - np.uint64(1)) | top
        u = ~u & mask
    else:
        u = u | top
    return u << np.uint64(64 - width)


@njit(cache=True, inline="always")
def top_bits(b, width, shift):
    """The value part of a key: the top ``62 - shift`` bits of
    ``ordered(b, width)`` at bits ``shift..61``, the index bits zero.

    Examples
    --------
    >>> import numpy as np
    >>> b = np.array([1.0, np.nextafter(1.0, 2.0), 1.5]).view(np.uint64)
    >>> [int(top_bits(v, 64, 20) == top_bits(b[0], 64, 20)) for v in b]     # one ulp apart: tied
    [1, 1, 0]
    """
    s = np.uint64(shift)
    return (ordered(b, width) >> (s + np.uint64(2))) << s


@njit(cache=True, inline="always")
def encode(b, width, shift, index):
    """The key of the ``width``-bit float pattern ``b`` at ``index``
    (``0 <= index < 2**shift``).

    Examples
    --------
    >>> import numpy as np
    >>> keys = [encode(v, 32, 2, k) for k, v in enumerate(np.float32([2.0, -1.0, 0.5]).view(np.uint32))]
    >>> [decode_index(key, 2) for key in sorted(keys)]                      # ascending values
    [1, 2, 0]
    """
    return top_bits(b, width, shift) | np.uint64(index)


@njit(cache=True, inline="always")
def decode_index(key, shift):
    """The index held in the low ``shift`` bits of ``key``, as int64.

    Examples
    --------
    >>> import numpy as np
    >>> decode_index(encode(np.float64(-3.0).view(np.uint64), 64, 4, 9), 4)
    9
    """
    return np.int64(key & ((np.uint64(1) << np.uint64(shift)) - np.uint64(1)))


@njit(cache=True, inline="always")
def decode32(key):
    """The float32 bit pattern of a float32 ``key`` with ``shift <= 30``
    (whose top bits hold the whole value): :math:`u^{-1}`, as uint32.

    Examples
    --------
    >>> import numpy as np
    >>> key = encode(np.float32(-2.5).view(np.uint32), 32, 30, 7)
    >>> float(np.uint32(decode32(key)).view(np.float32))
    -2.5
    """
    u = np.uint32(key >> np.uint64(30))
    return u ^ np.uint32(0x80000000) if u & np.uint32(0x80000000) else ~u


@njit(cache=True, inline="always")
def merge_start(keys, r, a, m, e, k):
    """Merge path: how many of the first ``k`` keys of the merge of the sorted
    runs ``keys[r, a:m]`` and ``keys[r, m:e]`` come from the first run (ties
    go to the second, as in :func:`merge_next`).

    Examples
    --------
    >>> import numpy as np
    >>> keys = np.array([[1, 4, 6, 2, 3, 5]], dtype=np.uint64)   # merged: 1 2 3 4 5 6
    >>> [merge_start(keys, 0, 0, 3, 6, k) for k in range(7)]
    [0, 1, 1, 1, 2, 2, 3]
    """
    lo = max(0, k - (e - m))
    hi = min(k, m - a)
    while lo < hi:
        mid = (lo + hi) // 2
        if keys[r, a + mid] < keys[r, m + k - mid - 1]:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, inline="always")
def merge_next(keys, r, i, j, m, e):
    """One step of the merge of the sorted runs ``keys[r, :m]`` (next at
    ``i``) and ``keys[r, m:e]`` (next at ``j``): the smaller next key and the
    new ``i, j``. Branch-free (random keys defeat branch prediction);
    :data:`END` stands past the end of a run.

    Examples
    --------
    >>> import numpy as np
    >>> keys = np.array([[1, 4, 2, 3]], dtype=np.uint64)
    >>> i, j, out = 0, 2, []
    >>> for _ in range(4):
    ...     key, i, j = merge_next(keys, 0, i, j, 2, 4)
    ...     out.append(int(key))
    >>> out
    [1, 2, 3, 4]
    """
    x = keys[r, min(i, m - 1)] if i < m else END
    y = keys[r, min(j, e - 1)] if j < e else END
    left = np.int64(x < y)
    return min(x, y), i + left, j + 1 - left


@kernel
def _merge_pairs(lo, hi, src, bounds, pieces, dst):
    # Merge the runs [bounds[2g], bounds[2g+1]) and [bounds[2g+1], bounds[2g+2])
    # of every row of src into dst (a last odd run is copied), every pair's
    # output cut into `pieces` tasks.
    runs = bounds.size - 1
    pairs = (runs + 1) // 2
    for t in range(lo, hi):
        r = t // (pairs * pieces)
        q = t - r * pairs * pieces
        g = q // pieces
        p = q - g * pieces
        a = bounds[2 * g]
        m = bounds[min(2 * g + 1, runs)]
        e = bounds[min(2 * g + 2, runs)]
        first = a + p * (e - a) // pieces
        i = a + merge_start(src, r, a, m, e, first - a)
        j = m + first - i
        for k in range(first, a + (p + 1) * (e - a) // pieces):
            dst[r, k], i, j = merge_next(src, r, i, j, m, e)


def sort_keys(keys, *, halves=True, work=None):
    """Sort every row of ``keys`` in place, on the pool's threads for large inputs.

    Parameters
    ----------
    keys : ndarray of uint64, shape (n, d), C-contiguous
        Distinct keys (below :data:`END`; or padded with it), sorted as float64 bit patterns.
    halves : bool, optional
        Whether a single large row is sorted as runs on the threads and merged
        down to two halves, to be merged by the caller (otherwise rows are
        sorted whole; a batch is split by rows between the threads). A row is
        also sorted whole while the pool's workers do not keep up
        (:func:`wsprox.core.pool.workers_keep_up`: a busy machine).
    work : Workspace, optional
        Where the merges' work array lives (default: a fresh one).

    Returns
    -------
    split : int
        Every row is sorted on ``[0, split)`` and on ``[split, d)``
        (``split == d`` when rows were sorted whole).

    Examples
    --------
    >>> import numpy as np
    >>> keys = np.array([[3, 1, END, 2]], dtype=np.uint64)
    >>> sort_keys(keys), keys[0, :3]
    (4, array([1, 2, 3], dtype=uint64))
    """
    n, d = keys.shape
    floats = keys.view(np.float64)          # same order: see END
    threads = get_num_threads()
    runs = min(d, threads // n) if halves and workers_keep_up() else 1
    if not threaded(n * d) or runs <= 1:
        chunks = min(n, TASKS * threads) if threaded(n * d) else 1
        run(chunks, lambda c: floats[c * n // chunks:(c + 1) * n // chunks].sort(axis=1))
        return d
    bounds = np.arange(runs + 1) * d // runs
    # The merges, ceil(log2(runs)) - 1 of them, alternate between keys and a
    # spare array and must end in keys: for an odd number the runs start in spare.
    merges = (runs - 1).bit_length() - 1
    spare = None if merges == 0 else np.empty_like(keys) if work is None else work.array("merge", (n, d), np.uint64)
    src = spare if merges % 2 else keys

    def sort_run(t):
        r, p = divmod(t, runs)
        a, b = bounds[p], bounds[p + 1]
        if src is not keys:
            src[r, a:b] = keys[r, a:b]
        src[r, a:b].view(np.float64).sort()

    run(n * runs, sort_run)
    other = spare if src is keys else keys
    while bounds.size > 3:
        pairs = bounds.size // 2
        pieces = max(1, TASKS * threads // (n * pairs))
        _merge_pairs(n * pairs * pieces, src, bounds, pieces, other)
        src, other = other, src
        bounds = np.append(bounds[:-1:2], d)
    return int(bounds[1])

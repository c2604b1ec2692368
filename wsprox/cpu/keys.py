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
(:func:`wsprox.cpu.ranking.sort_rows` repairs such runs).

**Sort.** Read as float64, keys are positive finite numbers of the same order
(their top two bits are zero), which NumPy's SIMD sort handles faster than
unsigned integers (about 15%); :data:`END` is above the key of every finite
value and stands for padding or past the end of a run. :func:`sort_keys`
sorts large inputs on two threads (NumPy releases the GIL).
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from .parallel import threaded

__all__ = ["END", "decode32", "decode_index", "encode", "ordered", "sort_keys", "top_bits"]

#: Keys use the low 62 bits, so that NumPy sorts them as (positive, finite)
#: float64 bit patterns; this one is above the key of every finite value.
END = np.uint64((1 << 62) - 1)

_pool = None


def _threads():
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="wsprox-sort")
    return _pool


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


def sort_keys(keys, *, halves=True):
    """Sort every row of ``keys`` in place, on two threads for large inputs.

    Parameters
    ----------
    keys : ndarray of uint64, shape (n, d), C-contiguous
        Keys (below or equal to :data:`END`), sorted as float64 bit patterns.
    halves : bool, optional
        Whether a single large row is sorted as two halves on the two
        threads, to be merged by the caller (otherwise it is sorted whole;
        a batch is split by rows between the threads).

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
    keys = keys.view(np.float64)          # same order: see END
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

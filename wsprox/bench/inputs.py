"""The benchmark's inputs: random normal and the worst-case families, and simulated training sequences."""
import functools

import numpy as np

import wsprox
from wsprox.worstcase import FAMILIES

__all__ = ["NOISE", "Group", "make_input", "training_sequence"]

#: Steps of noise added per warm call, relative to the weights' std.
NOISE = 1e-3


def training_sequence(w, lam, steps, *, seed=1):
    """``steps`` inputs of a simulated training loop starting from ``w``.

    ``w_{t+1} = prox(w_t) + NOISE * std(w_t) * N(0, 1)``, in ``w``'s dtype
    (the std taken in float64, so that float32 near its range's top is fine);
    the rows of a 2-D ``w`` are proxed one by one (``axis=1``). The noise's
    ``seed`` differs from that of :func:`make_input` (0), whose normal draws
    it would otherwise repeat (then the first step would only scale ``w``).

    Examples
    --------
    >>> import numpy as np
    >>> seq = training_sequence(np.arange(5.0), 0.1, 3)
    >>> len(seq), seq[2].shape
    (3, (5,))
    """
    rng = np.random.default_rng(seed)
    seq = [w]
    for _ in range(steps - 1):
        x = wsprox.prox(seq[-1], lam, axis=None if w.ndim == 1 else 1)
        noise = NOISE * float(np.std(x, dtype=np.float64)) * rng.standard_normal(w.shape)  # no float32 overflow
        seq.append((x + noise).astype(w.dtype))
    return seq


def make_input(name, rows, d, dtype):
    """``(w, lam)`` of input ``name`` as a vector (``rows == 1``) or a ``(rows, d)`` batch.

    ``normal`` draws every entry (``lam`` None: the run's); a family of
    :data:`wsprox.worstcase.FAMILIES` gives its own ``lam`` and a batch
    repeats its vector in every row. A ValueError where the family does not
    exist at this size and dtype.

    Examples
    --------
    >>> w, lam = make_input("all_equal", 2, 3, "float32")
    >>> w.shape, w.dtype.name, lam
    ((2, 3), 'float32', 1.0)
    """
    if name == "normal":
        return np.random.default_rng(0).standard_normal((rows, d) if rows > 1 else d, dtype=dtype), None
    w, lam = FAMILIES[name](d, dtype=dtype)
    return (np.tile(w, (rows, 1)) if rows > 1 else w), lam


class Group:
    """One group's input and what is made of it once, outside the timings.

    ``converters`` maps an array kind (``numba``, ``torch``, ``cupy``) to
    the function that copies (or views) a NumPy array as one.

    Examples
    --------
    >>> import numpy as np
    >>> g = Group(np.arange(3.0), 0.5, 2, {"list": np.ndarray.tolist})
    >>> g.on("list"), g.repeated(g.w, g.lam)[1][1]
    ([0.0, 1.0, 2.0], 0.5)
    """

    def __init__(self, w, lam, reps, converters):
        self.w, self.lam, self.reps, self._converters = w, lam, reps, converters
        self._copies = {}

    def on(self, kind):
        """The input as an array of ``kind``, converted once."""
        if kind not in self._copies:
            self._copies[kind] = self._converters[kind](self.w)
        return self._copies[kind]

    def repeated(self, *args):
        """``args`` once per call."""
        return [args] * self.reps

    @functools.cached_property
    def w64(self):
        """Random normal float64 of the input's shape (the CPU floor's input)."""
        return np.random.default_rng(1).standard_normal(self.w.shape)

    @functools.cached_property
    def sequence(self):
        """:func:`training_sequence` from the input, one entry per call."""
        return training_sequence(self.w, self.lam, self.reps + 1)

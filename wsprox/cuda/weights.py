r"""The weights of a call on the device: the overflow scale and the scaled penalties.

Every kernel of :mod:`wsprox.cuda` that needs ``lam`` or ``l1`` reads them
from a float64 device array of four entries (the call's *weights*), not
from its arguments, so that the overflow scale ``s``
(:func:`wsprox.core.validation.overflow_scale`) can be found on the device, from
the input's magnitude, without the host waiting for it:

.. code-block:: text

    weights[SCALE] = s          the rows are read as s * w (:func:`load`)
    weights[LAM]   = s lam      the penalties the kernels use
    weights[L1]    = s l1
    weights[INV]   = 1 / s      the prox is written as (1/s) prox(s w) (:func:`unscale`)

``s`` is a power of two, 1 in every ordinary case, so the scaling is exact.
A call whose input holds NaN or infinity (not checked on the host:
``check_finite=False``) has the weights ``(0, 0, 0, NaN)``: the kernels read
zeros, never NaN (no loop or index of theirs depends on a NaN), and the
result is NaN everywhere.

:func:`fixed` makes the weights of host numbers (``s = 1``, one launch), for
the callers of :func:`wsprox.cuda.prox_rows` and of the solvers with plain
floats; :func:`wsprox.cuda.backend.CUDABackend.scale` makes those of a call.

Examples
--------
>>> from wsprox.cuda import weights
>>> weights.fixed(2.0, 0.5).copy_to_host().tolist()
[1.0, 2.0, 0.5, 1.0]
"""
import math
import numbers

from ..core.validation import scale_for
from ._device import cuda, launch, scratch

__all__ = ["INV", "L1", "LAM", "SCALE", "as_weights", "fixed", "load", "set_weights", "unscale"]

SCALE, LAM, L1, INV = 0, 1, 2, 3

#: :func:`wsprox.core.validation.scale_for`, compiled for the device (the same source as the host's).
device_scale_for = cuda.jit(device=True)(scale_for)


@cuda.jit(device=True, inline="always")
def set_weights(weights, magnitude, size, lam, l1):
    """Write the weights of a call whose input of ``size`` entries has the
    largest magnitude ``magnitude`` (NaN or infinity where an entry is not finite)."""
    if math.isfinite(magnitude):
        s = device_scale_for(max(magnitude, lam, l1), size)
        weights[SCALE] = s
        weights[LAM] = lam * s
        weights[L1] = l1 * s
        weights[INV] = 1.0 / s
    else:
        weights[SCALE] = 0.0
        weights[LAM] = 0.0
        weights[L1] = 0.0
        weights[INV] = math.nan


@cuda.jit(device=True, inline="always")
def load(rows, r, k, weights):
    """``rows[r, k]`` times the scale, rounded to ``rows``' dtype (as the host's
    scaled copy would be), as a float64; 0 in a call marked as not finite."""
    s = weights[SCALE]
    if s == 0.0:
        return 0.0
    return float(rows.dtype.type(rows[r, k] * s))


@cuda.jit(device=True, inline="always")
def unscale(out, r, k, weights):
    """``out[r, k] /= scale``, in ``out``'s dtype (NaN in a call marked as not finite)."""
    inv = weights[INV]
    if inv != 1.0:
        out[r, k] = out[r, k] * inv


@cuda.jit(cache=True)
def _fixed(weights, lam, l1):
    weights[SCALE] = 1.0
    weights[LAM] = lam
    weights[L1] = l1
    weights[INV] = 1.0


def fixed(lam, l1):
    """The weights of the host numbers ``lam`` and ``l1`` with no scaling, in the thread's scratch."""
    weights = scratch("weights.fixed", (4,), float)
    launch(_fixed, 1, 1)(weights, float(lam), float(l1))
    return weights


def as_weights(lam, l1=0.0):
    """``lam`` if it is the weights of a call (a device array), else :func:`fixed` ``(lam, l1)``.

    Examples
    --------
    >>> from wsprox.cuda import weights
    >>> w = weights.fixed(1.0, 0.0)
    >>> weights.as_weights(w) is w
    True
    """
    if isinstance(lam, numbers.Real):
        return fixed(lam, l1)
    return lam

r"""Block arithmetic of the CUDA kernels (device functions).

The CUDA mirror of :mod:`wsprox.cpu.blocks`: a block of sorted particles
:math:`a..b` (0-based, inclusive) moves at the mean velocity
:math:`\lambda (d-1-a-b)/(d-1)` and its value (position at time 1) is
:math:`\operatorname{mean}(x_a..x_b)` plus that velocity.
"""
from ._device import cuda

__all__ = ["block_velocity", "block_value"]


@cuda.jit(device=True, inline="always")
def block_velocity(lam, d, a, b):
    """Mean velocity of the block of sorted particles ``a..b`` (0-based)."""
    if d <= 1:
        return 0.0
    return lam * (d - 1 - a - b) / (d - 1)


@cuda.jit(device=True, inline="always")
def block_value(total, lam, d, a, b):
    """Position at time 1 of block ``a..b`` whose sorted values sum to ``total``."""
    return total / (b - a + 1) + block_velocity(lam, d, a, b)

r"""Block arithmetic of the CUDA kernels (device functions).

The CUDA mirror of :mod:`wsprox.cpu.blocks`, compiled from the same Python
function so that both backends compute bit-identical block values: a block of
sorted particles :math:`a..b` (0-based, inclusive) has the value (position at
time 1) :math:`\operatorname{mean}(x_a..x_b) + \lambda (d-1-a-b)/(d-1)`.
"""
from ..cpu.blocks import _block_mean, _block_value, _soft_threshold
from ._device import cuda, retarget

__all__ = ["block_mean", "block_value", "soft_threshold"]

block_value = cuda.jit(device=True, inline="always")(_block_value)
block_mean = cuda.jit(device=True, inline="always")(retarget(_block_mean, block_value=block_value))
soft_threshold = cuda.jit(device=True, inline="always")(_soft_threshold)

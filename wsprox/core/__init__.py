r"""The shared core of the backends: host arrays, work memory, and the arithmetic of the prox.

:mod:`wsprox.cpu` and :mod:`wsprox.cuda` are peers: each imports this package
and never the other, and this package imports neither (nor
:mod:`numba.cuda`).

* :mod:`~wsprox.core.validation`: host arrays in (their dtype, NaN and
  infinity, the overflow scale, ``out``), for both backends and for the
  modules around them;
* :mod:`~wsprox.core.workspace`: work arrays kept from one call to the next,
  and :func:`~wsprox.core.workspace.release_workspace`, which frees them on
  the host and, through the hook the CUDA backend registers, on the device;
* :mod:`~wsprox.core.pool`: the worker threads of the passes over host
  arrays (the checks, the CPU pipeline);
* :mod:`~wsprox.core.clusters`, :mod:`~wsprox.core.hull`,
  :mod:`~wsprox.core.pava`: the arithmetic of the prox, *written once*.

Written once, compiled twice: every function of the arithmetic is a plain
Python function (``_cluster_value``) that its module compiles for the host
with :func:`numba.njit` (``cluster_value``), and that :mod:`wsprox.cuda`
compiles for the device with ``cuda.jit(device=True)``, its calls of other
core functions retargeted to their device twins
(:func:`wsprox.cuda._device.retarget`). Both backends so evaluate the same
expressions in the same order, and see the same ties.
"""

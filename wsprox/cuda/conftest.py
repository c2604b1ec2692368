"""pytest: the examples of the CUDA backend run only where CUDA does.

Without a GPU, ``tests/test_cuda.py`` runs them on Numba's CUDA simulator in
a subprocess (``NUMBA_ENABLE_CUDASIM=1`` must be set before Numba is
imported); a process without CUDA skips collecting them.
"""
from numba import cuda

collect_ignore_glob = [] if cuda.is_available() else ["*.py"]

"""The CUDA kernels on Numba's CUDA simulator, against the CPU and the exact oracle.

Run as a step of its own (the README's test command): the simulator must be
enabled before Numba is imported, ``NUMBA_ENABLE_CUDASIM=1 python -m pytest
tests/cuda_sim tests/test_front_door.py wsprox/cuda``. Without a CUDA device or
the simulator nothing here is collected.
"""
from numba import cuda

collect_ignore_glob = [] if cuda.is_available() else ["test_*.py"]

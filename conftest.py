"""Root pytest configuration: optional dependencies.

The integrations need optional extras; a module whose dependency is missing
cannot be collected for its doctests, so it is left out (its tests in
``tests/`` skip themselves).

The examples of the CUDA backend (``wsprox/cuda``) run only where CUDA does.
Without a GPU, ``tests/test_cuda.py`` runs them on Numba's CUDA simulator in a
subprocess (``NUMBA_ENABLE_CUDASIM=1`` must be set before Numba is imported);
a process without CUDA leaves them out. Numba's CUDA target is imported only
when pytest reaches ``wsprox/cuda``.
"""
import functools
import importlib.util
from pathlib import Path

CUDA_PACKAGE = Path(__file__).resolve().parent / "wsprox" / "cuda"

#: The modules of wsprox that import an optional dependency: {module file: what it imports}.
OPTIONAL_MODULES = {"torch": "torch", "distributed": "torch", "jax": "jax", "dask": "dask",
                    "linear_model": "sklearn", "bench/authors": "torch", "bench/distributed": "torch",
                    "bench/solvers": "sklearn"}

collect_ignore = [f"wsprox/{module}.py" for module, needs in OPTIONAL_MODULES.items()
                  if importlib.util.find_spec(needs) is None]


@functools.cache
def _cuda_available():
    from numba import cuda

    return cuda.is_available()


def pytest_ignore_collect(collection_path, config):
    # The package and every file in it (a file or folder named on the command line is not asked about).
    if (collection_path == CUDA_PACKAGE or CUDA_PACKAGE in collection_path.parents) and not _cuda_available():
        return True
    return None

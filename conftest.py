"""Root pytest configuration: optional dependencies.

The integrations need optional extras; a module whose dependency is missing
cannot be collected for its doctests, so it is left out (its tests in
``tests/`` skip themselves).

The examples of the CUDA backend (``wsprox/cuda``) and the kernels' tests
(``tests/cuda_sim``) run only where CUDA does: without a GPU, on Numba's CUDA
simulator, as a step of their own (``NUMBA_ENABLE_CUDASIM=1 python -m pytest
tests/cuda_sim tests/test_front_door.py wsprox/cuda``: the simulator must be
enabled before Numba is imported); a process without CUDA leaves them out.
Numba's CUDA target is imported only when pytest reaches them.
"""
import functools
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent
CUDA_ONLY = (ROOT / "wsprox" / "cuda", ROOT / "tests" / "cuda_sim")

#: The modules of wsprox that import an optional dependency: {module file or package: what it imports}.
OPTIONAL_MODULES = {"torch": "torch", "distributed": "torch", "jax": "jax", "dask": "dask",
                    "linear_model": "sklearn", "bench/authors": "torch", "bench/distributed": "torch",
                    "bench/solvers": "sklearn"}

collect_ignore = [f"wsprox/{module}" + ("" if (ROOT / "wsprox" / module).is_dir() else ".py")
                  for module, needs in OPTIONAL_MODULES.items() if importlib.util.find_spec(needs) is None]


@functools.cache
def _cuda_available():
    from numba import cuda

    return cuda.is_available()


def pytest_ignore_collect(collection_path, config):
    # Those folders and every file in them (a file or folder named on the command line is not asked about).
    if any(collection_path == f or f in collection_path.parents for f in CUDA_ONLY) and not _cuda_available():
        return True
    return None

"""The first CUDA call of a new process: what a user waits for before the first prox comes back."""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["FIRST_CALL", "ROW", "first_call_seconds"]

#: Entries of the row of the first call.
ROW = 1000

#: The timed program: import wsprox, one CUDA prox of a small float32 row, synchronised; prints seconds.
FIRST_CALL = """
import time
start = time.perf_counter()
import numpy as np
import wsprox
from wsprox import cuda
w = cuda.to_device(np.random.default_rng(0).standard_normal({d}).astype(np.float32))
wsprox.prox(w, 0.01)
cuda.synchronize()
print(time.perf_counter() - start)
"""


def first_call_seconds(*, d=ROW, timeout=600):
    """Seconds of the first call of a new process, with an empty Numba cache and then with it warm.

    Runs :data:`FIRST_CALL` (on a row of ``d`` entries) in a fresh Python
    twice, with ``NUMBA_CACHE_DIR`` pointed at a new temporary folder: the
    first run compiles into it, the second finds what the first cached. The
    environment is this process's otherwise (``NUMBA_ENABLE_CUDASIM`` with
    it), and the ``wsprox`` imported is this one.

    Returns
    -------
    cold, warm : float
        Seconds from ``import wsprox`` to the prox's end in each run.

    Raises
    ------
    RuntimeError
        A run failed or ran past ``timeout`` seconds (the message holds the
        end of its output).

    Examples
    --------
    >>> from numba import cuda
    >>> if cuda.is_available():  # a GPU, or the simulator
    ...     cold, warm = first_call_seconds(d=8)
    ...     assert cold > 0 and warm > 0
    """
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="wsprox-numba-cache-") as cache:
        env["NUMBA_CACHE_DIR"] = cache
        return tuple(_run(env, d, timeout) for _ in range(2))


def _run(env, d, timeout):
    try:
        proc = subprocess.run([sys.executable, "-c", FIRST_CALL.format(d=d)], env=env, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the first call took more than {timeout} s") from None
    if proc.returncode:
        raise RuntimeError(f"the first call failed: {(proc.stdout + proc.stderr)[-2000:]}")
    return float(proc.stdout.split()[-1])

r"""Benchmarks: ``python -m wsprox.bench`` (the prox), ``python -m wsprox.bench.solvers``
(the estimator against cvxpy) and ``python -m wsprox.bench.distributed`` (the sharded prox).

``python -m wsprox.bench`` times, in one run and on the same inputs, the
front door ``wsprox.prox(w, lam, method=m)`` with every method of a backend,
beside the floor of a cold prox (one sort of the same length) and the natural
baselines. Every figure is the median of ``--repeat`` timed calls after one
untimed call (Numba compiles on first use); ratios are to the floor measured
in the same run, on the same machine state: on a loaded machine absolute
times drift, ratios much less.

``--backend cpu`` (the default), on NumPy arrays:

``numpy.sort[f64]``
    The floor: :func:`numpy.sort` of a float64 array of the input's shape
    (random normal; NumPy's SIMD sort), the reference cost of one sort.
``numpy.argsort``
    :func:`numpy.argsort` of the input (no SIMD).
``scipy``
    The SciPy pipeline (:func:`~wsprox.bench.baselines.scipy_prox`):
    argsort, shift by the velocities,
    :func:`scipy.optimize.isotonic_regression`, un-sort (one vector only).
``torchsort``
    When importable (one vector only): torchsort's L2 ``soft_rank``
    (:func:`~wsprox.bench.baselines.torchsort_prox`).
``authors [torch]``
    When PyTorch is importable (one vector only): the authors' imminent
    collisions in PyTorch operations on a CPU tensor
    (:func:`~wsprox.bench.authors.authors_prox`), a reference; quadratic on
    ``growing_cluster``, so ``--budget`` applies to it.
``<method>``
    ``wsprox.prox(w, lam, method=<method>)``, cold.
``<method>+warm``
    The same on a simulated training sequence
    (:func:`~wsprox.bench.inputs.training_sequence`: every step adds noise
    of ``1e-3`` times the weights' standard deviation to the previous prox
    output), every call passing the same :class:`wsprox.ProxState`.

``--backend cuda``, on device arrays:

``<method> [<array>]``
    ``wsprox.prox(a, lam, method=<method>, backend="cuda")`` on the input
    copied to the device before the timing, as every kind of ``--array``
    (default: every kind usable here: Numba device arrays always, PyTorch
    CUDA tensors and CuPy arrays where those libraries see a GPU), timed by
    :func:`~wsprox.bench.timing.time_cuda` (the device synchronised before
    and after every call). No warm start.
``<method>+back_to_back [<array>]``
    On calls of at most ``1e4`` entries (launch-bound): the same calls one
    after the other, the device synchronised once before and once after
    them; the mean per call.
the floor
    ``torch.sort`` (values and indices) of the same data on the same device
    when PyTorch has CUDA; else ``cupy.argsort`` and the gather of the
    values; else wsprox's own device sort, ``wsprox.cuda.sort.rank_rows``
    (the Numba-only case, the simulator's). The header says which.
``authors [torch]``
    Where PyTorch has CUDA (one vector only): the authors' imminent
    collisions, PyTorch operations on the device
    (:func:`~wsprox.bench.authors.authors_prox`).
``cpu auto``
    ``wsprox.prox(w, lam)`` on the host array: this library's CPU path on
    the same machine.

The meta of a CUDA run holds ``first_call_cold_s`` and ``first_call_warm_s``:
the first call of a new process (import wsprox, one CUDA prox of a small
row) with an empty Numba cache folder, then with the cache that run left
(:func:`~wsprox.bench.first_call.first_call_seconds`).

Shapes: ``--sizes`` gives single vectors (``--rows N``: ``(N, d)`` batches
of them), ``--batches ROWSxD`` batches, each proxed along ``axis=1``;
``--small`` adds the vectors ``d = 10 .. 1e4`` (the per-call cost),
``--warm-start`` the vectors ``d = 10, 100 .. 1e6`` (warm against cold).
When none is given: the CPU times vectors of ``1e3 .. 1e7``; CUDA random
normal vectors of ``1e4 .. 1e8`` and the batches ``16x128``, ``4096x1024``
and ``100000x100``, and the worst-case families at ``1e4 .. 1e6``.

Inputs: ``normal`` (standard normal at every ``--lam``, default 0.01 on
the CPU, 0.01 and 1 on CUDA; a batch draws every row) and every family of
:data:`wsprox.worstcase.FAMILIES` with its own ``lam`` (a batch repeats its
vector in every row), each generated for the dtype (``family(d,
dtype=...)``); a family that does not exist at a size and dtype is skipped
with its reason printed.

``--budget`` (seconds per case) skips a case at a size where its time at
the previous size, extrapolated quadratically, would exceed it: end and
imminent collisions, and the authors' imminent collisions, are quadratic on
their worst cases. The floor and the library baselines always run.

``--json PATH`` writes (and rewrites after every group, so an interrupted run
keeps what it measured) ``{"meta": ..., "records": [...]}``, one record per
measurement with the keys ``backend, method, array, threads, input, dtype,
rows, d, lam, median_ms, floor, floor_ms, ratio_to_floor,
speedup_over_scipy`` (``array``: numpy, numba, torch or cupy; the last four
null where not measured, e.g. with ``--no-baselines``).

Without a usable device (or the module) ``--backend cuda`` says so and exits
with status 2, and so does an ``--array`` kind that is not usable here.

Every run ends with its goals (:mod:`wsprox.bench.goals`), each ratio beside
its goal and marked met or not met. On the CPU, for the default method (cold,
normal input): for ``d >= 1e6`` its time over the floor and the speed-up over
SciPy, for ``d <= 1e4`` its time over SciPy's, at every size the warm
start's time over the cold call's, and with ``--threads 1 N ...`` the
speed-up of every number of threads over one (under ``--load N``, ``N`` busy
processes beside the measurement: never slower than one thread). On CUDA,
for ``auto``: one row against the floor, the authors' imminent collisions
and the CPU, the worst-case families and large batches against the floor,
and the time of a small call. The OpenMP wait policy is the environment's
(``--openmp passive`` sets the tuned one, which only the collision
algorithms other than PAVA can feel: PAVA's pipeline uses no OpenMP).

Examples
--------
>>> from wsprox.bench import main
>>> main(["--quick", "--sizes", "100", "--dtype", "float64", "--inputs", "normal"])  # doctest: +SKIP
0
"""
from .authors import authors_prox
from .baselines import scipy_prox, torchsort_prox
from .cli import main
from .inputs import training_sequence
from .timing import time_call, time_cuda

__all__ = ["authors_prox", "main", "scipy_prox", "time_call", "time_cuda", "torchsort_prox", "training_sequence"]

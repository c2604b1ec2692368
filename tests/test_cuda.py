"""The CUDA backend: the no-GPU error, the kernels' sources, and GPU-only checks.

The kernels against the CPU and the exact oracle are ``tests/cuda_sim``, run
with Numba's CUDA simulator as a step of their own (``NUMBA_ENABLE_CUDASIM=1``
must be set before Numba is imported; see the README's test command). The
tests marked ``gpu`` need a real device and skip without one.
"""
import ast
import os
import time
from pathlib import Path

import numpy as np
import pytest
from numba import cuda

import wsprox

ROOT = Path(__file__).resolve().parent.parent
REAL_GPU = cuda.is_available() and os.environ.get("NUMBA_ENABLE_CUDASIM") != "1"
gpu = pytest.mark.skipif(not REAL_GPU, reason="needs a CUDA GPU")


@pytest.mark.skipif(cuda.is_available(), reason="a CUDA device (or the simulator) is present")
def test_no_device_error_says_how_to_simulate():
    for call in (wsprox.prox, wsprox.prox_result):
        with pytest.raises(RuntimeError, match="no CUDA device was found.*NUMBA_ENABLE_CUDASIM=1"):
            call(np.ones(3), 1.0, backend="cuda")
    assert wsprox.prox(np.ones(3), 1.0).tolist() == [1.0, 1.0, 1.0]  # the CPU still works


def test_unknown_method_lists_the_backends_methods():
    with pytest.raises(ValueError, match="unknown method 'nope'.*'pava'"):
        wsprox.prox(np.ones(3), 1.0, method="nope", backend="cpu")


def test_every_kernel_launches_through_the_stream_helper():
    # kernel[grid, block](...) would launch on Numba's default stream, outside the
    # order of the caller's stream: every launch is launch(kernel, ...)(...).
    direct = []
    for path in sorted((ROOT / "wsprox" / "cuda").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Subscript):
                direct.append(f"{path.name}:{node.lineno}")
    assert not direct, f"launches that bypass wsprox.cuda._device.launch: {direct}"


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="the simulator ignores cache=True")
def test_every_kernel_is_cached_on_disk():
    # A new process compiled every kernel it launched (about 30 s on an H200); cache=True loads
    # them from Numba's disk cache instead. (Device functions are compiled into the kernels.)
    import importlib
    import pkgutil

    from numba.cuda.dispatcher import CUDACache, CUDADispatcher

    import wsprox.cuda

    kernels = []
    for info in pkgutil.iter_modules(wsprox.cuda.__path__):
        module = importlib.import_module(f"wsprox.cuda.{info.name}")
        kernels += [k for k in vars(module).values() if isinstance(k, CUDADispatcher)
                    and not k.targetoptions.get("device") and k.py_func.__module__ == module.__name__]
    assert len(kernels) >= 14
    assert [k.py_func.__qualname__ for k in kernels if not isinstance(k._cache, CUDACache)] == []


def _array(dtype, ndim):
    from numba import from_dtype, types

    return types.Array(from_dtype(np.dtype(dtype)), ndim, "C")


def _named(cls, *fields):
    # The Numba type of the namedtuple cls of values of the types fields (as numba.typeof makes it).
    from numba import types

    if all(f == fields[0] for f in fields):
        return types.NamedUniTuple(fields[0], len(fields), cls)
    return types.NamedTuple(fields, cls)


def _kernels_and_argument_types():
    from numba import types

    from wsprox.cuda import (
        backend,
        end_collisions,
        imminent_collisions,
        pava,
        pipeline,
        search_collisions,
        short_rows,
        sort,
        weights,
    )
    from wsprox.cuda.clusters import Clusters
    from wsprox.cuda.scan import Grid, Scan

    f8, i8, i1, f4 = (lambda nd, dt=dt: _array(dt, nd) for dt in (np.float64, np.int64, np.int8, np.float32))
    lam, n = types.float64, types.int64
    w = f8(1)  # the call's weights (wsprox.cuda.weights)
    clusters = _named(Clusters, i8(2), i8(1), i8(1))
    scan = _named(Scan, f8(1), i8(1), i1(1))
    g = _named(Grid, n, n, f8(1), i8(2))  # wsprox.cuda.grid.grid_launcher
    sums = _named(search_collisions.Sums, *[f8(2)] * 6)
    units = _named(search_collisions.Units, *[i8(2)] * 3)
    steps = _named(search_collisions.Steps, i8(3), i8(2))
    buffer = _named(imminent_collisions.Buffer, i8(2), i8(1), f8(2))
    return {
        "settle": (pipeline._settle, (g, f8(2), i8(2), clusters, w, f4(2), i8(2), types.boolean, scan, scan)),
        "pava": (pava._pava_rows, (f8(2), w, clusters, f8(2))),
        "end_collisions": (end_collisions._kernel, (g, f8(2), w, clusters, i8(1), scan)),
        "imminent_collisions": (imminent_collisions._kernel,
                                (g, f8(2), w, clusters, f8(2), i8(1), buffer, scan, scan)),
        "search_collisions_tiles": (search_collisions._tiles, (f8(2), w, n, sums, i8(2), units, i8(3))),
        "search_collisions_merge": (search_collisions._merge,
                                    (n, n, n, w, sums, i8(2), units, steps, clusters)),
        "search_collisions_tie_runs": (search_collisions._tie_runs, (g, f8(2), clusters, scan)),
        "to_rows": (backend._to_rows, (_array(np.bool_, 3), f8(2))),
        "from_rows": (backend._from_rows, (f8(2), f4(3))),
        "weigh": (backend._weigh, (g, _array(np.int32, 1), lam, lam, f8(1), w)),
        "weigh_half": (backend._weigh, (g, _array(np.float16, 1), lam, lam, f8(1), w)),
        "short_rows": (short_rows._fused, (f4(2), w, f4(2), i8(2), types.boolean, n, i8(1), i8(1))),
        "bitonic": (sort._bitonic, (g, f4(2), w, f8(2), i8(2), f8(2), i8(2))),
        "gather": (sort._gather, (f4(2), i8(2), w, f8(2))),
        "fixed_weights": (weights._fixed, (w, lam, lam)),
    }


@pytest.mark.skipif(cuda.is_available(), reason="a GPU (or the simulator) runs the kernels instead")
@pytest.mark.parametrize("name", ["settle", "pava", "end_collisions", "imminent_collisions",
                                  "search_collisions_tiles", "search_collisions_merge",
                                  "search_collisions_tie_runs", "to_rows", "from_rows", "weigh", "weigh_half",
                                  "short_rows", "bitonic", "gather", "fixed_weights"])
def test_kernels_compile_for_the_gpu(name, monkeypatch):
    """Type inference and lowering to LLVM IR for the real CUDA target.

    The simulator runs the kernels as Python, so it never sees a typing error
    of the CUDA compiler; this compiles them as for a device of compute
    capability 8.0 (short of NVVM, which needs the CUDA toolkit).
    """
    import types as pytypes

    from numba import types
    from numba.cuda import compiler, dispatcher

    fake_device = pytypes.SimpleNamespace(compute_capability=(8, 0))
    monkeypatch.setattr(dispatcher, "get_current_device", lambda: fake_device)
    kernel, args = _kernels_and_argument_types()[name]
    result = compiler.compile_cuda(kernel.py_func, types.void, args, cc=(8, 0))
    assert "define" in result.library.get_llvm_str()


@gpu
@pytest.mark.parametrize("method", ["pava", "end_collisions", "imminent_collisions", "search_collisions"])
def test_gpu_large_inputs_match_cpu(method):
    rng = np.random.default_rng(0)
    w = rng.normal(size=100_000)
    lam = 5.0 if method == "end_collisions" else 0.5  # end collisions: one iteration per cluster
    got = wsprox.prox_result(w, lam, method=method, backend="cuda")
    want = wsprox.prox_result(w, lam, backend="cpu")
    np.testing.assert_allclose(got.x, want.x, rtol=1e-10, atol=1e-10)
    assert got.n_clusters == want.n_clusters
    batch = rng.normal(size=(2000, 64)).astype(np.float32)
    np.testing.assert_allclose(
        wsprox.prox(batch, 0.3, method=method, backend="cuda", axis=1),
        wsprox.prox(batch, 0.3, axis=1),
        rtol=1e-5,
        atol=1e-5,
    )


@gpu
def test_gpu_cupy_zero_copy_in_and_out():
    cupy = pytest.importorskip("cupy")
    w = cupy.asarray(np.random.default_rng(1).normal(size=(64, 300)))
    x = wsprox.prox(w, 0.4, axis=1)
    assert isinstance(x, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(x), wsprox.prox(cupy.asnumpy(w), 0.4, axis=1), atol=1e-12)
    assert wsprox.prox(w, 0.4, axis=1, out=w) is w
    np.testing.assert_allclose(cupy.asnumpy(w), cupy.asnumpy(x), atol=1e-12)


@gpu
def test_gpu_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    t = torch.randn(32, 100, device="cuda")
    x = wsprox.prox(t, 0.4, axis=1)
    assert isinstance(x, torch.Tensor) and x.is_cuda and x.dtype == torch.float32
    want = wsprox.prox(t.cpu().numpy(), 0.4, axis=1)
    np.testing.assert_allclose(x.cpu().numpy(), want, rtol=1e-5, atol=1e-5)
    assert wsprox.prox(t, 0.4, axis=1, out=t) is t
    p = torch.nn.Parameter(torch.randn(100, device="cuda"))  # requires grad: no array interface
    with torch.no_grad():
        assert wsprox.prox(p, 0.4, out=p) is p


@gpu
def test_gpu_runs_on_the_callers_torch_stream_and_allocates_from_its_pool():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):          # produced, proxed and consumed on a non-default stream
        t = torch.randn(3, 50_000, device="cuda", dtype=torch.float64)
        for _ in range(3):
            x = wsprox.prox(t, 0.4, axis=1)
            y = x * 2.0
    side.synchronize()
    want = wsprox.prox(t.cpu().numpy(), 0.4, axis=1)
    np.testing.assert_allclose(y.cpu().numpy(), 2.0 * want, rtol=1e-12, atol=1e-12)
    before = cuda.current_context().get_memory_info()
    allocated = torch.cuda.memory_allocated()
    # Steady calls on the stream of the first ones: a thread's work arrays are kept per stream (a
    # call on another stream must not overwrite those that queued kernels use), and so are the
    # blocks of torch's caching allocator, so a first call on another stream allocates (the
    # default stream here once took 38-42 MB).
    with torch.cuda.stream(side):
        for check_finite in (True, False, True):
            x = wsprox.prox(t, 0.4, axis=1, check_finite=check_finite)
    torch.cuda.synchronize()
    assert cuda.current_context().get_memory_info() == before   # no cuMemAlloc in a steady call
    assert torch.cuda.memory_allocated() == allocated            # the result from torch's pool, freed


@gpu
def test_gpu_timings_against_the_cpu(capsys):
    # Reports, never asserts, timings (speed is measured by wsprox.bench).
    from wsprox.cuda import SOLVERS, _device, prox_rows

    rows = np.random.default_rng(2).normal(size=(1, 1_000_000))
    d_rows = _device.cuda.to_device(rows)
    d_out = _device.cuda.device_array(rows.shape)
    for method in ("imminent_collisions", "search_collisions"):
        prox_rows(SOLVERS[method], d_rows, 0.5, 0.0, d_out)  # warm-up (compiles)
        _device.synchronize()
        start = time.perf_counter()
        prox_rows(SOLVERS[method], d_rows, 0.5, 0.0, d_out)
        _device.synchronize()
        gpu_s = time.perf_counter() - start
        start = time.perf_counter()
        want = wsprox.prox(rows, 0.5, backend="cpu")
        cpu_s = time.perf_counter() - start
        np.testing.assert_allclose(d_out.copy_to_host(), want, atol=1e-10)
        with capsys.disabled():
            print(f"\n{method}: GPU {gpu_s * 1e3:.1f} ms, CPU pava {cpu_s * 1e3:.1f} ms (d = 1e6)")

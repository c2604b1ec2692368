"""The CUDA backend on a CUDA device or Numba's CUDA simulator.

Without a GPU these tests need ``NUMBA_ENABLE_CUDASIM=1`` set before Numba is
imported, which a pytest process that has imported Numba already cannot do:
``tests/test_cuda.py`` runs this directory in a fresh subprocess with the
simulator on. Collected by a process without CUDA, the module skips.

The simulator runs one OS thread per CUDA thread and every barrier costs
milliseconds, so inputs are small (``d <= 32``) and batched into few calls;
the kernels run with 4 threads per block (patched) so that every row spans
several threads' stretches and the block-level scans carry across them.
The simulator's barriers hand the GIL from thread to thread; a short switch
interval makes them several times faster.
"""
import sys

import numpy as np
import pytest
from numba import cuda

sys.setswitchinterval(1e-4)

from hypothesis import given, settings
from hypothesis import strategies as st

import wsprox
from conftest import lams, vectors
from wsprox import cuda as wcuda
from wsprox.cuda import _device, scan, sort
from wsprox.reference import prox_exact

METHODS = sorted(wcuda.SOLVERS)


@pytest.fixture(autouse=True)
def few_threads(monkeypatch):
    monkeypatch.setattr(_device, "THREADS_PER_BLOCK", 4)


def worst_case(n):
    """The input on which a naive PAVA is quadratic (ALGORITHMS.md)."""
    return np.r_[np.arange(n), np.arange(-(n - 1), n), np.arange(-(n - 1), 1)].astype(float)


def batch(d=19, seed=0):
    """Rows of length d: random, tied, worst-case-like, constant, one spike."""
    rng = np.random.default_rng(seed)
    tied = rng.integers(-3, 4, size=d).astype(float)
    spike = np.zeros(d)
    spike[d // 3] = 10.0
    return np.stack([rng.normal(size=d) * 5, tied, worst_case(6)[:d], np.full(d, 0.25), spike])


def assert_matches_cpu_and_exact(w, res, lam, l1):
    cpu = wsprox.prox_result(w, lam, l1=l1, method="pava", backend="cpu", axis=1)
    np.testing.assert_allclose(res.x, cpu.x, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(res.labels, cpu.labels)
    np.testing.assert_array_equal(res.n_clusters, cpu.n_clusters)
    tol = 1e-5 if w.dtype == np.float32 else 1e-12
    for row, x in zip(w, res.x):
        exact = np.array(prox_exact(row.astype(float), lam, l1=l1), dtype=float)
        np.testing.assert_allclose(x, exact, rtol=tol, atol=tol)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("lam, l1", [(0.8, 0.0), (0.05, 0.3), (40.0, 0.0)])
def test_methods_match_cpu_and_exact(method, lam, l1):
    w = batch()
    res = wsprox.prox_result(w, lam, l1=l1, method=method, backend="cuda", axis=1)
    assert isinstance(res.x, np.ndarray) and res.backend == "cuda" and res.method == method
    assert_matches_cpu_and_exact(w, res, lam, l1)
    assert wsprox.check_optimality(w, res.x, lam, l1=l1, axis=1).optimal


@pytest.mark.parametrize("method", METHODS)
def test_float32_and_lam_zero(method):
    w = batch(d=17, seed=1)[:3].astype(np.float32)
    for lam in (0.0, 1.5):
        res = wsprox.prox_result(w, lam, method=method, backend="cuda", axis=1)
        assert res.x.dtype == np.float32
        assert_matches_cpu_and_exact(w, res, lam, 0.0)


@pytest.mark.parametrize("method", METHODS)
def test_one_long_row(method):
    # axis=None: one row of 31 = 4 stretches of 8 (4 threads); the worst case.
    w = worst_case(8)
    res = wsprox.prox_result(w, 3.0, method=method, backend="cuda")
    np.testing.assert_allclose(res.x, wsprox.prox(w, 3.0, backend="cpu"), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.x.ravel(), np.array(prox_exact(w, 3.0), dtype=float), atol=1e-12)
    assert res.n_clusters == wsprox.prox_result(w, 3.0).n_clusters


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("zeros", [1, 8])
def test_lam_zero_keeps_tiny_entries_after_large_partial_sums_apart(method, zeros):
    # Found by hypothesis: prefix sums (even double-double) lose 1.8e-152 after -1024,
    # so the hull's range sums merged it with the zeros before it.
    w = np.array([0.0] * zeros + [1.78272692e-152, -124.0, -900.041614])
    got = wsprox.prox_result(w, 0.0, method=method, backend="cuda")
    np.testing.assert_array_equal(got.x, w)
    np.testing.assert_array_equal(got.labels, wsprox.prox_result(w, 0.0, backend="cpu").labels)


@settings(max_examples=10)
@given(w=vectors(max_size=12), lam=lams(), method=st.sampled_from(METHODS))
def test_property_equals_cpu(w, lam, method):
    got = wsprox.prox_result(w, lam, method=method, backend="cuda")
    want = wsprox.prox_result(w, lam, backend="cpu")
    np.testing.assert_allclose(got.x, want.x, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(got.labels, want.labels)


def test_rounds():
    w = np.array([[0.0, 1.0, 10.0, 11.0, 12.0]])
    rounds = {m: wsprox.prox_result(w, 2.0, method=m, backend="cuda", axis=1).rounds for m in METHODS}
    counts = wsprox.prox_result(w, 2.0, backend="cpu").n_clusters
    assert rounds["pava"] == 5
    assert rounds["end_collisions"] == counts
    assert rounds["search_collisions"] == 0  # search steps of merges; d = 5 is one thread's PAVA run
    assert 2 <= rounds["imminent_collisions"] <= 5


def test_auto_is_fused_pava_for_short_rows_and_search_collisions_for_long_ones(monkeypatch):
    from wsprox.cuda import backend, short_rows

    w = batch(d=9)[:3]
    monkeypatch.setattr(short_rows, "MAX_D", 8)            # rows of 9 are "long" here
    monkeypatch.setattr(backend, "AUTO_BATCH", 3)          # and 3 rows a large batch
    for data in (w, cuda.to_device(w)):
        assert wsprox.prox_result(data, 0.7, axis=1, backend="cuda").method == "pava"
        assert wsprox.prox_result(data[:2], 0.7, axis=1, backend="cuda").method == "search_collisions"
        assert wsprox.prox_result(data, 0.7, backend="cuda").method == "search_collisions"
    assert wsprox.prox_result(w[:1, :8], 0.7, axis=1, backend="cuda").method == "pava"


def test_device_input_stays_on_device():
    w = batch(d=9)[:2]
    dw = cuda.to_device(w)
    x = wsprox.prox(dw, 0.7, axis=1)  # backend="auto" picks CUDA for a device array
    assert cuda.devicearray.is_cuda_ndarray(x)
    np.testing.assert_allclose(x.copy_to_host(), wsprox.prox(w, 0.7, axis=1), rtol=1e-12, atol=1e-12)
    res = wsprox.prox_result(dw, 0.7, axis=1)
    assert res.backend == "cuda" and cuda.devicearray.is_cuda_ndarray(res.labels)
    np.testing.assert_array_equal(res.labels.copy_to_host(), wsprox.prox_result(w, 0.7, axis=1).labels)
    np.testing.assert_array_equal(dw.copy_to_host(), w)  # the input is untouched


def test_device_axis_dtype_and_out_in_place():
    rng = np.random.default_rng(3)
    w = rng.integers(-3, 4, size=(3, 5, 2)).astype(np.float32)
    want = wsprox.prox(w, 1.0, axis=1)
    dw = cuda.to_device(w)
    x = wsprox.prox(dw, 1.0, axis=1, out=dw)
    assert x is dw
    np.testing.assert_allclose(dw.copy_to_host(), want, rtol=1e-6)
    ints = cuda.to_device(np.array([[3, 1], [2, 2]], dtype=np.int32))
    x = wsprox.prox(ints, 1.0, axis=0)
    assert x.dtype == np.float64
    np.testing.assert_allclose(x.copy_to_host(), wsprox.prox(np.array([[3, 1], [2, 2]]), 1.0, axis=0))


def test_bitonic_sort_rows():
    rows = np.array([[3.0, -1.0, 3.0, 0.5, -1.0, 7.0, 2.0], [0.0] * 7])
    order, x = sort.bitonic_argsort(cuda.to_device(rows))
    order, x = order.copy_to_host(), x.copy_to_host()
    np.testing.assert_array_equal(x, np.sort(rows, axis=1))
    np.testing.assert_array_equal(np.take_along_axis(rows, order, axis=1), x)
    assert all(sorted(o) == list(range(7)) for o in order)


@cuda.jit
def _scan_kernel(op, values, index, flags, mask, n, chunk, carry):
    scan.range_scan(op, values, index, flags, mask, 0, n, chunk, carry, 0, True)


@pytest.mark.parametrize("chunk", [19, 7])
def test_segmented_scans_across_stretches(chunk):
    # 4 threads own stretches of 5 entries (or of 2 in chunks of 7); segments start at 0, 3, 11, 12.
    values = np.array([1.0, 2, 5, 1, 1, 0, 4, 4, 0, 9, 9, 3, 2, 2, 8, 1, 1, 5, 6, 0])
    flags = np.zeros(20, dtype=np.int8)
    flags[[0, 3, 11, 12]] = 1
    starts = np.maximum.accumulate(np.where(flags, np.arange(20), 0))

    def run(op, mask, carry=None):
        v, i = cuda.to_device(values), cuda.to_device(np.arange(20))
        if carry is None:
            carry = scan.identity.py_func(op)[0]
        _scan_kernel[1, 4, 0, scan.shared_bytes(4)](op, v, i, cuda.to_device(flags), mask, 19, chunk, carry)
        return v.copy_to_host()[:19], i.copy_to_host()[:19]

    s, _ = run(scan.SUM, 1)
    np.testing.assert_allclose(s, [values[a:k + 1].sum() for k, a in enumerate(starts[:19])])
    s, c = run(scan.SUM, 0)
    np.testing.assert_allclose(s, np.cumsum(values)[:19])
    np.testing.assert_array_equal(c, np.cumsum(np.arange(20))[:19])
    s, _ = run(scan.SUM, 0, carry=100.0)  # after a carry (the scan of what comes before)
    np.testing.assert_allclose(s, 100 + np.cumsum(values)[:19])
    m, _ = run(scan.MAX, 0)
    np.testing.assert_allclose(m, np.maximum.accumulate(values)[:19])
    m, i = run(scan.ARGMIN, 1)
    for k, a in enumerate(starts[:19]):
        seg = values[a:k + 1]
        assert m[k] == seg.min() and i[k] == a + len(seg) - 1 - np.argmin(seg[::-1])  # the last argmin


# Found by hypothesis (CI, flaky): -1.0 left out of the block sum of the six
# small entries. Negative, tiny (subnormal-adjacent, subnormal, -0.0) and tied
# entries around a far outlier, each row spanning several threads' stretches.
TINY_AND_NEGATIVE = np.array([
    [-1.0, 1.0, 2.33100935e-220, 747.787350, 5.0, 4.0, 0.5],
    [-0.0, 0.0, -5e-324, 5e-324, -1.0, -1.0, 300.0],
    [-2.0, -2.0, -1e-300, 1e-300, 2.0, 2.0, -600.0],
])


@pytest.mark.parametrize("method", METHODS)
def test_tiny_negative_and_tied_entries_repeatedly(method):
    for lam in (46.85084361218266, 0.3):
        want = wsprox.prox_result(TINY_AND_NEGATIVE, lam, method="pava", backend="cpu", axis=1)
        for _ in range(3):  # the failure was nondeterministic
            got = wsprox.prox_result(TINY_AND_NEGATIVE, lam, method=method, backend="cuda", axis=1)
            np.testing.assert_allclose(got.x, want.x, rtol=1e-12, atol=1e-12)
            np.testing.assert_array_equal(got.labels, want.labels)
    assert_matches_cpu_and_exact(TINY_AND_NEGATIVE, got, 0.3, 0.0)


@pytest.mark.skipif(not _device.simulated(), reason="a property of Numba's CUDA simulator")
@pytest.mark.parametrize("method", METHODS)
def test_no_kernel_depends_on_static_shared_memory(method, monkeypatch):
    # The cause of that failure: the simulator's first cuda.shared.array(T, ...)
    # on a line is not thread-safe, so a thread racing another got its own
    # array, and the scan's partial of thread 0 went missing. Give every
    # static shared array to one thread only: the kernels (whose scan scratch
    # is the launch's dynamic shared memory) must not notice.
    from numba.cuda.simulator import kernelapi

    dynamic = kernelapi.FakeCUDAShared.array

    def private(self, shape, dtype, alignment=None):
        if shape == 0:
            return dynamic(self, shape, dtype, alignment)
        return np.full(shape, 7, dtype=np.dtype(str(dtype)))

    monkeypatch.setattr(kernelapi.FakeCUDAShared, "array", private)
    w = TINY_AND_NEGATIVE[:1]
    got = wsprox.prox_result(w, 46.85084361218266, method=method, backend="cuda", axis=1)
    assert_matches_cpu_and_exact(w, got, 46.85084361218266, 0.0)


@pytest.mark.parametrize("method", METHODS)
def test_no_device_allocation_per_call_in_steady_state(method, request):
    # After a first call, the pipeline, the sort and the solver take their work
    # arrays from the thread's device scratch (each fresh array is a cuMemAlloc on a GPU).
    rows = cuda.to_device(batch(d=9)[:3])
    out = cuda.device_array(rows.shape)
    wcuda.prox_rows(wcuda.SOLVERS[method], rows, 0.7, 0.1, out)
    allocations = request.getfixturevalue("device_allocations")
    counts, _ = wcuda.prox_rows(wcuda.SOLVERS[method], rows, 0.7, 0.1, out)
    assert allocations == []
    np.testing.assert_allclose(out.copy_to_host(), wsprox.prox(batch(d=9)[:3], 0.7, l1=0.1, axis=1), atol=1e-12)
    np.testing.assert_array_equal(counts.copy_to_host(), wsprox.prox_result(batch(d=9)[:3], 0.7, l1=0.1, axis=1).n_clusters)


def test_release_workspace_frees_the_device_scratch_too():
    wsprox.prox(cuda.to_device(batch(d=9)), 0.7, axis=1)
    assert _device.workspace().nbytes > 0
    wsprox.release_workspace()
    assert _device.workspace().nbytes == 0

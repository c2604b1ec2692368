"""The grid-wide kernels (:mod:`wsprox.cuda.grid`, :mod:`wsprox.cuda.scan`) on a real GPU, with many blocks.

On Numba's simulator a cooperative grid is one block and a grid barrier is a
block barrier, so ``tests/cuda_sim/test_grid.py`` cannot see a missing grid
barrier or a cross-block read that races; these tests run the grid scans, the
settle and end and imminent collisions with hundreds of blocks (rows of a few
``1e5`` entries, small chunks) against NumPy and the CPU backend. They skip
without a real GPU (and under the simulator, which would need hours; the
simulator suite of ``tests/test_cuda.py`` must not report skips, so they are
not under ``tests/cuda_sim``).
"""
import os

import numpy as np
import pytest
from numba import cuda

import wsprox

REAL_GPU = cuda.is_available() and os.environ.get("NUMBA_ENABLE_CUDASIM") != "1"
pytestmark = pytest.mark.skipif(not REAL_GPU, reason="needs a CUDA GPU (many blocks, real grid barriers)")


@pytest.fixture
def many_blocks(monkeypatch):
    """Small chunks (many blocks), and the largest grid launched, recorded."""
    from wsprox.cuda import grid

    monkeypatch.setattr(grid, "CHUNK", 256)
    seen = []
    launch = grid.launch

    def recording(kernel, blocks, threads, shared=0):
        seen.append(blocks)
        return launch(kernel, blocks, threads, shared)

    monkeypatch.setattr(grid, "launch", recording)
    return seen


if REAL_GPU:
    from wsprox.cuda import grid, scan

    @cuda.jit
    def _scan_kernel(gc, op, mask, values, index, flags):
        scan.grid_scan(op, values, index, flags, mask, values.size, gc)


def test_grid_scans_carry_across_blocks(many_blocks):
    n = 300_007
    rng = np.random.default_rng(0)
    values = rng.integers(-50, 50, size=n).astype(float)  # exact sums; ties for the argmin
    flags = np.zeros(n, dtype=np.int8)
    flags[[0, 1000, 150_001]] = scan.ROW
    segment = np.maximum.accumulate(np.where(flags, np.arange(n), 0))
    v, i = cuda.to_device(values), cuda.to_device(np.ones(n, dtype=np.int64))
    grid.launch_grid(_scan_kernel, n, scan.SUM, scan.ROW, v, i, cuda.to_device(flags))
    assert max(many_blocks) > 8
    sums = np.cumsum(values)
    np.testing.assert_array_equal(v.copy_to_host(), sums - np.r_[0.0, sums][segment])
    np.testing.assert_array_equal(i.copy_to_host(), np.arange(n) - segment + 1)
    v, i = cuda.to_device(values), cuda.to_device(np.arange(n))
    grid.launch_grid(_scan_kernel, n, scan.ARGMIN, 0, v, i, cuda.to_device(flags))
    i = i.copy_to_host()
    assert i[-1] == n - 1 - np.argmin(values[::-1])  # the last argmin of the whole row
    np.testing.assert_array_equal(v.copy_to_host(), np.minimum.accumulate(values))


@pytest.mark.parametrize("method", ["pava", "end_collisions", "imminent_collisions", "search_collisions"])
def test_one_long_row_and_batches_match_the_cpu(method, many_blocks):
    rng = np.random.default_rng(1)
    lam = 20.0 if method == "end_collisions" else 0.5  # end collisions: one iteration per cluster
    for w in (rng.normal(size=200_003), rng.integers(-20, 20, size=200_003).astype(float)):
        got = wsprox.prox_result(w, lam, method=method, backend="cuda")
        want = wsprox.prox_result(w, lam, backend="cpu")
        np.testing.assert_allclose(got.x, want.x, rtol=1e-10, atol=1e-10)
        assert got.n_clusters == want.n_clusters
        np.testing.assert_array_equal(got.labels, want.labels)
    assert max(many_blocks) > 8
    for shape in ((3, 70_001), (2000, 64)):
        w = rng.normal(size=shape).astype(np.float32)
        got = wsprox.prox_result(w, 0.3, method=method, backend="cuda", axis=1)
        want = wsprox.prox_result(w, 0.3, backend="cpu", axis=1)
        np.testing.assert_allclose(got.x, want.x, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(got.n_clusters, want.n_clusters)


@pytest.mark.parametrize("method", ["end_collisions", "imminent_collisions"])
def test_rounds_on_a_worst_case_over_many_blocks(method, many_blocks):
    from wsprox.worstcase import growing_cluster

    w, lam = growing_cluster(2000)
    got = wsprox.prox_result(w, lam, method=method, backend="cuda")
    want = wsprox.prox_result(w, lam, method=method, backend="cpu")
    assert got.rounds == want.rounds
    np.testing.assert_array_equal(got.labels, want.labels)

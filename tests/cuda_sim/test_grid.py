"""Grid-wide scans and the kernels built on them (:mod:`wsprox.cuda.grid`).

On Numba's simulator a cooperative grid is one block, so the geometry is
lowered (patched): 2 or 4 threads a block, chunks of 3 entries and 4 parts
per block, so that every scan crosses stretches, chunks and parts (the parts'
totals carry into the later parts) at tiny sizes, with lengths that are not a
multiple of a chunk and shorter than one. The settle (through
:func:`wsprox.cuda.prox_rows`), end collisions and imminent collisions must
equal the CPU backend (values, partitions, labels, cluster counts, rounds)
and the exact oracle. Runs in the simulator subprocess of
``tests/test_cuda.py``; the same tests run at the default geometry on a GPU.
A missing grid barrier shows only on a GPU: ``tests/test_cuda_grid.py``.
"""
import sys

import numpy as np
import pytest
from numba import cuda

sys.setswitchinterval(1e-4)

import wsprox
from wsprox import cpu
from wsprox.cuda import SOLVERS, _device, grid, prox_rows, scan
from wsprox.reference import prox_exact
from wsprox.worstcase import FAMILIES


@pytest.fixture(autouse=True, params=[(2, 3, 4), (4, 5, 2)], ids=["T2-chunk3-parts4", "T4-chunk5-parts2"])
def small_grid(request, monkeypatch):
    threads, chunk, parts = request.param
    if _device.simulated():
        monkeypatch.setattr(_device, "THREADS_PER_BLOCK", threads)
        monkeypatch.setattr(grid, "CHUNK", chunk)
        monkeypatch.setattr(grid, "PARTS_PER_BLOCK", parts)


@cuda.jit
def _scan_kernel(gc, op, mask, values, index, flags):
    scan.grid_scan(op, values, index, flags, mask, values.size, gc)


def _reference(op, values, index, starts):
    out_f, out_i = values.copy(), index.copy()
    for k in range(values.size):
        a = starts[k]
        f, i = values[a:k + 1], index[a:k + 1]
        if op == scan.SUM:
            out_f[k], out_i[k] = f.sum(), i.sum()
        else:
            best = np.flatnonzero(f == (f.max() if op == scan.MAX else f.min()))[-1]  # the later one on ties
            out_f[k], out_i[k] = f[best], i[best]
    return out_f, out_i


@pytest.mark.parametrize("n", [2, 23])
@pytest.mark.parametrize("op", [scan.SUM, scan.MAX, scan.ARGMIN])
def test_grid_scans(op, n):
    rng = np.random.default_rng(n + op)
    values = rng.integers(-3, 4, size=n).astype(float)  # ties for MAX and ARGMIN; exact sums
    index = np.arange(n) if op != scan.SUM else rng.integers(0, 5, size=n)
    flags = np.zeros(n, dtype=np.int8)
    flags[0] = scan.ROW
    flags[rng.integers(1, n, size=n // 4)] = scan.CLUSTER
    flags[n // 2] = scan.ROW
    for mask in (0, scan.ROW, scan.ROW | scan.CLUSTER):
        starts = np.maximum.accumulate(np.where(flags & mask, np.arange(n), 0))
        v, i = cuda.to_device(values), cuda.to_device(index)
        grid.launch_grid(_scan_kernel, n, op, mask, v, i, cuda.to_device(flags))
        want_f, want_i = _reference(op, values, index, starts)
        np.testing.assert_array_equal(v.copy_to_host(), want_f, err_msg=f"mask={mask}")
        np.testing.assert_array_equal(i.copy_to_host(), want_i, err_msg=f"mask={mask}")


def rows_of(d, seed=0):
    """Rows of length d: random, tied integers, a worst case, constant, one spike."""
    rng = np.random.default_rng(seed)
    spike = np.zeros(d)
    spike[d // 3] = 10.0
    worst = np.r_[np.arange(4), np.arange(-3, 4), np.arange(-3, 1)].astype(float)
    return np.stack([rng.normal(size=d) * 5, rng.integers(-3, 4, size=d).astype(float),
                     np.resize(worst, d), np.full(d, 0.25), spike])


def device_prox(method, w, lam, l1, labels=True):
    rows = cuda.to_device(np.ascontiguousarray(w))
    out = cuda.device_array(w.shape, w.dtype)
    lab = cuda.device_array(w.shape, np.int64) if labels else None
    counts, rounds = prox_rows(SOLVERS[method], rows, lam, l1, out, lab)
    return (out.copy_to_host(), lab.copy_to_host() if labels else None, counts.copy_to_host(),
            rounds.copy_to_host())


def assert_settle_matches_cpu(method, w, lam, l1, labels=True):
    x, lab, counts, _ = device_prox(method, w, lam, l1, labels)
    want = wsprox.prox_result(w, lam, l1=l1, method="pava", backend="cpu", axis=1)
    assert x.dtype == w.dtype
    np.testing.assert_allclose(x, want.x, rtol=1e-12, atol=1e-12)
    if labels:
        np.testing.assert_array_equal(lab, want.labels)
        np.testing.assert_array_equal(counts, want.n_clusters)
    tol = 1e-5 if w.dtype == np.float32 else 1e-12
    for row, got in zip(w, x):
        np.testing.assert_allclose(got, np.array(prox_exact(row.astype(float), lam, l1=l1), dtype=float),
                                   rtol=tol, atol=tol)


@pytest.mark.parametrize("d", [1, 2, 13])
@pytest.mark.parametrize("lam, l1", [(0.8, 0.0), (0.05, 0.3), (40.0, 0.0)])
def test_settle_batches_labels_and_l1(d, lam, l1):
    # pava partitions the rows; the settle (values, running max, l1, scatter, labels) is grid-wide.
    assert_settle_matches_cpu("pava", rows_of(d), lam, l1)


def test_settle_float32_without_labels_and_ties_after_l1():
    w = rows_of(11, seed=1).astype(np.float32)
    assert_settle_matches_cpu("pava", w, 1.5, 0.0, labels=False)
    # soft-thresholding makes neighbouring blocks equal (0): they share one label
    w = np.array([[-0.5, -0.2, 0.1, 0.3, 2.0, 5.0, -4.0]])
    assert_settle_matches_cpu("pava", w, 0.1, 0.4)


def cpu_solve(method, x, lam):
    n, d = x.shape
    starts = np.empty((n, d + 1), dtype=np.int64)
    counts, rounds = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    cpu.SOLVERS[method](x, lam, starts, counts, rounds, np.empty_like(x))
    return [s[:c + 1].tolist() for s, c in zip(starts, counts)], rounds


def cuda_solve(method, x, lam):
    n, d = x.shape
    starts = cuda.to_device(np.full((n, d + 1), -1, dtype=np.int64))
    counts = cuda.to_device(np.full(n, -1, dtype=np.int64))
    rounds = cuda.to_device(np.full(n, -1, dtype=np.int64))
    SOLVERS[method](cuda.to_device(x), lam, starts, counts, rounds)
    starts, counts = starts.copy_to_host(), counts.copy_to_host()
    return [s[:c + 1].tolist() for s, c in zip(starts, counts)], rounds.copy_to_host()


@pytest.mark.parametrize("method", ["end_collisions", "imminent_collisions"])
@pytest.mark.parametrize("lam", [0.0, 0.3, 2.0, 50.0])
def test_solvers_partitions_and_rounds_equal_the_cpus(method, lam):
    # Integer rows (exact sums, so exact ties) of a batch, each row its own segment.
    for d in (1, 4, 13):
        x = np.sort(rows_of(d, seed=d)[1:].round(), axis=1)
        got, got_rounds = cuda_solve(method, x, lam)
        want, want_rounds = cpu_solve(method, x, lam)
        assert got == want, f"d={d}"
        np.testing.assert_array_equal(got_rounds, want_rounds)


@pytest.mark.parametrize("method", ["end_collisions", "imminent_collisions"])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_worst_case_families(method, family):
    # The CPU's rounds on the adversarial families (Theta(d) for imminent collisions on some).
    w, lam = FAMILIES[family](12)
    x = np.sort(np.atleast_2d(np.asarray(w, dtype=np.float64)), axis=1)
    got, got_rounds = cuda_solve(method, x, lam)
    want, want_rounds = cpu_solve(method, x, lam)
    assert got == want
    np.testing.assert_array_equal(got_rounds, want_rounds)


@pytest.mark.parametrize("method", ["end_collisions", "imminent_collisions"])
def test_solvers_through_the_settle(method):
    w = rows_of(10, seed=3)
    assert_settle_matches_cpu(method, w, 0.7, 0.1)

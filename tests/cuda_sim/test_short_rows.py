"""The fused kernel for batches of short rows (:mod:`wsprox.cuda.short_rows`).

Against the CPU backend's PAVA pipeline (the same PAVA, the same cluster values:
bit for bit) and the exact oracle. The simulator runs one OS thread per CUDA
thread, so the module's thread counts are lowered (autouse fixture): rows
share blocks of 3, 4 threads a row, so that every thread sorts several pairs
of a step and the last block of a batch is part empty.
"""
import contextlib
import sys

import numpy as np
import pytest
from numba import cuda

sys.setswitchinterval(1e-4)

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import assert_close_to_exact, lams, vectors
from wsprox import cpu
from wsprox.core.clusters import cluster_value
from wsprox.core.pava import pava_row
from wsprox.cuda import _device, short_rows
from wsprox.worstcase import FAMILIES

#: The module's thread counts, before the fixture lowers them.
DEFAULTS = short_rows.THREADS, short_rows.ROW_THREADS, short_rows.ROWS_PER_BLOCK


@contextlib.contextmanager
def threads(threads=16, row_threads=4, rows_per_block=3):
    saved = short_rows.THREADS, short_rows.ROW_THREADS, short_rows.ROWS_PER_BLOCK
    short_rows.THREADS, short_rows.ROW_THREADS, short_rows.ROWS_PER_BLOCK = threads, row_threads, rows_per_block
    try:
        yield
    finally:
        short_rows.THREADS, short_rows.ROW_THREADS, short_rows.ROWS_PER_BLOCK = saved


@pytest.fixture(autouse=True)
def few_threads():
    with threads():
        yield


def on_device(w, lam, l1=0.0, labels=True, out_dtype=None, alias=False):
    """(out, labels, counts, rounds) of prox_short_rows on the host array ``w``."""
    rows = cuda.to_device(np.ascontiguousarray(w))
    out = rows if alias else cuda.device_array(w.shape, out_dtype or w.dtype)
    lab = cuda.device_array(w.shape, np.int64) if labels else None
    counts, rounds = short_rows.prox_short_rows(rows, lam, l1, out, lab)
    return (out.copy_to_host(), None if lab is None else lab.copy_to_host(),
            counts.copy_to_host(), rounds.copy_to_host())


def on_cpu(w, lam, l1=0.0, labels=True, out_dtype=None):
    out = np.empty(w.shape, out_dtype or w.dtype)
    lab = np.empty(w.shape, np.int64) if labels else None
    counts, rounds = cpu.prox_rows(cpu.SOLVERS["pava"], np.ascontiguousarray(w), lam, l1, out, lab)
    return out, lab, counts, rounds


def on_host(w, lam, l1=0.0, labels=True, out_dtype=None):
    """The module docstring's pseudocode on the host, step by step (the CPU's PAVA)."""
    n, d = w.shape
    out = np.empty(w.shape, out_dtype or w.dtype)
    lab = np.empty(w.shape, np.int64)
    counts = np.empty(n, np.int64)
    for r in range(n):
        order = np.argsort(w[r], kind="stable")
        x = w[r, order].astype(np.float64)
        starts = np.empty(d + 1, np.int64)
        nb = pava_row(x, lam, starts, np.empty(d))
        top, label, prev = -np.inf, -1, None
        for b in range(nb):
            a, e = starts[b], starts[b + 1]
            total = carry = 0.0
            for k in range(a + 1, e):  # Neumaier, as wsprox.core.clusters.cluster_mean
                v = x[k] - x[a]
                t = total + v
                carry += (total - t) + v if abs(total) >= abs(v) else (v - t) + total
                total = t
            top = max(x[a] + cluster_value(total + carry, lam, d, a, e - 1), top)
            out[r, order[a:e]] = top - l1 if top > l1 else top + l1 if top < -l1 else 0.0
            if label < 0 or out[r, order[a]] != prev:
                label, prev = label + 1, out[r, order[a]]
            lab[r, order[a:e]] = label
        counts[r] = label + 1 if labels else nb
    return out, lab if labels else None, counts, np.full(n, d)


def assert_matches(w, lam, l1=0.0, labels=True, out_dtype=None, alias=False, exact=True):
    got = on_device(w, lam, l1, labels, out_dtype, alias)
    for want in (on_host(w, lam, l1, labels, out_dtype), on_cpu(w, lam, l1, labels, out_dtype)):
        assert_same(got, want, w, labels)
    if exact:
        for row, x in zip(w, got[0]):
            assert_close_to_exact(x, row.astype(np.float64), lam, l1)
    return got


def assert_same(got, want, w, labels):
    np.testing.assert_array_equal(got[0], want[0])      # the same PAVA and block values
    if labels:
        np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[2], want[2])
    np.testing.assert_array_equal(got[3], np.full(w.shape[0], w.shape[1]))
    np.testing.assert_array_equal(got[3], want[3])


def worst_case(n):
    return np.r_[np.arange(n), np.arange(-(n - 1), n), np.arange(-(n - 1), 1)].astype(float)


def batch(d, seed=0):
    """Rows of length d: random, tied, worst-case-like, constant, one spike."""
    rng = np.random.default_rng(seed)
    spike = np.zeros(d)
    spike[d // 3] = 10.0
    return np.stack([rng.normal(size=d) * 5, rng.integers(-3, 4, size=d).astype(float),
                     worst_case(d)[:d], np.full(d, 0.25), spike])


@pytest.mark.parametrize("d", [1, 2, 3, 5, 8, 17])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batches_match_cpu_and_exact(d, dtype):
    w = batch(d, seed=d).astype(dtype)
    for lam, l1 in [(0.8, 0.0), (0.05, 0.3), (40.0, 0.0), (3.0, 1.0)]:
        assert_matches(w, lam, l1)


@pytest.mark.parametrize("labels", [True, False])
def test_counts_are_blocks_without_labels_and_clusters_with(labels):
    # l1 zeroes several blocks: one cluster (label) but several PAVA blocks.
    w = np.array([[-0.3, 0.2, 0.1, 5.0, -5.0, 0.0, 0.05]])
    _, _, counts, _ = assert_matches(w, 0.1, 1.0, labels=labels)
    assert counts[0] == (3 if labels else 7)


def test_labels_compare_output_values_in_the_output_dtype():
    # Two blocks 1e-12 apart in float64 are one value in float32: one label.
    w = np.array([[1.0, 1.0 + 1e-12, 3.0], [1.0, 1.0 + 1e-9, 1.0 - 1e-9]])
    out, lab, counts, _ = assert_matches(w, 0.0, out_dtype=np.float32, exact=False)
    np.testing.assert_array_equal(lab, [[0, 0, 1], [0, 0, 0]])
    np.testing.assert_array_equal(counts, [2, 1])
    assert out.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_out_may_be_rows(dtype):
    w = batch(11, seed=3).astype(dtype)
    assert_matches(w, 1.7, 0.2, alias=True)


def test_lam_zero_is_the_identity_on_ties():
    w = np.array([[2.0, -1.0, 2.0, 0.5, -1.0, 2.0, 7.0], [0.25] * 7, [3.0, 1.0, 2.0, 0.0, 5.0, 4.0, 6.0]])
    out, lab, counts, _ = assert_matches(w, 0.0)
    np.testing.assert_array_equal(out, w)
    for row, labels, k in zip(w, lab, counts):
        np.testing.assert_array_equal(labels, np.unique(row, return_inverse=True)[1])
        assert k == len(np.unique(row))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_worst_case_families(dtype):
    for name, family in sorted(FAMILIES.items()):
        rows, lams_ = zip(*(family(13, seed=s, dtype=dtype) for s in range(2)))
        assert_matches(np.stack(rows), lams_[0], 0.0)


@pytest.mark.parametrize("n", [1, 3, 4, 7])
def test_rows_share_blocks_and_the_last_block_is_part_empty(n):
    assert short_rows.geometry(n, 9)[1] == min(n, 3)
    w = np.concatenate([batch(9, seed=n)] * 2)[:n]
    assert_matches(w, 0.6, 0.1)


def test_longest_rows():
    # d = MAX_D (1024 padded entries) and a row just longer than a power of two.
    rng = np.random.default_rng(5)
    w = np.stack([rng.integers(-40, 40, size=short_rows.MAX_D).astype(float),
                  rng.normal(size=short_rows.MAX_D)])
    with threads(threads=8):
        assert short_rows.geometry(2, short_rows.MAX_D) == (2, 1, 8)
        assert_matches(w, 25.0, 0.5)
        assert_matches(np.ascontiguousarray(w[:, :513]), 3.0, 0.0)


def test_one_thread_per_row_and_one_row_per_block():
    w = batch(10, seed=9)
    for t, rt, rb in [(1, 1, 1), (1, 1, 32), (2, 2, 1)]:
        with threads(t, rt, rb):
            assert_matches(w, 0.9, 0.05)


def test_default_geometry():
    # The module's own thread counts: 3 rows of 100 a block, 32 threads a row.
    with threads(*DEFAULTS):
        assert short_rows.geometry(4, 100) == (2, 3, 32)
        rng = np.random.default_rng(11)
        w = np.concatenate([rng.normal(size=(2, 100)), rng.integers(-5, 5, size=(2, 100))])
        assert_matches(w, 4.0, 0.25)


@settings(max_examples=15)
@given(data=st.data(), lam=lams(), l1=st.one_of(st.just(0.0), st.floats(0, 10)),
       dtype=st.sampled_from([np.float64, np.float32]),
       geometry=st.sampled_from([(16, 4, 3), (4, 2, 2), (8, 8, 1)]))
def test_property_equals_cpu_and_exact(data, lam, l1, dtype, geometry):
    first = data.draw(vectors(max_size=12, dtype=dtype))
    n = data.draw(st.integers(1, 4))
    more = [data.draw(vectors(min_size=first.size, max_size=first.size, dtype=dtype)) for _ in range(n - 1)]
    with threads(*geometry):
        assert_matches(np.stack([first, *more]), lam, l1)


def test_rejects_rows_too_long_or_empty():
    for d in (0, short_rows.MAX_D + 1):
        rows = cuda.device_array((1, d))
        with pytest.raises(ValueError, match="1..1024"):
            short_rows.prox_short_rows(rows, 1.0, 0.0, rows)


def test_empty_batch_launches_nothing():
    rows = cuda.device_array((0, 5))
    counts, rounds = short_rows.prox_short_rows(rows, 1.0, 0.0, rows)
    assert counts.shape == rounds.shape == (0,)


def test_no_device_allocation_in_steady_state(request):
    w = batch(6)
    rows = cuda.to_device(w)
    out = cuda.device_array(rows.shape)
    lab = cuda.device_array(rows.shape, np.int64)
    for labels in (lab, None):
        short_rows.prox_short_rows(rows, 0.7, 0.1, out, labels)
    allocations = request.getfixturevalue("device_allocations")
    for labels in (lab, None):
        counts, _ = short_rows.prox_short_rows(rows, 0.7, 0.1, out, labels)
    assert allocations == []
    np.testing.assert_array_equal(out.copy_to_host(), on_cpu(w, 0.7, 0.1)[0])
    np.testing.assert_array_equal(counts.copy_to_host(), on_cpu(w, 0.7, 0.1, labels=False)[2])


@pytest.mark.skipif(not _device.simulated(), reason="a property of Numba's CUDA simulator")
def test_no_static_shared_memory(monkeypatch):
    # Static shared arrays are unsafe on the simulator (wsprox/cuda/scan.py):
    # give every one to a single thread; the kernel must not notice.
    from numba.cuda.simulator import kernelapi

    dynamic = kernelapi.FakeCUDAShared.array

    def private(self, shape, dtype, alignment=None):
        if shape == 0:
            return dynamic(self, shape, dtype, alignment)
        return np.full(shape, 7, dtype=np.dtype(str(dtype)))

    monkeypatch.setattr(kernelapi.FakeCUDAShared, "array", private)
    assert_matches(batch(7), 2.5, 0.1)

"""Search collisions on CUDA as tiles plus a merge tree (:mod:`wsprox.cuda.search_collisions`).

Small ``TILE`` and ``THREADS`` (patched) give many tiles, in-tile merge levels
and merge levels across tiles at tiny ``d``; every partition must equal the
CPU PAVA's (exactly representable inputs: integers, or floats whose blocks are
far from ties), and the front door must agree with the CPU and the exact
oracle. Runs on Numba's CUDA simulator (``tests/test_cuda.py`` starts it).
"""
import contextlib
import sys

import numpy as np
import pytest
from numba import cuda

sys.setswitchinterval(1e-4)

from hypothesis import given, settings
from hypothesis import strategies as st

import wsprox
from conftest import lams, vectors
from wsprox import cpu
from wsprox.cuda import _device
from wsprox.cuda import search_collisions as sc
from wsprox.reference import prox_exact
from wsprox.worstcase import FAMILIES

#: (TILE, THREADS): runs of 4, 1 and 4 entries; 2, 4 and 4 threads a tile.
GEOMETRIES = [(8, 2), (4, 4), (16, 4)]


@pytest.fixture(autouse=True)
def few_threads(monkeypatch):
    # The pipeline's kernels around the solver (sort, settle): few threads, as in test_cuda_kernels.
    if _device.simulated():
        monkeypatch.setattr(_device, "THREADS_PER_BLOCK", 4)


@contextlib.contextmanager
def geometry(tile, threads):
    saved = sc.TILE, sc.THREADS
    sc.TILE, sc.THREADS = tile, threads
    try:
        yield
    finally:
        sc.TILE, sc.THREADS = saved


def cpu_solve(method, x, lam):
    n, d = x.shape
    starts = np.empty((n, d + 1), dtype=np.int64)
    counts, rounds = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    cpu.SOLVERS[method](x, lam, starts, counts, rounds, np.empty_like(x))
    return [s[:c + 1] for s, c in zip(starts, counts)], rounds


def cuda_solve(x, lam):
    n, d = x.shape
    starts = cuda.to_device(np.full((n, d + 1), -1, dtype=np.int64))
    counts, rounds = cuda.device_array(n, dtype=np.int64), cuda.device_array(n, dtype=np.int64)
    sc.solve(cuda.to_device(x), lam, starts, counts, rounds)
    starts, counts = starts.copy_to_host(), counts.copy_to_host()
    assert (starts[np.arange(n), counts] == d).all()
    return [s[:c + 1] for s, c in zip(starts, counts)], rounds.copy_to_host()


def assert_partition_is_pavas(x, lam):
    x = np.sort(np.atleast_2d(np.asarray(x, dtype=np.float64)), axis=1)
    got, _ = cuda_solve(x, lam)
    want, _ = cpu_solve("pava", x, lam)
    for row, g, w in zip(x, got, want):
        np.testing.assert_array_equal(g, w, err_msg=f"lam={lam}, row={row.tolist()}")
    return got


def rows(d, seed):
    """Random, heavily tied and integer rows, and one constant row."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.normal(size=d) * 3, rng.integers(-2, 3, size=d), rng.integers(-20, 21, size=d),
                     np.full(d, 0.5)]).astype(np.float64)


@pytest.mark.parametrize("tile, threads", GEOMETRIES)
@pytest.mark.parametrize("d", [1, 3, 8, 37])  # one entry, less than a tile, one tile, not a multiple of it
def test_partition_equals_pava(tile, threads, d):
    with geometry(tile, threads):
        for lam in (0.0, 0.7, 6.0):
            assert_partition_is_pavas(rows(d, seed=d), lam)


def test_lam_zero_and_total_collapse():
    x = rows(29, seed=1)
    with geometry(8, 2):
        distinct = assert_partition_is_pavas(x, 0.0)
        collapsed = assert_partition_is_pavas(x, 1e6)
    for row, blocks in zip(np.sort(x, axis=1), distinct):
        assert len(blocks) - 1 == len(np.unique(row))
    assert all(blocks.tolist() == [0, 29] for blocks in collapsed)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_worst_case_families(name):
    with geometry(8, 2):
        for d in (9, 40):
            w, lam = FAMILIES[name](d)
            assert_partition_is_pavas(w, lam)


@pytest.mark.parametrize("tile, threads", [(1, 1), (2, 1), (8, 2)])
def test_equal_neighbours_end_in_one_block(tile, threads):
    # The new cluster 1..4 ends level with the block 5..7: J must be the *last*
    # minimiser, or the blocks 1..4 and 5..7 of equal value stay apart.
    with geometry(tile, threads):
        blocks = assert_partition_is_pavas([2.0, 3, 3, 3, 3, 4, 4, 4], 1.0)
    assert blocks[0].tolist() == [0, 1, 8]


def test_tile_offsets_are_compensated():
    # Tile 0 holds -2^60 four times; the sums of the tiles before tile c >= 2
    # (-2^62 plus small integers) are not float64 numbers, so a float64 prefix
    # of the row, or float64 tile offsets, rounds them to multiples of 1024 and
    # gets the blocks across tiles wrong (checked: 3 blocks for 7 at lam 0.5).
    rng = np.random.default_rng(1)
    x = np.r_[np.full(4, -2.0 ** 60), np.sort(rng.integers(0, 6, size=28)).astype(float)]
    with geometry(4, 2):
        for lam in (0.5, 2.0, 5.0):
            assert_partition_is_pavas(x, lam)


def test_rounds_count_the_cpus_search_steps():
    # With TILE = THREADS = 1 every entry is a tile and every merge a binary
    # search, level by level as on the CPU: the same steps.
    x = np.sort(np.random.default_rng(2).integers(-6, 7, size=(2, 23)).astype(float), axis=1)
    for lam in (0.4, 3.0):
        want = cpu_solve("search_collisions", x, lam)[1]
        with geometry(1, 1):
            np.testing.assert_array_equal(cuda_solve(x, lam)[1], want)
        with geometry(8, 8):  # runs of one entry, 9-ary searches: never more steps
            got = cuda_solve(x, lam)[1]
            assert (got <= want).all() and (got > 0).all()
    with geometry(16, 2):  # a row of one thread's run is solved by PAVA: no merge step
        assert cuda_solve(x[:, :8].copy(), 1.0)[1].tolist() == [0, 0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_front_door_matches_cpu_and_exact(dtype):
    rng = np.random.default_rng(4)
    w = np.concatenate([rng.integers(-4, 5, size=(2, 19)), rng.normal(size=(1, 19)) * 4]).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    data = {1: w, 0: w.T, None: w[2]}
    with geometry(4, 2):
        for lam, l1, axis in ((0.9, 0.0, 1), (0.3, 0.5, 1), (0.3, 0.5, 0), (50.0, 0.0, None)):
            got = wsprox.prox_result(data[axis], lam, l1=l1, axis=axis, method="search_collisions",
                                     backend="cuda")
            want = wsprox.prox_result(data[axis], lam, l1=l1, axis=axis, method="pava", backend="cpu")
            assert got.x.dtype == dtype and got.method == "search_collisions"
            np.testing.assert_allclose(got.x, want.x, rtol=tol, atol=tol)
            np.testing.assert_array_equal(got.labels, want.labels)
            np.testing.assert_array_equal(got.n_clusters, want.n_clusters)
            proxed = got.x.T if axis == 0 else np.atleast_2d(got.x)  # the proxes of the rows of w
            for row, x in zip(w if axis is not None else w[2:], proxed):
                exact = np.array(prox_exact(row.astype(float), lam, l1=l1), dtype=float)
                np.testing.assert_allclose(x, exact, rtol=tol, atol=tol)


@settings(max_examples=8)
@given(w=vectors(max_size=20), lam=lams(), geo=st.sampled_from(GEOMETRIES + [(2, 1), (2, 2)]))
def test_property_equals_pava(w, lam, geo):
    with geometry(*geo):
        got = wsprox.prox_result(w, lam, method="search_collisions", backend="cuda")
    want = wsprox.prox_result(w, lam, method="pava", backend="cpu")
    np.testing.assert_allclose(got.x, want.x, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(got.labels, want.labels)
    assert wsprox.check_optimality(w, got.x, lam).optimal


def test_long_rows():
    # On a GPU: hundreds of tiles at the default TILE, where a block that read
    # another's data before a launch boundary would show (the simulator runs
    # the blocks of a launch one after another); on the simulator, at TILE 8.
    gpu = not _device.simulated()
    tile, threads, d = (sc.TILE, sc.THREADS, 100_003) if gpu else (8, 2, 131)
    rng = np.random.default_rng(7)
    with geometry(tile, threads):
        for lam in (0.5, 30.0, 1e9):
            assert_partition_is_pavas(rng.integers(-50, 51, size=(2, d)), lam)
        if not gpu:  # the rest: the families' tests at tiny d
            return
        for name, family in FAMILIES.items():
            w, lam = family(d)
            x = wsprox.prox(w, lam, method="search_collisions", backend="cuda")
            np.testing.assert_allclose(x, wsprox.prox(w, lam, method="pava", backend="cpu"), rtol=1e-9,
                                       atol=1e-9, err_msg=name)
        w = rng.normal(size=10**7) + 1.0  # a float64 prefix over it errs by eps * 1e7 = 2e-9 = 2 lam/(d-1)
        x = wsprox.prox(w, 0.01, method="search_collisions", backend="cuda")
        assert wsprox.check_optimality(w, x, 0.01).optimal


def test_tiny_entries_after_large_sums():
    # Found by hypothesis: with float64 tile-local prefix sums, -1 + 3.4e-46
    # rounds to -1 and the block {3.4e-46} got the value 0, tied with {0}.
    for tile, threads in ((8, 2), (1, 1)):
        with geometry(tile, threads):
            blocks = assert_partition_is_pavas([0.0, -1.0, 3.44526655e-46], 0.0)
            assert blocks[0].tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("tile, threads", [(6, 2), (8, 3), (4, 8)])
def test_bad_geometry_is_a_value_error(tile, threads):
    with geometry(tile, threads), pytest.raises(ValueError, match="power of two|must not exceed"):
        cuda_solve(np.zeros((1, 4)), 1.0)

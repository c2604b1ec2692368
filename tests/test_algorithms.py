"""The collision algorithms: all give the exact prox, and their round counts behave as the paper says."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wsprox
from conftest import assert_close_to_exact, lams, vectors
from wsprox import cpu
from wsprox.reference import prox_exact
from wsprox.worstcase import FAMILIES, growing_cluster

METHODS = sorted(cpu.SOLVERS)
PARALLEL = [m for m in METHODS if m != "pava"]

# Tests run once per method draw a third of the profile's examples each.
per_method = settings(max_examples=max(20, settings().max_examples // 3))


def n_blocks(w, lam, method):
    """Blocks found by a collision kernel on the sorted row ``w``."""
    x = np.sort(np.asarray(w, dtype=np.float64))[None, :]
    starts = np.empty((1, x.size + 1), dtype=np.int64)
    counts = np.empty(1, dtype=np.int64)
    rounds = np.zeros(1, dtype=np.int64)
    cpu.SOLVERS[method](x, lam, starts, counts, rounds, np.empty_like(x))
    return int(counts[0]), int(rounds[0])


def test_every_algorithm_is_registered():
    assert set(PARALLEL) == {"end_collisions", "imminent_collisions", "search_collisions"}


@pytest.mark.parametrize("method", PARALLEL)
@given(w=vectors(max_size=64), lam=lams(), l1=st.one_of(st.just(0.0), st.floats(0, 20)))
@per_method
def test_agrees_with_exact_and_pava(method, w, lam, l1):
    res = wsprox.prox_result(w, lam, l1=l1, method=method)
    assert res.method == method
    assert_close_to_exact(res.x, w, lam, l1)
    np.testing.assert_allclose(res.x, wsprox.prox(w, lam, l1=l1, method="pava"), rtol=1e-12, atol=1e-12)
    assert wsprox.check_optimality(w, res.x, lam, l1=l1).optimal


@pytest.mark.parametrize("method", METHODS)
@given(w=vectors(max_size=64, elements=st.integers(-6, 6).map(float)),
       lam=st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 6.0, 40.0]))
@per_method
def test_exact_partition_on_integer_ties(method, w, lam):
    # Integer data and dyadic lam: block values are exact quotients, so exact
    # ties are seen as ties and the partition is the exact one.
    res = wsprox.prox_result(w, lam, method=method)
    exact = prox_exact(w, lam, rational=True)
    assert res.n_clusters == len(set(exact.tolist()))
    np.testing.assert_array_equal(res.labels, wsprox.prox_result(w, lam, method="pava").labels)
    assert_close_to_exact(res.x, w, lam)


@pytest.mark.parametrize("method", PARALLEL)
@given(d=st.integers(1, 64), spread=st.floats(-8, 8), seed=st.integers(0, 2**32 - 1), lam=st.floats(1e-3, 1e3))
@per_method
def test_wide_magnitudes(method, d, spread, seed, lam):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=d) * 10.0 ** rng.uniform(-abs(spread), abs(spread), size=d)
    lam *= np.abs(w).max()
    x = wsprox.prox(w, lam, method=method)
    assert_close_to_exact(x, w, lam)
    assert wsprox.check_optimality(w, x, lam).optimal


@pytest.mark.parametrize("method", PARALLEL)
@given(w=vectors(max_size=64, dtype=np.float32), lam=lams(10.0))
@per_method
def test_float32(method, w, lam):
    x = wsprox.prox(w, lam, method=method)
    assert x.dtype == np.float32
    scale = max(np.abs(w).max(initial=0.0), lam)
    np.testing.assert_allclose(x, wsprox.prox(w, lam, method="pava"), rtol=0, atol=4e-7 * scale)


@pytest.mark.parametrize("name", sorted(FAMILIES))
@pytest.mark.parametrize("d", [1, 2, 7, 64, 300])
def test_worst_cases(name, d):
    w, lam = FAMILIES[name](d)
    ref = wsprox.prox_result(w, lam, method="pava")
    assert wsprox.check_optimality(w, ref.x, lam).optimal
    if d <= 64:
        assert_close_to_exact(ref.x, w, lam)
    for method in PARALLEL:
        res = wsprox.prox_result(w, lam, method=method)
        np.testing.assert_array_equal(res.labels, ref.labels)
        np.testing.assert_array_equal(res.x, ref.x)


@pytest.mark.parametrize("method", PARALLEL)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1])
def test_batches(method, dtype, axis):
    rng = np.random.default_rng(7)
    w = rng.normal(size=(3, 5, 9)).astype(dtype)
    w[1, :, :4] = 0.5                                  # ties across slices too
    for lam, l1 in [(0.3, 0.0), (2.0, 0.1)]:
        res = wsprox.prox_result(w, lam, l1=l1, method=method, axis=axis)
        ref = wsprox.prox_result(w, lam, l1=l1, method="pava", axis=axis)
        assert res.x.dtype == dtype and res.x.shape == w.shape
        np.testing.assert_array_equal(res.x, ref.x)
        np.testing.assert_array_equal(res.labels, ref.labels)
        np.testing.assert_array_equal(res.n_clusters, ref.n_clusters)
        assert wsprox.check_optimality(w, res.x, lam, l1=l1, axis=axis).optimal


# Round counts: what the paper's complexity counts.

@pytest.mark.parametrize("d", [2, 3, 10, 64, 257, 1000])
def test_imminent_collisions_linear_rounds_on_growing_cluster(d):
    w, lam = growing_cluster(d)
    res = wsprox.prox_result(w, lam, method="imminent_collisions")
    assert res.rounds >= d - 1
    assert res.n_clusters == 1
    assert wsprox.check_optimality(w, res.x, lam).optimal
    assert wsprox.prox_result(w, lam, method="end_collisions").rounds == 1


@pytest.mark.parametrize("d", [2, 3, 10, 64, 1000, 4096])
def test_search_collisions_polylog_on_growing_cluster(d):
    w, lam = growing_cluster(d)
    assert wsprox.prox_result(w, lam, method="search_collisions").rounds <= math.ceil(math.log2(d)) ** 2


@given(w=vectors(max_size=64), lam=lams())
def test_search_collisions_steps_bound(w, lam):
    bound = math.ceil(math.log2(w.size)) ** 2
    assert wsprox.prox_result(w, lam, method="search_collisions").rounds <= bound


@given(w=vectors(max_size=64, elements=st.integers(-800, 800).map(lambda v: v / 8)),
       lam=st.sampled_from([0.0, 0.125, 1.0, 3.0, 20.0]))
def test_end_collisions_one_iteration_per_cluster(w, lam):
    # Dyadic data, exact block values: the clusters are the exact ones, and
    # end collisions settles one of them per iteration.
    res = wsprox.prox_result(w, lam, method="end_collisions")
    assert res.rounds == res.n_clusters == len(set(prox_exact(w, lam, rational=True).tolist()))
    assert res.rounds == n_blocks(w, lam, "pava")[0]


@given(w=vectors(max_size=64), lam=lams())
def test_end_collisions_iterations_at_least_clusters(w, lam):
    # Any input: one iteration per block found, and the distinct output
    # values never outnumber the blocks.
    res = wsprox.prox_result(w, lam, method="end_collisions")
    assert res.n_clusters <= res.rounds <= w.size


@given(w=vectors(min_size=2, max_size=64))
def test_imminent_collisions_rounds_at_most_d(w):
    # Each round but the last merges at least one pair, so d rounds at most;
    # at lam = 0 on distinct sorted data nothing merges: one round.
    for lam in (0.0, 1.0, 1e3):
        blocks, rounds = n_blocks(w, lam, "imminent_collisions")
        assert 1 <= rounds <= w.size - blocks + 1

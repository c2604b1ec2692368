"""wsprox.dask.prox on a local cluster of two worker processes equals wsprox.prox."""
import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")

import wsprox
import wsprox.dask


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.mark.parametrize("shape, chunks, axis", [
    ((12, 40), (3, 40), 1),          # blocks span the rows
    ((12, 40), (5, 7), -1),          # they do not: rechunked along the axis
    ((30, 6), (7, 2), 0),            # columns
    ((4, 5, 9), (2, 5, 3), 2),       # a batch of batches
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rows_equal_prox(client, shape, chunks, axis, dtype):
    rng = np.random.default_rng(sum(shape))
    w = rng.normal(size=shape).astype(dtype)
    w.flat[::3] = 0.5                                     # ties
    x = wsprox.dask.prox(da.from_array(w, chunks=chunks), 0.7, l1=0.1, axis=axis)
    assert len(x.chunks[axis]) == 1
    assert [c for k, c in enumerate(x.chunks) if k != axis % w.ndim] == \
        [c for k, c in enumerate(da.from_array(w, chunks=chunks).chunks) if k != axis % w.ndim]
    got = client.compute(x).result()
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, wsprox.prox(w, 0.7, l1=0.1, axis=axis))


def test_one_chunk_vector(client):
    w = np.random.default_rng(1).normal(size=50)
    x = wsprox.dask.prox(da.from_array(w, chunks=-1), 2.0)
    np.testing.assert_array_equal(client.compute(x).result(), wsprox.prox(w, 2.0))


def test_integer_input_gives_float64():
    x = wsprox.dask.prox(da.arange(10, chunks=10), 1.0)
    assert x.dtype == np.float64
    np.testing.assert_array_equal(x.compute(), wsprox.prox(np.arange(10), 1.0))


def test_vector_of_several_chunks_is_refused():
    with pytest.raises(ValueError, match=r"one vector, which must be one chunk \(it has 3\)"):
        wsprox.dask.prox(da.ones(9, chunks=3), 1.0)


def test_bad_arguments():
    with pytest.raises(TypeError, match="darray must be a dask.array.Array, got ndarray"):
        wsprox.dask.prox(np.ones(3), 1.0)
    with pytest.raises(TypeError, match="darray must hold real numbers"):
        wsprox.dask.prox(da.ones(3, dtype=complex), 1.0)
    with pytest.raises(ValueError, match="lam"):
        wsprox.dask.prox(da.ones(3), -1.0)
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        wsprox.dask.prox(da.ones((3, 3)), 1.0, axis=2)


def test_nan_raises_when_computed(client):
    x = wsprox.dask.prox(da.from_array(np.array([[1.0, np.nan], [0.0, 1.0]]), chunks=1), 1.0, axis=1)
    with pytest.raises(ValueError, match="NaN"):
        client.compute(x).result()


@pytest.mark.parametrize("axis", [1, 2])
def test_a_nan_is_reported_at_its_index_in_the_whole_array(axis):
    w = np.zeros((6, 6, 6))
    w[5, 3, 4] = np.nan
    x = wsprox.dask.prox(da.from_array(w, chunks=3), 1.0, axis=axis)
    with pytest.raises(ValueError, match=r"darray contains NaN at index \(5, 3, 4\)"):
        x.compute(scheduler="sync")

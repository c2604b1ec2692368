"""The shared CPU passes around the collision kernels: settle and scatter."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import wsprox
from wsprox.bench import scipy_prox
from wsprox.cpu.pipeline import _settle


@given(seed=st.integers(0, 2**32 - 1), parts=st.integers(1, 5), n=st.integers(1, 3),
       l1=st.sampled_from([0.0, 0.3]))
def test_settle_is_a_running_max_across_parts(seed, parts, n, l1):
    # Blocks given out of order (as rounding may leave them): every part of a
    # row must end with the running max over the whole row, soft-thresholded.
    rng = np.random.default_rng(seed)
    d = 12
    x = rng.standard_normal((n, d))
    starts = np.tile(np.array([0, 2, 3, 7, 8, 11, 12, 12, 12, 12, 12, 12, 12]), (n, 1))
    counts = np.full(n, 6)
    order = np.stack([rng.permutation(d) for _ in range(n)])
    out = np.empty((n, d))
    _settle(x, starts, counts, order, 0.0, l1, parts, out)
    for r in range(n):
        means = [x[r, a:b].mean() for a, b in zip(starts[r, :6], starts[r, 1:7])]
        running = np.maximum.accumulate(means)
        soft = np.sign(running) * np.maximum(np.abs(running) - l1, 0.0)
        expected = np.repeat(soft, np.diff(starts[r, :7]))
        np.testing.assert_allclose(out[r, order[r]], expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, axis", [((70_001,), None), ((3, 30_000), 1)])
def test_large_inputs_agree_with_scipy_and_certificate(dtype, shape, axis, threads):
    # Big enough for the threaded ranking and settle; ties and last-bit neighbours.
    rng = np.random.default_rng(2)
    w = rng.standard_normal(shape).astype(dtype)
    w[..., ::7] = w[..., 3:4]
    w[..., 1::7] = np.nextafter(w[..., 1::7], np.inf)
    x = wsprox.prox(w, 0.05, axis=axis)
    assert x.dtype == dtype
    for wr, xr in zip(w.reshape(-1, shape[-1]), x.reshape(-1, shape[-1])):
        np.testing.assert_allclose(xr, scipy_prox(wr, 0.05), rtol=0, atol=16 * np.finfo(dtype).eps)
    assert wsprox.check_optimality(w, x, 0.05, axis=axis).optimal

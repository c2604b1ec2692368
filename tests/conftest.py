"""Shared test configuration: hypothesis profiles and input strategies."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# Numba compiles on first call: no per-example deadline. CI uses the default
# profile; HYPOTHESIS_PROFILE=thorough runs many more examples locally.
settings.register_profile(
    "default", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", deadline=None, max_examples=1000, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def vectors(min_size=1, max_size=40, dtype=np.float64, elements=None):
    """1-D finite float arrays, often with ties (values drawn from a small pool)."""
    if elements is None:
        width = 32 if dtype == np.float32 else 64
        elements = st.one_of(
            st.integers(-5, 5).map(float),
            st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=width),
        )
    return hnp.arrays(dtype, st.integers(min_size, max_size), elements=elements)


def lams(max_value=50.0):
    """Penalty weights, zero and tiny included."""
    return st.one_of(st.just(0.0), st.floats(1e-6, max_value, allow_nan=False))


@pytest.fixture(params=["serial", "threaded"])
def threads(request, monkeypatch):
    """Run the CPU kernels serial, then threaded (as they run on large inputs)."""
    from wsprox.core import pool

    if request.param == "threaded":
        monkeypatch.setattr(pool, "THREADED_MIN", 64)
    return request.param


def assert_ranked(rows, order, x):
    """``order`` sorts every row of ``rows`` and ``x`` holds the sorted values in float64."""
    n, d = rows.shape
    assert order.dtype == np.int64 and x.dtype == np.float64
    np.testing.assert_array_equal(np.sort(order, axis=1), np.broadcast_to(np.arange(d), (n, d)))
    np.testing.assert_array_equal(np.take_along_axis(rows, order, axis=1).astype(np.float64), x)
    np.testing.assert_array_equal(x, np.sort(rows, axis=1).astype(np.float64))


def assert_close_to_exact(x, w, lam, l1=0.0):
    """x equals the exact prox up to rounding of the values it is made of."""
    from wsprox.reference import prox_exact

    exact = prox_exact(w, lam, l1=l1)
    scale = max(np.abs(w).max(initial=0.0), lam, l1, 1e-300)
    eps = np.finfo(x.dtype).eps
    np.testing.assert_allclose(x, exact, rtol=0, atol=8 * eps * scale * max(1, np.sqrt(w.size)))


@pytest.fixture
def device_allocations(monkeypatch):
    """The device allocations made from here on (each a ``cuMemAlloc`` on a GPU):
    fresh work arrays of the thread's scratch and direct ``cuda.device_array`` calls."""
    from wsprox.cuda import _device

    made = []
    real = _device.workspace()._empty

    def counting(*args, **kwargs):
        made.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(_device.workspace(), "_empty", counting)
    monkeypatch.setattr(_device.cuda, "device_array", counting)
    return made

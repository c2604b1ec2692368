"""Calls cheap enough for every training step: what a call of :mod:`wsprox.cuda` costs the host.

Without the finiteness check (``check_finite=False``) a call on device input
never waits for the device nor reads from it; a call with the default method
makes at most 8 launches (a row of ``1e4`` and a batch of ``16 x 128``, at
the simulator's scale); a second call of a shape reuses the
plans of the first (:func:`wsprox.cuda._device.plan`) and allocates no
device memory. Counted on Numba's CUDA simulator (the README's test command
runs this folder with it) by patching it, or on a GPU by patching Numba's launches.
"""
import sys

import numpy as np
import pytest
from numba import cuda

sys.setswitchinterval(1e-4)

import wsprox
from wsprox import cuda as wcuda
from wsprox._prox import prox_labels
from wsprox.cuda import _device, backend, search_collisions, short_rows

METHODS = sorted(wcuda.SOLVERS)


@pytest.fixture(autouse=True)
def few_threads(monkeypatch):
    monkeypatch.setattr(_device, "THREADS_PER_BLOCK", 4)
    for name, value in (("THREADS", 16), ("ROW_THREADS", 4), ("ROWS_PER_BLOCK", 3)):
        monkeypatch.setattr(short_rows, name, value)


@pytest.fixture
def launches(monkeypatch):
    """The kernels launched from here on, as ``module.name``: every launch, whatever path it took."""
    made = []
    if _device.simulated():
        from numba.cuda.simulator import kernel

        real = kernel.FakeCUDAKernel.__call__

        def counting(self, *args):
            if not self._device and kernel._kernel_context is None:   # a launch, not a device function
                made.append(f"{self.fn.__module__}.{self.fn.__name__}")
            return real(self, *args)

        monkeypatch.setattr(kernel.FakeCUDAKernel, "__call__", counting)
    else:
        from numba.cuda import dispatcher

        real = dispatcher._LaunchConfiguration.__call__

        def counting(self, *args):
            made.append(f"{self.dispatcher.py_func.__module__}.{self.dispatcher.py_func.__name__}")
            return real(self, *args)

        monkeypatch.setattr(dispatcher._LaunchConfiguration, "__call__", counting)
    return made


@pytest.fixture
def waits(monkeypatch):
    """Every way a call could wait for the device or read from it, as the names called from here on."""
    seen = []

    def spy(owner, name):
        real = getattr(owner, name)

        def wrapper(*args, **kwargs):
            seen.append(name)
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)

    spy(_device.cuda, "synchronize")
    spy(type(_device.cuda.stream()), "synchronize")
    spy(type(cuda.to_device(np.ones(1))), "copy_to_host")
    spy(backend, "_read_back")
    spy(backend.BACKEND, "to_host")
    return seen


def inputs():
    """A row and a batch (rows along axis 1), as (host array, axis)."""
    rng = np.random.default_rng(0)
    return [(rng.normal(size=13), None), (rng.integers(-3, 4, size=(3, 9)).astype(np.float32), 1)]


@pytest.mark.parametrize("method", ["auto", *METHODS])
@pytest.mark.parametrize("max_d", [8, short_rows.MAX_D], ids=["whole-device", "fused-short-rows"])
def test_without_the_check_a_call_never_waits_for_the_device(method, max_d, waits, monkeypatch):
    monkeypatch.setattr(short_rows, "MAX_D", max_d)
    cases = [(w, axis, cuda.to_device(w)) for w, axis in inputs()]
    bad = np.array([1.0, np.nan, 2.0, np.inf])
    results = [wsprox.prox(dw, 0.7, l1=0.1, method=method, axis=axis, check_finite=False) for w, axis, dw in cases]
    labelled = [prox_labels(dw, 0.7, l1=0.1, method=method, axis=axis, check_finite=False)
                for w, axis, dw in cases]
    nan = wsprox.prox(cuda.to_device(bad), 0.7, method=method, check_finite=False)
    assert waits == []
    for (w, axis, _), x, (x2, labels) in zip(cases, results, labelled):
        want = wsprox.prox_result(w, 0.7, l1=0.1, axis=axis, backend="cpu")
        np.testing.assert_array_equal(x.copy_to_host(), want.x)
        np.testing.assert_array_equal(x2.copy_to_host(), want.x)
        np.testing.assert_array_equal(labels.copy_to_host(), want.labels)
    assert np.isnan(nan.copy_to_host()).all()


def test_prox_result_reads_back_only_its_counts(waits):
    w = cuda.to_device(np.array([0.0, 1.0, 10.0]))
    res = wsprox.prox_result(w, 2.0, check_finite=False)
    assert res.n_clusters == 2 and waits.count("to_host") == 2 and waits.count("_read_back") == 2
    del waits[:]
    wsprox.prox(w, 2.0)                    # the check: one read back of its two numbers
    assert waits.count("_read_back") == 1


@pytest.mark.parametrize("shape, axis, kernels", [
    # A row of 40 in tiles of 8: 5 tiles and 3 merge levels, as a row of 1e4 in tiles of 2048.
    ((40,), None, ["backend._weigh", "sort._bitonic", "search_collisions._tiles", "search_collisions._merge",
                   "pipeline._settle"]),
    ((16, 128), 1, ["backend._weigh", "short_rows._fused"]),
], ids=["row", "batch"])
def test_a_call_with_the_default_method_makes_at_most_8_launches(shape, axis, kernels, launches, monkeypatch):
    monkeypatch.setattr(short_rows, "MAX_D", 16 if axis is None else short_rows.MAX_D)
    monkeypatch.setattr(search_collisions, "TILE", 8)
    monkeypatch.setattr(search_collisions, "THREADS", 2)
    w = np.random.default_rng(1).normal(size=shape)
    dw = cuda.to_device(w)
    for check_finite in (True, False):
        del launches[:]
        x = wsprox.prox(dw, 0.3, axis=axis, check_finite=check_finite)
        assert [name.removeprefix("wsprox.cuda.") for name in launches] == kernels
        assert len(launches) <= 8
        np.testing.assert_allclose(x.copy_to_host(), wsprox.prox(w, 0.3, axis=axis), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["end_collisions", "imminent_collisions"])
def test_one_launch_per_solve_and_per_settle(method, launches):
    # The whole loop of a solver is one cooperative launch, and so are the sort and the settle
    # (prox_rows with host numbers for lam and l1 writes their weights first).
    w = np.random.default_rng(2).normal(size=(3, 7))
    rows, out = cuda.to_device(w), cuda.device_array(w.shape)
    del launches[:]
    wcuda.prox_rows(wcuda.SOLVERS[method], rows, 0.7, 0.0, out)
    assert [name.removeprefix("wsprox.cuda.") for name in launches] == [
        "weights._fixed", "sort._bitonic", f"{method}._kernel", "pipeline._settle"]
    np.testing.assert_allclose(out.copy_to_host(), wsprox.prox(w, 0.7, axis=1, backend="cpu"), atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_a_second_call_of_a_shape_reuses_its_plans_and_allocates_nothing(method, monkeypatch, request):
    monkeypatch.setattr(short_rows, "MAX_D", 8)
    for w, axis in inputs():
        dw, out = cuda.to_device(w), cuda.to_device(np.zeros_like(w))
        wsprox.prox(dw, 0.7, method=method, axis=axis, out=out, check_finite=False)      # builds
        built = _device.plans_built()
        allocations = request.getfixturevalue("device_allocations")
        for check_finite in (False, True):
            assert wsprox.prox(dw, 0.7, method=method, axis=axis, out=out, check_finite=check_finite) is out
        assert _device.plans_built() == built and allocations == []
        np.testing.assert_array_equal(out.copy_to_host(), wsprox.prox(w, 0.7, axis=axis))


def test_plans_follow_the_shape_and_the_patched_geometry(monkeypatch):
    monkeypatch.setattr(short_rows, "MAX_D", 8)
    w = np.random.default_rng(3).normal(size=(2, 12))
    dw = cuda.to_device(w)
    wsprox.prox(dw, 0.5, method="search_collisions", axis=1)
    built = _device.plans_built()
    wsprox.prox(cuda.to_device(w[:1]), 0.5, method="search_collisions", axis=1)   # another shape: new plans
    assert _device.plans_built() > built
    built = _device.plans_built()
    monkeypatch.setattr(search_collisions, "TILE", 4)                               # another geometry too
    monkeypatch.setattr(search_collisions, "THREADS", 2)
    x = wsprox.prox(dw, 0.5, method="search_collisions", axis=1)
    assert _device.plans_built() == built + 1
    np.testing.assert_allclose(x.copy_to_host(), wsprox.prox(w, 0.5, axis=1), rtol=1e-12, atol=1e-12)
    wsprox.release_workspace()                                                      # frees the plans too
    assert _device.workspace().nbytes == 0

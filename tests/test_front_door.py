"""One front door: the same validation and guarantees on every backend and kind of array.

Every test takes ``where``: the CPU backend on host arrays here, and, in the
simulator run of ``tests/test_cuda.py`` (``NUMBA_ENABLE_CUDASIM=1``), also
the CUDA backend on host arrays and on device arrays.
"""
import copy
import pickle
import re
import threading

import numpy as np
import pytest
from numba import cuda

import wsprox
from wsprox._backend import is_device_array
from wsprox.reference import prox_exact

KINDS = [("cpu", "host")] + ([("cuda", "host"), ("cuda", "device")] if cuda.is_available() else [])


class Where:
    """A backend and where its input lives."""

    def __init__(self, backend, data):
        self.backend, self.data = backend, data

    def put(self, a):
        return cuda.to_device(np.array(a, order="C")) if self.data == "device" else a

    def get(self, x):
        return x.copy_to_host() if self.data == "device" else x

    def prox(self, w, lam, **kw):
        return self.get(wsprox.prox(self.put(w), lam, backend=self.backend, **kw))

    def result(self, w, lam, **kw):
        res = wsprox.prox_result(self.put(w), lam, backend=self.backend, **kw)
        return self.get(res.x), self.get(res.labels), res

    def __repr__(self):
        return f"{self.backend}-{self.data}"


@pytest.fixture(params=KINDS, ids=[f"{b}-{d}" for b, d in KINDS])
def where(request):
    return Where(*request.param)


@pytest.mark.parametrize("magnitude", [1e300, 1.7e308])
def test_near_overflow_is_exact_on_every_path(where, magnitude):
    # Finite inputs whose block sums overflow float64 unless scaled (the device
    # path used to return inf, or errors of a few percent).
    w = magnitude * np.array([1.0, -1.0, 0.999, 0.999, 0.25, -0.5, 1.0, 0.0])
    for lam in (0.0, magnitude / 4, magnitude):
        x, labels, _ = where.result(w, lam)
        assert np.isfinite(x).all()
        exact = np.array(prox_exact(w, lam), dtype=float)
        np.testing.assert_allclose(x, exact, rtol=1e-13, atol=1e-15 * magnitude)
        np.testing.assert_array_equal(labels, wsprox.prox_result(w, lam).labels)
    rows = np.stack([w, w[::-1] / 2])
    x = where.prox(rows, magnitude / 3, axis=0)       # a scaled copy of a transposed batch
    want = np.array([prox_exact(col, magnitude / 3) for col in rows.T], dtype=float).T
    np.testing.assert_allclose(x, want, rtol=1e-13, atol=1e-15 * magnitude)


def test_lam_zero_is_the_identity_on_ties(where):
    # Tied entries whose float64 sums divided by their count are not them again
    # (9 * -9.190312436384449 / 9 != -9.190312436384449).
    w = np.r_[np.full(9, -9.190312436384449), np.full(7, 9.355999898403429), 0.1, 0.1, 0.1, 1e-17, 1e-17]
    w = np.random.default_rng(4).permutation(w)
    for a in (w, w.astype(np.float32)):
        x = where.prox(a, 0.0)
        assert x.dtype == a.dtype
        np.testing.assert_array_equal(x, a)
        np.testing.assert_array_equal(where.prox(np.stack([a, a[::-1]]), 0.0, axis=1), np.stack([a, a[::-1]]))


def test_backends_agree_bit_for_bit_on_exactly_representable_inputs(where):
    # Integers and dyadic lam: every block sum is exact, so every path rounds the same numbers.
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        w = rng.integers(-8, 9, size=(4, 13)).astype(dtype)
        for lam, l1 in ((0.0, 0.0), (2.0, 0.0), (6.5, 0.25), (64.0, 1.0)):
            want = wsprox.prox_result(w, lam, l1=l1, axis=1, backend="cpu")
            x, labels, _ = where.result(w, lam, l1=l1, axis=1)
            np.testing.assert_array_equal(x, want.x)
            np.testing.assert_array_equal(labels, want.labels)


BAD_CALLS = [
    # (w, lam, keywords, error, message)
    ([0.0, np.nan, 1.0], 1.0, {}, ValueError, "w contains NaN at index 1; all entries must be finite"),
    ([[0.0, 1.0], [-np.inf, 1.0]], 1.0, {}, ValueError, r"w contains -inf at index \(1, 0\)"),
    ([[1.0, np.nan], [np.inf, 2.0]], 1.0, {"axis": 0}, ValueError, r"NaN at index \(0, 1\)"),  # C order
    ([1.0, 2.0], -1.0, {}, ValueError, "lam must be non-negative, got -1.0"),
    ([1.0, 2.0], np.inf, {}, ValueError, "lam must be finite, got inf"),
    ([1.0, 2.0], 10**400, {}, ValueError, "lam must be finite, got an integer too large for a float"),
    ([1.0, 2.0], "1", {}, TypeError, "lam must be a real scalar, got str"),
    ([1.0, 2.0], np.ones(2), {}, TypeError, r"lam must be a real scalar, got an array of shape \(2,\)"),
    ([1.0, 2.0], 1.0, {"l1": np.nan}, ValueError, "l1 must be finite"),
    ([1.0, 2.0], 1.0, {"method": "nope"}, ValueError, "unknown method 'nope'; valid choices are 'auto', 'pava'"),
    ([1.0, 2.0], 1.0, {"axis": 1}, ValueError, "axis 1 is out of bounds for an array of dimension 1"),
    ([1.0, 2.0], 1.0, {"axis": 0.5}, TypeError, "axis must be None or an integer, got float"),
    ([1.0, 2.0], 1.0, {"warm": object()}, TypeError, "warm must be a wsprox.ProxState, got object"),
    (np.ones(2, dtype=complex), 1.0, {}, TypeError, "w must hold real numbers .* got dtype complex128"),
    (np.array([[0, 1], [np.inf, 0]], dtype=np.float16), 1.0, {"axis": 0}, ValueError, r"\+inf at index \(1, 0\)"),
]


@pytest.mark.parametrize("w, lam, keywords, error, message", BAD_CALLS)
def test_every_path_gives_the_same_errors(where, w, lam, keywords, error, message):
    w = np.asarray(w)
    with pytest.raises(error, match=message):
        wsprox.prox(where.put(w), lam, backend=where.backend, **keywords)
    with pytest.raises(error, match=message):
        wsprox.prox_result(where.put(w), lam, backend=where.backend, **keywords)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_without_the_check_nan_or_infinity_gives_nan_everywhere(where, bad):
    # check_finite=False: no error, and never a finite number where the input was not finite.
    w = np.array([[0.0, 1.0, 10.0, 3.0], [2.0, bad, 1.0, -4.0]])
    for dtype in (np.float64, np.float32, np.float16):
        for axis in (None, 1, 0):
            x, labels, res = where.result(w.astype(dtype), 2.0, l1=0.5, axis=axis, check_finite=False)
            assert x.dtype == dtype and np.isnan(x).all()
            assert (labels == 0).all() and (np.asarray(res.n_clusters) == 1).all()   # one cluster a slice
            assert np.isnan(where.prox(w.astype(dtype), 2.0, axis=axis, check_finite=False)).all()
    data = where.put(w.copy())
    wsprox.prox(data, 1.0, backend=where.backend, out=data, check_finite=False)    # in place
    assert np.isnan(where.get(data)).all()
    with pytest.raises(ValueError, match="w contains"):
        where.prox(w, 2.0, check_finite=True)


def test_without_the_check_finite_inputs_give_the_same_prox(where):
    rng = np.random.default_rng(7)
    for w, lam in ((rng.normal(size=(3, 11)), 0.7), (1e308 * np.array([[1.0, -1.0, 0.5, 0.5]]), 1e308),
                   (rng.integers(-3, 4, size=(2, 9)).astype(np.float32), 0.0)):
        for axis in (None, 1):
            x, labels, res = where.result(w, lam, l1=0.1, axis=axis, check_finite=False)
            want_x, want_labels, want = where.result(w, lam, l1=0.1, axis=axis)
            np.testing.assert_array_equal(x, want_x)
            np.testing.assert_array_equal(labels, want_labels)
            np.testing.assert_array_equal(res.n_clusters, want.n_clusters)


def test_check_finite_must_be_a_bool(where):
    for call in (wsprox.prox, wsprox.prox_result):
        with pytest.raises(TypeError, match="check_finite must be a bool, got int"):
            call(where.put(np.ones(3)), 1.0, backend=where.backend, check_finite=1)


def test_out_is_checked_before_anything_is_computed(where):
    w = where.put(np.array([3.0, 1.0, 2.0]))
    like = where.put if where.data == "device" else np.asarray
    for out, error, message in [
        (like(np.ones(4)), ValueError, r"out has shape \(4,\), expected \(3,\)"),
        (like(np.ones(3, dtype=np.float32)), TypeError, "out has dtype float32, expected float64"),
    ]:
        with pytest.raises(error, match=message):
            wsprox.prox(w, 1.0, backend=where.backend, out=out)
    wrong_kind = [1.0, 2.0, 3.0] if where.data == "host" else np.ones(3)
    with pytest.raises(TypeError, match="out must be a"):
        wsprox.prox(w, 1.0, backend=where.backend, out=wrong_kind)


@pytest.mark.parametrize("axis, lam, l1", [(None, 0.8, 0.0), (1, 2.5, 0.3), (0, 40.0, 1.0)])
def test_float16_in_float16_out_computed_in_float32(where, axis, lam, l1):
    # float16 used to come back as float64; now it is proxed in float32 and rounded once.
    w = (4 * np.random.default_rng(5).standard_normal((3, 7))).astype(np.float16)
    want_x, want_labels, _ = where.result(w.astype(np.float32), lam, l1=l1, axis=axis)
    x, labels, _ = where.result(w, lam, l1=l1, axis=axis)
    assert x.dtype == np.float16 and labels.dtype == np.int64
    np.testing.assert_array_equal(x, want_x.astype(np.float16))
    np.testing.assert_array_equal(labels, want_labels)
    assert where.prox(w, lam, l1=l1, axis=axis).dtype == np.float16
    assert wsprox.check_optimality(w, x, lam, l1=l1, axis=axis).optimal   # to float16's rounding
    np.testing.assert_array_equal(where.prox(w, 0.0), w)                  # lam = 0 is the identity
    data = where.put(w.copy())                                             # in place, out float16
    assert wsprox.prox(data, lam, l1=l1, axis=axis, backend=where.backend, out=data) is data
    np.testing.assert_array_equal(where.get(data), x)
    like = where.put if where.data == "device" else np.asarray
    with pytest.raises(TypeError, match="out has dtype float32, expected float16"):
        wsprox.prox(where.put(w), lam, backend=where.backend, out=like(np.empty(w.shape, np.float32)))


def test_float16_equal_values_share_one_label(where):
    # Clusters of the float32 prox that round to one float16 value are one cluster.
    x, labels, res = where.result(np.array([0, 1, 1 + 2**-10], np.float16), 0.6 * 2**-10)
    assert x[1] == x[2] and labels.tolist() == [0, 1, 1] and res.n_clusters == 2
    rng = np.random.default_rng(3)
    w = (1 + rng.integers(0, 16, (60, 9)) * 2.0**-10).astype(np.float16)    # float16's spacing near 1
    x, labels, res = where.result(w, 0.002, axis=1)
    same_value = x[:, :, None] == x[:, None, :]
    np.testing.assert_array_equal(same_value, labels[:, :, None] == labels[:, None, :])
    np.testing.assert_array_equal(res.n_clusters, [np.unique(row).size for row in x])
    # The data exercise it: rounding merged clusters of the float32 prox in some rows.
    assert (res.n_clusters < where.result(w.astype(np.float32), 0.002, axis=1)[2].n_clusters).any()


def test_float16_near_its_largest_value_is_exact_to_its_rounding(where):
    w = np.array([65504.0, -65504.0, 6e4, 6e4, 1.0, -3e4, 0.0], dtype=np.float16)
    for lam in (0.0, 1e4, 6e4):
        x = where.prox(w, lam)
        assert x.dtype == np.float16 and np.isfinite(x).all()
        exact = np.array(prox_exact(w, lam), dtype=float)
        np.testing.assert_allclose(x, exact, rtol=2.0 ** -11, atol=0)


def test_out_in_place_on_a_batch_along_the_first_axis(where):
    w = np.random.default_rng(1).integers(-3, 4, size=(5, 3)).astype(np.float32)
    want = wsprox.prox(w, 1.5, axis=0, backend="cpu")
    data = where.put(w.copy())
    assert wsprox.prox(data, 1.5, axis=0, backend=where.backend, out=data) is data
    np.testing.assert_array_equal(where.get(data), want)


def test_inputs_are_never_modified(where):
    w = np.array([[4.0, 0.0, 1.0, 4.0], [1e308, -1e308, 3.0, 3.0]])
    data = where.put(w.copy())
    for axis in (None, 0, 1):
        wsprox.prox_result(data, 2.0, axis=axis, backend=where.backend)
        np.testing.assert_array_equal(where.get(data), w)


def test_empty_and_scalar_inputs(where):
    for shape, axis in (((0,), None), ((2, 0), 1), ((0, 3), 1), ((), None)):
        w = np.full(shape, 3.0)
        x, labels, _ = where.result(w, 1.0, axis=axis)
        assert x.shape == labels.shape == shape
        np.testing.assert_array_equal(x, w)


def test_warm_works_or_says_why(where):
    state = wsprox.ProxState()
    w = np.random.default_rng(2).standard_normal(50)
    if where.backend == "cpu":
        np.testing.assert_array_equal(where.prox(w, 0.5, warm=state), where.prox(w, 0.5))
        assert state.order is not None
    else:  # it used to be ignored
        with pytest.raises(ValueError, match="warm: a ProxState keeps a host order"):
            where.prox(w, 0.5, warm=state)


def test_one_state_shared_by_threads_gives_every_thread_its_prox(monkeypatch):
    # Two threads alternating on one state used to get each other's order
    # (errors of order 1 at d = 2**17); now their calls take turns.
    from wsprox.core import pool

    monkeypatch.setattr(pool, "THREADED_MIN", 1 << 30)   # serial kernels: threads really interleave
    rng = np.random.default_rng(3)
    d = 1 << 17
    inputs = [rng.standard_normal(d) * (k + 1) for k in range(4)]
    wants = [wsprox.prox(w, 0.5) for w in inputs]
    state = wsprox.ProxState()
    errors = []

    def work(k):
        for _ in range(6):
            got = wsprox.prox(inputs[k], 0.5, warm=state)
            errors.append(float(np.abs(got - wants[k]).max()))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 24 and max(errors) == 0.0


def test_a_state_pickles_and_copies_cold():
    state = wsprox.ProxState()
    wsprox.prox(np.arange(10.0), 1.0, warm=state)
    for fresh in (pickle.loads(pickle.dumps(state)), copy.deepcopy(state)):
        assert fresh.order is None and fresh.workspace.nbytes == 0 and not fresh.lock.locked()
        np.testing.assert_array_equal(wsprox.prox(np.arange(10.0), 1.0, warm=fresh),
                                      wsprox.prox(np.arange(10.0), 1.0))


def test_one_function_decides_what_a_device_array_is():
    assert not is_device_array(np.ones(3)) and not is_device_array([1.0]) and not is_device_array(3.0)
    if cuda.is_available():
        assert is_device_array(cuda.to_device(np.ones(3)))
    torch = pytest.importorskip("torch")
    assert not is_device_array(torch.ones(3))


def test_cpu_tensors_in_cpu_tensors_out():
    torch = pytest.importorskip("torch")
    t = torch.tensor([[3.0, -3.0], [1.0, 2.0]])
    x = wsprox.prox(t, 1.0, axis=1)
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32
    np.testing.assert_array_equal(x.numpy(), wsprox.prox(t.numpy(), 1.0, axis=1))
    res = wsprox.prox_result(t, 1.0, axis=1)
    assert isinstance(res.labels, torch.Tensor) and res.labels.dtype == torch.int64
    assert wsprox.prox(t, 1.0, axis=1, out=t) is t
    np.testing.assert_array_equal(t.numpy(), x.numpy())
    p = torch.nn.Parameter(torch.tensor([0.0, 1.0, 10.0]))
    with pytest.raises(TypeError, match=re.escape("w is a tensor that requires grad and wsprox.prox is not "
                                                  "differentiable: call it under torch.no_grad()")):
        wsprox.prox(p, 2.0)
    with torch.no_grad():
        assert wsprox.prox(p, 2.0, out=p) is p
    assert p.tolist() == [1.5, 1.5, 8.0]

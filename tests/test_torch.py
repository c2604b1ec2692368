"""wsprox.torch: in-place prox of tensors, proximal SGD, differentiable R, sharing tools."""
import io
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

import wsprox
import wsprox.torch as wt
from conftest import lams, vectors
from wsprox.penalty import sorted_weights

NP_DTYPE = {torch.float32: np.float32, torch.float64: np.float64}


# ---------------------------------------------------------------- prox_

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@given(w=vectors(), lam=lams(), l1=st.sampled_from([0.0, 0.1, 3.0]))
def test_prox_in_place_matches_wsprox_prox(dtype, w, lam, l1):
    w = w.astype(NP_DTYPE[dtype])
    t = torch.tensor(w)
    ptr = t.data_ptr()
    assert wt.prox_(t, lam, l1=l1) is t
    assert t.data_ptr() == ptr and t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), wsprox.prox(w, lam, l1=l1))


def test_prox_of_contiguous_cpu_tensor_is_zero_copy(monkeypatch):
    # The kernels must receive a NumPy view of the tensor's own storage, as input and out.
    t = torch.randn(5, 7, dtype=torch.float64)
    seen = []

    def spy(w, lam, *, out, **options):
        seen.append((w.__array_interface__["data"][0], out.__array_interface__["data"][0]))
        return wsprox.prox(w, lam, out=out, **options)

    monkeypatch.setattr(wt, "_prox", spy)
    wt.prox_(t, 0.3, axis=1)
    assert seen == [(t.data_ptr(), t.data_ptr())]


def test_prox_of_parameter_with_axis_and_autograd_sees_the_write():
    p = torch.nn.Parameter(torch.randn(4, 6, dtype=torch.float64))
    before = p.detach().numpy().copy()
    loss = (p * p).sum()            # saves p for backward
    wt.prox_(p, 0.7, axis=1)
    assert p.requires_grad and p.grad is None
    np.testing.assert_array_equal(p.detach().numpy(), wsprox.prox(before, 0.7, axis=1))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


@pytest.mark.parametrize("make_view", [
    lambda base: base[:, ::2],      # strided columns
    lambda base: base.t(),          # transposed
], ids=["strided", "transposed"])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_prox_of_non_contiguous_view_writes_through(make_view, axis):
    base = torch.randn(6, 8, dtype=torch.float32)
    original = base.clone()
    view = make_view(base)
    assert not view.is_contiguous()
    expected = wsprox.prox(view.numpy().copy(), 0.5, axis=axis)
    wt.prox_(view, 0.5, axis=axis)
    assert view.dtype == torch.float32
    np.testing.assert_array_equal(make_view(base).numpy(), expected)
    if view.numel() < base.numel():   # entries outside the view untouched
        np.testing.assert_array_equal(base[:, 1::2].numpy(), original[:, 1::2].numpy())


@pytest.mark.parametrize("bad, error, match", [
    (torch.ones(3, dtype=torch.float16), TypeError, "float32 or float64"),
    (torch.ones(3, dtype=torch.bfloat16), TypeError, "float32 or float64"),
    (torch.ones(3, dtype=torch.int64), TypeError, "float32 or float64"),
    ([1.0, 2.0], TypeError, "torch.Tensor"),
    (torch.eye(3).to_sparse(), TypeError, "dense"),
    (torch.tensor([1.0, float("nan")]), ValueError, "NaN at index 1"),
])
def test_prox_rejects_bad_tensors(bad, error, match):
    with pytest.raises(error, match=match):
        wt.prox_(bad, 1.0)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"lam": -1.0}, ValueError, "lam must be non-negative"),
    ({"lam": 1.0, "l1": float("inf")}, ValueError, "l1 must be finite"),
    ({"lam": 1.0, "method": "magic"}, ValueError, "unknown method"),
    ({"lam": 1.0, "axis": 2}, ValueError, "axis 2 is out of bounds"),
])
def test_prox_rejects_bad_options(kwargs, error, match):
    t = torch.randn(2, 3)
    before = t.clone()
    with pytest.raises(error, match=match):
        wt.prox_(t, **kwargs)
    assert torch.equal(t, before)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_prox_of_cuda_tensor_stays_on_device():
    t = torch.randn(3, 50, device="cuda")
    expected = wsprox.prox(t.cpu().numpy(), 0.4, axis=1)
    ptr = t.data_ptr()
    wt.prox_(t, 0.4, axis=1)
    assert t.is_cuda and t.data_ptr() == ptr and t.dtype == torch.float32
    np.testing.assert_allclose(t.cpu().numpy(), expected, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- penalty

@given(w=vectors())
def test_penalty_value_and_gradient(w):
    t = torch.tensor(w, requires_grad=True)
    r = wt.penalty(t)
    assert r.shape == () and r.dtype == torch.float64
    np.testing.assert_allclose(r.item(), wsprox.penalty(w), rtol=1e-12, atol=1e-9)
    r.backward()
    g = t.grad.numpy()
    # Whatever the ties, the gradient gives the sorted entries c_1..c_d (a subgradient).
    np.testing.assert_array_equal(np.sort(g), sorted_weights(w.size))


@given(w=vectors(min_size=2).filter(lambda w: np.unique(w).size == w.size))
def test_penalty_gradient_is_subgradient_for_distinct_entries(w):
    t = torch.tensor(w, requires_grad=True)
    wt.penalty(t).backward()
    np.testing.assert_array_equal(t.grad.numpy(), wsprox.subgradient(w))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_penalty_along_axis_keeps_dtype(axis):
    w = np.random.default_rng(1).normal(size=(4, 7)).astype(np.float32)
    r = wt.penalty(torch.tensor(w), axis=axis)
    assert r.dtype == torch.float32
    np.testing.assert_allclose(r.numpy(), wsprox.penalty(w, axis=axis), rtol=1e-5)


def test_penalty_of_short_vectors_is_zero_and_bad_input_raises():
    assert wt.penalty(torch.tensor(2.0)).item() == 0.0
    assert wt.penalty(torch.tensor([2.0])).item() == 0.0
    assert wt.penalty(torch.zeros(0)).item() == 0.0
    with pytest.raises(TypeError, match="floating point"):
        wt.penalty(torch.arange(3))
    with pytest.raises(ValueError, match="out of bounds"):
        wt.penalty(torch.ones(3), axis=1)
    with pytest.raises(TypeError, match="torch.Tensor"):
        wt.penalty(np.ones(3))


# ---------------------------------------------------------------- clusters, tie_, sharing_stats

@given(w=vectors())
def test_clusters_number_distinct_values_in_increasing_order(w):
    labels = wt.clusters(torch.tensor(w).reshape(1, -1))
    assert labels.dtype == torch.int64 and labels.shape == (1, w.size)
    np.testing.assert_array_equal(labels.numpy().ravel(), np.unique(w, return_inverse=True)[1])


@given(w=vectors(), lam=lams())
def test_clusters_of_the_prox_are_its_shared_weights(w, lam):
    res = wsprox.prox_result(w, lam)
    np.testing.assert_array_equal(wt.clusters(torch.tensor(res.x)).numpy(), res.labels)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(w=vectors(), lam=lams())
def test_tie_with_own_clusters_round_trips_exactly(dtype, w, lam):
    t = torch.tensor(wsprox.prox(w.astype(dtype), lam))   # a tensor with shared values
    before = t.clone()
    labels = wt.clusters(t)
    assert wt.tie_(t, labels) is t
    assert torch.equal(t, before)
    assert torch.equal(wt.clusters(t), labels)


@given(w=vectors(min_size=2), data=st.data())
def test_tie_sets_each_cluster_to_its_mean(w, data):
    labels = np.array(data.draw(st.lists(st.integers(0, 3), min_size=w.size, max_size=w.size)))
    t = torch.tensor(w)
    wt.tie_(t, torch.tensor(labels))
    for k in np.unique(labels):
        members = t.numpy()[labels == k]
        assert np.all(members == members[0])
        np.testing.assert_allclose(members[0], w[labels == k].mean(), rtol=1e-12, atol=1e-12)
    # The result shares at most one value per label, so its clusters merge labels, never split them.
    found = wt.clusters(t).numpy()
    for k in np.unique(labels):
        assert np.unique(found[labels == k]).size == 1


@pytest.mark.parametrize("tensor, labels, error, match", [
    (torch.ones(3), torch.zeros(4, dtype=torch.int64), ValueError, "shape"),
    (torch.ones(3), torch.zeros(3), TypeError, "integer"),
    (torch.ones(3), torch.tensor([0, -1, 0]), ValueError, "non-negative"),
    (torch.ones(3, dtype=torch.int64), torch.zeros(3, dtype=torch.int64), TypeError, "floating point"),
    (torch.ones(3), [0, 0, 0], TypeError, "labels must be a torch.Tensor"),
])
def test_tie_rejects_bad_arguments(tensor, labels, error, match):
    with pytest.raises(error, match=match):
        wt.tie_(tensor, labels)


def test_sharing_stats():
    one_value = wt.sharing_stats(torch.full((10,), 0.25, dtype=torch.float64))
    assert one_value == wt.SharingStats(n_distinct=1, zero_fraction=0.0, compression_ratio=10.0)
    # 3 distinct float32 values over 8 entries: 8*32 bits vs 3*32 + 8*2.
    s = wt.sharing_stats(torch.tensor([0.0, 0.0, 1.5, 1.5, 1.5, -2.0, 0.0, 1.5]))
    assert (s.n_distinct, s.zero_fraction) == (3, 3 / 8)
    assert s.compression_ratio == pytest.approx(256 / 112)
    assert wt.sharing_stats(torch.arange(64.0)).compression_ratio < 1   # nothing shared
    with pytest.raises(ValueError, match="empty"):
        wt.sharing_stats(torch.zeros(0))


# ---------------------------------------------------------------- WeightSharingProx

def _least_squares(seed=0, n=200, d=12):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ np.repeat([-1.0, 0.5, 2.0], d // 3) + 0.3 + 0.5 * rng.normal(size=n)
    return X, y


def _cvxpy_minimiser(X, y, strength):
    # argmin 1/(2n) ||X w + b - y||^2 + strength * R(w), R in its pairwise form.
    cp = pytest.importorskip("cvxpy")
    n, d = X.shape
    w, b = cp.Variable(d), cp.Variable()
    i, j = np.triu_indices(d, k=1)
    objective = 0.5 / n * cp.sum_squares(X @ w + b - y) + strength / (d - 1) * cp.norm1(w[i] - w[j])
    problem = cp.Problem(cp.Minimize(objective))
    problem.solve(solver="SCS", eps_abs=1e-10, eps_rel=1e-10, max_iters=1_000_000)
    assert problem.status == cp.OPTIMAL
    return w.value, float(b.value)


def test_proximal_sgd_converges_to_the_cvxpy_minimiser():
    X, y = _least_squares()
    strength = 0.3
    w_star, b_star = _cvxpy_minimiser(X, y, strength)
    A = np.c_[X, np.ones(len(y))]
    lipschitz = np.linalg.eigvalsh(A.T @ A / len(y))[-1]

    torch.manual_seed(0)
    model = torch.nn.Linear(X.shape[1], 1, dtype=torch.float64)
    opt = torch.optim.SGD(model.parameters(), lr=1.0 / lipschitz)
    wsp = wt.WeightSharingProx([model.weight], strength, optimizer=opt)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for _ in range(60):
        opt.zero_grad()
        (0.5 * (model(Xt).squeeze(1) - yt).pow(2).mean()).backward()
        opt.step()
        wsp.step()
    w = model.weight.detach().numpy().ravel()
    np.testing.assert_allclose(w, w_star, atol=1e-8)
    assert model.bias.item() == pytest.approx(b_star, abs=1e-8)
    # The same weights are shared (exactly equal in the iterate, equal to solver accuracy in cvxpy's).
    np.testing.assert_array_equal(w[:, None] == w[None, :], np.abs(w_star[:, None] - w_star[None, :]) < 1e-7)
    assert wt.sharing_stats(model.weight).n_distinct < X.shape[1]


def _tensors(*shapes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(*s, generator=g, dtype=torch.float64)) for s in shapes]


def _snapshot(params):
    return [p.detach().numpy().copy() for p in params]


def test_groups_use_their_own_strength_l1_axis_and_lr():
    a, b, c = _tensors((5,), (3, 4), (6,))
    opt = torch.optim.SGD([{"params": [a, c], "lr": 0.1}, {"params": [b], "lr": 0.5}], lr=0.1)
    wsp = wt.WeightSharingProx(
        [{"params": [a]}, {"params": [b], "strength": 2.0, "axis": 1}, {"params": c, "l1": 0.4}],
        strength=1.0, optimizer=opt,
    )
    a0, b0, c0 = _snapshot([a, b, c])
    wsp.step()
    np.testing.assert_array_equal(a.detach().numpy(), wsprox.prox(a0, 0.1 * 1.0))
    np.testing.assert_array_equal(b.detach().numpy(), wsprox.prox(b0, 0.5 * 2.0, axis=1))
    np.testing.assert_array_equal(c.detach().numpy(), wsprox.prox(c0, 0.1 * 1.0, l1=0.1 * 0.4))


def test_step_follows_the_learning_rate_schedule():
    (p,) = _tensors((8,))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.25)
    wsp = wt.WeightSharingProx([p], 0.8, optimizer=opt)
    opt.step()
    sched.step()                      # lr is now 0.25
    before = _snapshot([p])[0]
    wsp.step()
    np.testing.assert_array_equal(p.detach().numpy(), wsprox.prox(before, 0.8 * 0.25))


def test_without_lr_scaling_strength_is_the_prox_weight():
    p, q = _tensors((7,), (2, 3))
    wsp = wt.WeightSharingProx([p, q], 0.6, scale_by_lr=False)
    p0, q0 = _snapshot([p, q])
    wsp.step()
    np.testing.assert_array_equal(p.detach().numpy(), wsprox.prox(p0, 0.6))
    np.testing.assert_array_equal(q.detach().numpy(), wsprox.prox(q0, 0.6))


def test_state_dict_round_trip():
    p, q = _tensors((6,), (2, 5))
    opt = torch.optim.SGD([p, q], lr=0.2)
    saved = wt.WeightSharingProx(
        [{"params": [p], "strength": 3.0, "l1": 0.1}, {"params": [q], "axis": 1}], 0.5, optimizer=opt
    )
    buffer = io.BytesIO()
    torch.save(saved.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    restored = wt.WeightSharingProx([{"params": [p]}, {"params": [q]}], 9.0, optimizer=opt)
    restored.load_state_dict(state)
    assert restored.state_dict() == saved.state_dict() == state
    p0, q0 = _snapshot([p, q])
    restored.step()
    np.testing.assert_array_equal(p.detach().numpy(), wsprox.prox(p0, 0.2 * 3.0, l1=0.2 * 0.1))
    np.testing.assert_array_equal(q.detach().numpy(), wsprox.prox(q0, 0.2 * 0.5, axis=1))


@pytest.mark.parametrize("change, error, match", [
    (lambda s: s["param_groups"].pop(), ValueError, "param groups"),
    (lambda s: s["param_groups"][0].update(strength=-1.0), ValueError, "strength must be non-negative"),
    (lambda s: s["param_groups"][0].update(l1="x"), TypeError, "l1 must be a real scalar"),
    (lambda s: s["param_groups"][0].update(axis=3), ValueError, "axis 3 is out of bounds"),
    (lambda s: s["param_groups"][0].update(params=[0, 1, 2]), ValueError, "has 3 parameters"),
    (lambda s: s["param_groups"][0].pop("l1"), ValueError, "must have keys"),
    (lambda s: s.pop("method"), ValueError, "must be a dict with keys"),
    (lambda s: s.update(scale_by_lr="yes"), TypeError, "scale_by_lr must be a bool"),
])
def test_load_state_dict_validates_and_changes_nothing_on_error(change, error, match):
    p, q = _tensors((4,), (3,))
    wsp = wt.WeightSharingProx([{"params": [p]}, {"params": [q], "strength": 2.0}], 1.0, scale_by_lr=False)
    good = wsp.state_dict()
    state = wsp.state_dict()
    state["param_groups"][1]["strength"] = 5.0      # a valid change that must not half-apply
    change(state)
    with pytest.raises(error, match=match):
        wsp.load_state_dict(state)
    assert wsp.state_dict() == good


def test_constructor_rejects_bad_arguments():
    p, q = _tensors((4,), (3,))
    opt = torch.optim.SGD([p], lr=0.1)
    cases = [
        (lambda: wt.WeightSharingProx([p], 1.0), ValueError, "pass optimizer="),
        (lambda: wt.WeightSharingProx([p, q], 1.0, optimizer=opt), ValueError, "not in any param group"),
        (lambda: wt.WeightSharingProx(p, 1.0, optimizer=opt), TypeError, "single tensor"),
        (lambda: wt.WeightSharingProx([], 1.0, optimizer=opt), ValueError, "params is empty"),
        (lambda: wt.WeightSharingProx([p, p], 1.0, optimizer=opt), ValueError, "more than one group"),
        (lambda: wt.WeightSharingProx([p, {"params": [q]}], 1.0, scale_by_lr=False), TypeError, "not a mix"),
        (lambda: wt.WeightSharingProx([{"params": [p], "lr": 1.0}], 1.0, optimizer=opt), ValueError,
         "unknown parameter group option"),
        (lambda: wt.WeightSharingProx([{"strength": 1.0}], 1.0, optimizer=opt), ValueError, "no 'params'"),
        (lambda: wt.WeightSharingProx([p], -0.5, optimizer=opt), ValueError, "strength must be non-negative"),
        (lambda: wt.WeightSharingProx([p], float("nan"), optimizer=opt), ValueError, "strength must be finite"),
        (lambda: wt.WeightSharingProx([p], 1.0, l1=True, optimizer=opt), TypeError, "l1 must be a real"),
        (lambda: wt.WeightSharingProx([p], 1.0, axis=1, optimizer=opt), ValueError, "out of bounds"),
        (lambda: wt.WeightSharingProx([p], 1.0, optimizer="sgd"), TypeError, "torch.optim.Optimizer"),
        (lambda: wt.WeightSharingProx([p.half()], 1.0, scale_by_lr=False), TypeError, "float32 or float64"),
        (lambda: wt.WeightSharingProx([p], 1.0, scale_by_lr=1, optimizer=opt), TypeError, "must be a bool"),
        (lambda: wt.WeightSharingProx([p], 1.0, method=None, optimizer=opt), TypeError, "method must be"),
    ]
    for build, error, match in cases:
        with pytest.raises(error, match=match):
            build()


def test_step_reports_a_bad_method_or_strength_set_after_construction():
    (p,) = _tensors((5,))
    wsp = wt.WeightSharingProx([p], 1.0, scale_by_lr=False, method="magic")
    with pytest.raises(ValueError, match="unknown method"):
        wsp.step()
    wsp = wt.WeightSharingProx([p], 1.0, scale_by_lr=False)
    wsp.param_groups[0]["strength"] = -2.0
    with pytest.raises(ValueError, match="strength must be non-negative"):
        wsp.step()


def test_import_wsprox_does_not_import_torch():
    code = "import sys, wsprox; assert 'torch' not in sys.modules, 'import wsprox imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)

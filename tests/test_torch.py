"""wsprox.torch: in-place prox of tensors, proximal SGD, differentiable R, sharing tools."""
import copy
import io
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

import wsprox
import wsprox.torch as wt
from conftest import lams, vectors
from wsprox.cpu import SOLVERS
from wsprox.regularizer import sorted_weights

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

    monkeypatch.setattr(wt.functional, "_prox", spy)
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
    (torch.ones(3, dtype=torch.int64), TypeError, "float16, bfloat16, float32 or float64, got torch.int64"),
    (torch.ones(3, dtype=torch.complex64), TypeError, "float16, bfloat16, float32 or float64"),
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


@pytest.mark.parametrize("make, match", [
    (lambda s: s[:3].expand(4, 3), "expanded: its 4 entries along dimension 0 share memory"),
    (lambda s: s[:1].expand(5), "expanded: its 5 entries along dimension 0"),
    (lambda s: s.as_strided((3, 2), (1, 1)), r"overlapping memory \(shape \(3, 2\), strides \(1, 1\)\)"),
    (lambda s: s.as_strided((3, 2, 2), (5, 2, 3)), "overlapping memory"),   # offset 5 twice
], ids=["expanded-2d", "expanded-1d", "overlapping", "overlapping-3d"])
def test_prox_rejects_tensors_whose_entries_share_memory_before_computing(monkeypatch, make, match):
    storage = torch.arange(16.0)
    before = storage.clone()
    monkeypatch.setattr(wt.functional, "_prox", lambda *args, **kwargs: pytest.fail("the prox was computed"))
    with pytest.raises(ValueError, match=match):
        wt.prox_(make(storage), 1.0)
    assert torch.equal(storage, before)


def test_prox_of_a_strided_view_whose_entries_are_distinct_writes_through():
    # Strides (2, 3) for shape (3, 2) reach offsets 0, 3, 2, 5, 4, 7: distinct though interleaved.
    storage = torch.randn(8, dtype=torch.float64)
    view = storage.as_strided((3, 2), (2, 3))
    original = storage.clone()
    expected = wsprox.prox(view.numpy().copy(), 0.4)
    wt.prox_(view, 0.4)
    np.testing.assert_array_equal(storage.as_strided((3, 2), (2, 3)).numpy(), expected)
    np.testing.assert_array_equal(storage[[1, 6]].numpy(), original[[1, 6]].numpy())   # not in the view


@pytest.mark.parametrize("make_view", [
    lambda base: torch._neg_view(base),          # contiguous
    lambda base: torch._neg_view(base).t(),      # and not
], ids=["contiguous", "transposed"])
def test_prox_of_a_negative_view_proxes_the_values_it_shows(make_view):
    base = torch.randn(3, 5, dtype=torch.float64)
    view = make_view(base)
    assert view.is_neg()
    shown = view.resolve_neg().numpy().copy()
    assert wt.prox_(view, 0.8, axis=1) is view
    np.testing.assert_array_equal(view.resolve_neg().numpy(), wsprox.prox(shown, 0.8, axis=1))
    np.testing.assert_array_equal(make_view(base).resolve_neg().numpy(), wsprox.prox(shown, 0.8, axis=1))


def test_prox_of_the_imaginary_part_of_a_conjugate_writes_into_the_complex_tensor():
    z = torch.randn(7, dtype=torch.complex128)
    real, imag = z.real.clone(), z.imag.clone()
    view = z.conj().imag                          # a strided negative view of z's storage
    assert view.is_neg() and not view.is_contiguous()
    wt.prox_(view, 0.5, l1=0.1)
    np.testing.assert_array_equal(z.real.numpy(), real.numpy())
    np.testing.assert_array_equal(z.imag.numpy(), -wsprox.prox(-imag.numpy(), 0.5, l1=0.1))


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


@given(w=vectors(min_size=2), data=st.data())
def test_tie_memory_does_not_grow_with_the_label_values(w, data):
    # The label 2**62 is always used: no tensor of that many entries can even be asked for, so
    # memory that grows with the labels fails at once. Huge labels tie like their ranks.
    values = data.draw(st.lists(st.integers(0, 2**62 - 1), max_size=3, unique=True)) + [2**62]
    ranks = np.array(data.draw(st.lists(st.integers(0, len(values) - 1), min_size=w.size, max_size=w.size)))
    ranks[0] = len(values) - 1
    huge, small = torch.tensor(w), torch.tensor(w)
    wt.tie_(huge, torch.tensor(np.array(values)[ranks]))
    wt.tie_(small, torch.tensor(ranks))
    assert torch.equal(huge, small)


def test_tie_rejects_an_expanded_tensor_before_computing():
    base = torch.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="tensor is expanded"):
        wt.tie_(base.expand(3, 2), torch.tensor([[0, 1], [1, 0], [0, 0]]))
    assert torch.equal(base, torch.tensor([1.0, 2.0]))


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
        [{"params": [a]}, {"params": [b], "strength": 2.0, "axis": 1, "method": "search_collisions"},
         {"params": c, "l1": 0.4}],
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


def test_is_a_torch_optimizer_with_its_api():
    p, q = _tensors((6,), (2, 3))
    opt = torch.optim.SGD([p, q], lr=0.5)
    wsp = wt.WeightSharingProx([p], 0.4, optimizer=opt)
    assert isinstance(wsp, torch.optim.Optimizer)
    wsp.add_param_group({"params": q, "axis": 1, "method": "end_collisions"})
    assert [(g["strength"], g["axis"], g["method"]) for g in wsp.param_groups] == [
        (0.4, None, "auto"), (0.4, 1, "end_collisions")]
    p.grad = torch.ones_like(p)
    wsp.zero_grad()
    assert p.grad is None
    calls = []
    wsp.register_step_post_hook(lambda optimizer, args, kwargs: calls.append(optimizer))
    p0, q0 = _snapshot([p, q])
    assert wsp.step(lambda: 7.0) == 7.0                 # a closure's loss comes back
    assert calls == [wsp]
    np.testing.assert_array_equal(p.detach().numpy(), wsprox.prox(p0, 0.5 * 0.4))
    np.testing.assert_array_equal(q.detach().numpy(), wsprox.prox(q0, 0.5 * 0.4, axis=1))


def test_each_cpu_parameter_keeps_a_warm_start_between_steps(monkeypatch):
    p, q = _tensors((50,), (4, 30))
    wsp = wt.WeightSharingProx([{"params": [p]}, {"params": [q], "axis": 1}], 0.05, scale_by_lr=False)
    passed, real = [], wt.functional._prox

    def spy(w, lam, *, warm, **options):
        passed.append(warm)
        return real(w, lam, warm=warm, **options)

    monkeypatch.setattr(wt.functional, "_prox", spy)
    for _ in range(3):
        p0, q0 = _snapshot([p, q])
        wsp.step()
        np.testing.assert_array_equal(p.detach().numpy(), wsprox.prox(p0, 0.05))
        np.testing.assert_array_equal(q.detach().numpy(), wsprox.prox(q0, 0.05, axis=1))
    warm_p, warm_q = wsp.state[p]["warm"], wsp.state[q]["warm"]
    assert isinstance(warm_p, wsprox.ProxState) and isinstance(warm_q, wsprox.ProxState)
    assert all(a is b for a, b in zip(passed, [warm_p, warm_q] * 3, strict=True))
    assert warm_q.order.shape == (4, 30)
    assert warm_p.reused and warm_q.reused    # a prox keeps the order: the later steps repaired it


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_parameters_are_proxed_without_a_warm_start():
    p = torch.randn(3, 40, device="cuda")
    wsp = wt.WeightSharingProx([p], 0.3, axis=1, scale_by_lr=False)
    expected = wsprox.prox(p.cpu().numpy(), 0.3, axis=1)
    wsp.step()
    np.testing.assert_allclose(p.cpu().numpy(), expected, rtol=1e-6, atol=1e-6)
    assert "warm" not in wsp.state[p]


def test_state_dict_round_trips_through_torch_save_into_a_fresh_object():
    p, q = _tensors((6,), (2, 5))
    opt = torch.optim.SGD([p, q], lr=0.2)
    saved = wt.WeightSharingProx(
        [{"params": [p], "strength": 3.0, "l1": 0.1, "method": "imminent_collisions"},
         {"params": [q], "axis": 1}], 0.5, optimizer=opt)
    saved.step()                                        # warm starts exist now
    state = saved.state_dict()
    assert state["state"] == {}
    assert state["param_groups"] == [
        {"strength": 3.0, "l1": 0.1, "axis": None, "method": "imminent_collisions", "rho": 0.0,
         "check_finite": True, "params": [0]},
        {"strength": 0.5, "l1": 0.0, "axis": 1, "method": "auto", "rho": 0.0, "check_finite": True, "params": [1]},
    ]
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    restored = wt.WeightSharingProx([{"params": [p]}, {"params": [q]}], 9.0, method="pava", optimizer=opt)
    restored.load_state_dict(torch.load(buffer))        # weights_only=True: plain values only
    assert restored.state_dict() == state
    p0, q0 = _snapshot([p, q])
    restored.step()
    np.testing.assert_array_equal(p.detach().numpy(), wsprox.prox(p0, 0.2 * 3.0, l1=0.2 * 0.1))
    np.testing.assert_array_equal(q.detach().numpy(), wsprox.prox(q0, 0.2 * 0.5, axis=1))
    assert isinstance(restored.state[p]["warm"], wsprox.ProxState)


def _set(path, value):
    def change(state):
        target = state
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return state
    return change


@pytest.mark.parametrize("change, error, match", [
    (lambda s: [s], ValueError, "state_dict must be a dict with keys 'state' and 'param_groups'"),
    (lambda s: {k: v for k, v in s.items() if k != "state"}, ValueError, "must be a dict with keys"),
    (lambda s: {"scale_by_lr": False, "method": "auto", "param_groups": s["param_groups"]},  # old format
     ValueError, "must be a dict with keys 'state' and 'param_groups'"),
    (_set(["param_groups"], "groups"), ValueError, "no list of param groups"),
    (lambda s: {**s, "param_groups": s["param_groups"][:1]}, ValueError, "has 1 param groups, this object has 2"),
    (_set(["param_groups", 0], [0]), ValueError, "group 0 of the state_dict must be a dict with keys"),
    (_set(["param_groups", 0, "lr"], 0.1), ValueError, "group 0 of the state_dict must be a dict with keys"),
    (lambda s: s["param_groups"][0].pop("l1") and s, ValueError, "must be a dict with keys"),
    (_set(["param_groups", 0, "params"], [0, 1, 2]), ValueError, "must list its 1 parameter"),
    (_set(["param_groups", 0, "params"], "0"), ValueError, "must list its 1 parameter"),
    (_set(["param_groups", 0, "params"], [[0]]), ValueError, "must list its 1 parameter"),
    (_set(["param_groups", 0, "strength"], -1.0), ValueError, "strength of group 0 must be non-negative"),
    (_set(["param_groups", 0, "l1"], "x"), TypeError, "l1 of group 0 must be a real scalar"),
    (_set(["param_groups", 0, "axis"], 3), ValueError, "parameter 0 of group 0: axis 3 is out of bounds"),
    (_set(["param_groups", 0, "axis"], "x"), TypeError, "parameter 0 of group 0: axis must be None or"),
    (_set(["param_groups", 0, "method"], "bogus"), ValueError, "unknown method 'bogus' of group 0"),
])
def test_load_state_dict_validates_and_changes_nothing_on_error(change, error, match):
    p, q = _tensors((4,), (3,))
    wsp = wt.WeightSharingProx([{"params": [p]}, {"params": [q], "strength": 2.0}], 1.0, scale_by_lr=False)
    wsp.step()
    good, warm = wsp.state_dict(), wsp.state[p]["warm"]
    state = wsp.state_dict()
    state["param_groups"][1]["strength"] = 5.0      # a valid change that must not half-apply
    with pytest.raises(error, match=match):
        wsp.load_state_dict(change(state))
    assert wsp.state_dict() == good
    assert wsp.state[p]["warm"] is warm


def test_groups_added_after_loading_hold_only_the_options():
    # The base class's __setstate__ adds a "differentiable" default that must not reach new groups.
    p, q = _tensors((4,), (3,))
    wsp = wt.WeightSharingProx([p], 1.0, scale_by_lr=False)
    wsp.load_state_dict(wsp.state_dict())
    wsp.add_param_group({"params": [q]})
    assert set(wsp.param_groups[1]) == {"params", *wt.GROUP_OPTIONS}
    fresh = wt.WeightSharingProx([{"params": [p]}, {"params": [q]}], 3.0, scale_by_lr=False)
    fresh.load_state_dict(wsp.state_dict())
    assert fresh.state_dict() == wsp.state_dict()


def test_a_deep_copy_keeps_the_options_and_starts_cold():
    (p,) = _tensors((6,))
    opt = torch.optim.SGD([p], lr=0.3)
    wsp = wt.WeightSharingProx([p], 0.7, l1=0.05, optimizer=opt)
    wsp.step()
    before = p.detach().clone()
    twin = copy.deepcopy(wsp)
    (q,) = twin.param_groups[0]["params"]
    assert q is not p and twin.optimizer.param_groups[0]["params"][0] is q and twin.scale_by_lr
    assert twin.state[q]["warm"].order is None
    q0 = _snapshot([q])[0]
    twin.step()
    np.testing.assert_array_equal(q.detach().numpy(), wsprox.prox(q0, 0.3 * 0.7, l1=0.3 * 0.05))
    assert torch.equal(p.detach(), before)


def test_unknown_method_fails_at_construction_listing_the_choices():
    (p,) = _tensors((5,))
    choices = ", ".join(repr(m) for m in ("auto", *SOLVERS))
    with pytest.raises(ValueError, match=re.escape(f"unknown method 'bogus'; valid choices are {choices}")):
        wt.WeightSharingProx([p], 1.0, method="bogus", scale_by_lr=False)
    with pytest.raises(ValueError, match=re.escape(f"unknown method 'bogus' of group 0; valid choices are {choices}")):
        wt.WeightSharingProx([{"params": [p], "method": "bogus"}], 1.0, scale_by_lr=False)


def test_a_parameter_listed_twice_in_one_group_is_named():
    p, q = _tensors((4,), (3,))
    with pytest.raises(ValueError, match=r"parameter 2 of group 0 is listed twice \(as parameter 0 too\)"):
        wt.WeightSharingProx([p, q, p], 1.0, scale_by_lr=False)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        wt.WeightSharingProx([{"params": [p]}, {"params": [q, p]}], 1.0, scale_by_lr=False)


def test_constructor_rejects_bad_arguments():
    p, q = _tensors((4,), (3,))
    opt = torch.optim.SGD([p], lr=0.1)
    cases = [
        (lambda: wt.WeightSharingProx([p], 1.0), ValueError, "pass optimizer="),
        (lambda: wt.WeightSharingProx([p, q], 1.0, optimizer=opt), ValueError,
         "parameter 1 of group 0 is not in any param group of the optimizer"),
        (lambda: wt.WeightSharingProx(p, 1.0, optimizer=opt), TypeError, "iterable of Tensors or dicts"),
        (lambda: wt.WeightSharingProx({"params": [p]}, 1.0, optimizer=opt), TypeError, "wrap it in a list"),
        (lambda: wt.WeightSharingProx([], 1.0, optimizer=opt), ValueError, "empty parameter list"),
        (lambda: wt.WeightSharingProx([p, {"params": [q]}], 1.0, scale_by_lr=False), TypeError,
         "parameter 1 of group 0 must be a torch.Tensor, got dict"),
        (lambda: wt.WeightSharingProx([{"params": [p]}, q], 1.0, scale_by_lr=False), TypeError,
         "group 1 must be a dict"),
        (lambda: wt.WeightSharingProx([{"params": [p], "lr": 1.0}], 1.0, optimizer=opt), ValueError,
         r"unknown option\(s\) \['lr'\] in group 0"),
        (lambda: wt.WeightSharingProx([{"strength": 1.0}], 1.0, optimizer=opt), ValueError, "no 'params'"),
        (lambda: wt.WeightSharingProx([{"params": {p}}], 1.0, optimizer=opt), TypeError, "are a set"),
        (lambda: wt.WeightSharingProx([p], -0.5, optimizer=opt), ValueError, "strength must be non-negative"),
        (lambda: wt.WeightSharingProx([p], float("nan"), optimizer=opt), ValueError, "strength must be finite"),
        (lambda: wt.WeightSharingProx([{"params": [p], "strength": -1}], 1.0, optimizer=opt), ValueError,
         "strength of group 0 must be non-negative"),
        (lambda: wt.WeightSharingProx([p], 1.0, l1=True, optimizer=opt), TypeError, "l1 must be a real"),
        (lambda: wt.WeightSharingProx([p], 1.0, axis=1, optimizer=opt), ValueError,
         "parameter 0 of group 0: axis 1 is out of bounds"),
        (lambda: wt.WeightSharingProx([p], 1.0, optimizer="sgd"), TypeError, "torch.optim.Optimizer"),
        (lambda: wt.WeightSharingProx([p.detach().int()], 1.0, scale_by_lr=False), TypeError,
         "parameter 0 of group 0 must be float16, bfloat16, float32 or float64"),
        (lambda: wt.WeightSharingProx([p], 1.0, dim=0, axis=0, scale_by_lr=False), TypeError,
         "pass dim= or its alias axis=, not both"),
        (lambda: wt.WeightSharingProx([torch.ones(3).expand(2, 3)], 1.0, scale_by_lr=False), ValueError,
         "parameter 0 of group 0 is expanded"),
        (lambda: wt.WeightSharingProx([p], 1.0, scale_by_lr=1, optimizer=opt), TypeError, "must be a bool"),
        (lambda: wt.WeightSharingProx([p], 1.0, method=None, optimizer=opt), ValueError, "unknown method None"),
    ]
    for build, error, match in cases:
        with pytest.raises(error, match=match):
            build()


@pytest.mark.parametrize("make_group, error, match", [
    (lambda p, q, r: {"params": [q, q]}, ValueError, "parameter 1 of group 1 is listed twice"),
    (lambda p, q, r: {"params": [p]}, ValueError, "more than one parameter group"),
    (lambda p, q, r: {"params": [q], "method": "bogus"}, ValueError, "unknown method 'bogus' of group 1"),
    (lambda p, q, r: {"params": [q], "strength": -1.0}, ValueError, "strength of group 1 must be non-negative"),
    (lambda p, q, r: {"params": [q], "l1": float("inf")}, ValueError, "l1 of group 1 must be finite"),
    (lambda p, q, r: {"params": [q], "axis": 2}, ValueError, "parameter 0 of group 1: axis 2 is out of bounds"),
    (lambda p, q, r: {"params": [q], "lr": 0.1}, ValueError, r"unknown option\(s\) \['lr'\] in group 1"),
    (lambda p, q, r: {"strength": 1.0}, ValueError, "group 1 has no 'params' key"),
    (lambda p, q, r: [q], TypeError, "group 1 must be a dict"),
    (lambda p, q, r: {"params": [q.detach().int()]}, TypeError, "parameter 0 of group 1 must be float16"),
    (lambda p, q, r: {"params": [q], "dim": 0, "axis": 0}, TypeError, "group 1 sets both 'dim' and its alias"),
    (lambda p, q, r: {"params": [q], "dim": 1}, ValueError, "parameter 0 of group 1: axis 1 is out of bounds"),
    (lambda p, q, r: {"params": [q, torch.zeros(2, 2).as_strided((2, 2), (1, 1))]}, ValueError,
     "parameter 1 of group 1 has overlapping memory"),
    (lambda p, q, r: {"params": [r]}, ValueError, "parameter 0 of group 1 is not in any param group"),
])
def test_add_param_group_validates_and_changes_nothing_on_error(make_group, error, match):
    p, q, r = _tensors((4,), (3,), (2,))
    opt = torch.optim.SGD([p, q], lr=0.1)
    wsp = wt.WeightSharingProx([p], 1.0, optimizer=opt)
    good = wsp.state_dict()
    with pytest.raises(error, match=match):
        wsp.add_param_group(make_group(p, q, r))
    assert wsp.state_dict() == good


@pytest.mark.parametrize("key, value, error, match", [
    ("strength", -2.0, ValueError, "strength of group 1 must be non-negative"),
    ("l1", "x", TypeError, "l1 of group 1 must be a real scalar"),
    ("method", "magic", ValueError, "unknown method 'magic' of group 1"),
    ("axis", 5, ValueError, "parameter 0 of group 1: axis 5 is out of bounds"),
])
def test_step_checks_options_changed_since_and_changes_nothing_on_error(key, value, error, match):
    p, q = _tensors((5,), (4,))
    wsp = wt.WeightSharingProx([{"params": [p]}, {"params": [q]}], 1.0, scale_by_lr=False)
    wsp.param_groups[1][key] = value       # as a schedule would, wrongly
    before = _snapshot([p, q])
    with pytest.raises(error, match=match):
        wsp.step()
    np.testing.assert_array_equal(p.detach().numpy(), before[0])     # group 0 was not proxed either
    np.testing.assert_array_equal(q.detach().numpy(), before[1])


# ---------------------------------------------------------------- prox: the differentiable entry

HALF = [torch.float16, torch.bfloat16]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _without_ties(shape, seed, device="cpu"):
    # Well-separated values: gradcheck's steps of 1e-6 stay on one linear piece.
    g = torch.Generator().manual_seed(seed)
    values = torch.randperm(int(np.prod(shape)), generator=g).double() / 4 + 0.01 * torch.rand(shape, generator=g
                                                                                                 ).reshape(-1)
    return (values.reshape(shape) - values.mean()).to(device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dim", [None, 0, 1])
def test_gradcheck_in_the_input_lam_and_l1(device, dim):
    w = _without_ties((4, 6), seed=3, device=device).requires_grad_()
    lam = torch.tensor(1.3, dtype=torch.float64, device=device, requires_grad=True)
    l1 = torch.tensor(0.4, dtype=torch.float64, device=device, requires_grad=True)
    x = wt.prox(w, lam, l1=l1, dim=dim)
    # Not a trivial piece: some clusters of several entries and a zero cluster.
    labels = wsprox.prox_result(w.detach().cpu().numpy(), 1.3, l1=0.4, axis=dim).labels
    assert (x == 0).any() and np.unique(labels).size < labels.size
    assert torch.autograd.gradcheck(lambda a, b, c: wt.prox(a, b, l1=c, dim=dim), (w, lam, l1))


@pytest.mark.parametrize("method", ["pava", "end_collisions", "imminent_collisions", "search_collisions"])
@given(w=vectors(min_size=2, max_size=20), lam=lams(20.0), l1=st.sampled_from([0.0, 0.5]),
       seed=st.integers(0, 2**32 - 1))
def test_backward_is_the_numpy_vjp(method, w, lam, l1, seed):
    g = np.random.default_rng(seed).standard_normal(w.size)
    t = torch.tensor(w, requires_grad=True)
    lam_t = torch.tensor(lam, dtype=torch.float64, requires_grad=True)
    x = wt.prox(t, lam_t, l1=l1, method=method)
    res = wsprox.prox_result(w, lam, l1=l1)
    np.testing.assert_array_equal(x.detach().numpy(), res.x)
    x.backward(torch.tensor(g))
    grad_w, grad_lam, _ = res.vjp(g)
    np.testing.assert_allclose(t.grad.numpy(), grad_w, rtol=1e-12, atol=1e-12)
    assert lam_t.grad.item() == pytest.approx(grad_lam, rel=1e-10, abs=1e-10)


def test_prox_never_modifies_its_input_and_takes_any_strides():
    base = torch.randn(5, 8, dtype=torch.float64)
    before = base.clone()
    for view in (base, base.t(), base[:, ::2], torch._neg_view(base)):
        shown = view.resolve_neg().numpy().copy()
        x = wt.prox(view, 0.6, dim=0)
        assert x.shape == view.shape and x.data_ptr() != base.data_ptr()
        np.testing.assert_array_equal(x.numpy(), wsprox.prox(shown, 0.6, axis=0))
    assert torch.equal(base, before)


def test_gradients_only_where_asked_and_a_float_lam_gets_none():
    w = torch.tensor([0.0, 1.0, 10.0], requires_grad=True)
    l1 = torch.tensor([0.25], requires_grad=True)             # a one-element tensor of shape (1,)
    wt.prox(w, 2.0, l1=l1).sum().backward()
    assert w.grad is not None and l1.grad.shape == (1,) and l1.grad.item() == -3.0
    x = wt.prox(torch.tensor([0.0, 1.0]), torch.tensor(1.0))   # nothing requires grad
    assert not x.requires_grad


def test_the_output_may_change_in_place_before_backward():
    # The backward pass keeps the labels and the signs, not the output itself.
    w = torch.tensor([0.0, 1.0, 10.0], requires_grad=True)
    x = wt.prox(w, 2.0)
    y = x * 1
    x.detach().add_(100.0)
    y.sum().backward()
    assert w.grad.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("call, error, match", [
    (lambda: wt.prox(torch.arange(3), 1.0), TypeError, "float16, bfloat16, float32 or float64"),
    (lambda: wt.prox([1.0, 2.0], 1.0), TypeError, "torch.Tensor"),
    (lambda: wt.prox(torch.ones(3), torch.ones(2)), TypeError,
     r"lam must be a real scalar or a one-element real tensor, got a torch.float32 tensor of shape \(2,\)"),
    (lambda: wt.prox(torch.ones(3), torch.tensor(True)), TypeError, "lam must be a real scalar"),
    (lambda: wt.prox(torch.ones(3), torch.tensor(-1.0)), ValueError, "lam must be non-negative"),
    (lambda: wt.prox(torch.ones(3), 1.0, l1=float("nan")), ValueError, "l1 must be finite"),
    (lambda: wt.prox(torch.tensor([1.0, float("inf")]), 1.0), ValueError, r"\+inf at index 1"),
    (lambda: wt.prox(torch.ones(3), 1.0, method="magic"), ValueError, "unknown method"),
    (lambda: wt.prox(torch.ones(2, 3), 1.0, dim=2), ValueError, "dim 2 is out of bounds"),
    (lambda: wt.prox(torch.ones(2, 3), 1.0, dim=1, axis=1), TypeError, "pass dim= or its alias axis=, not both"),
])
def test_prox_rejects_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- prox: torch.compile, torch.func, 2nd order

@pytest.fixture
def fresh_dynamo():
    # Every compiled test starts from an empty cache (the lambdas of a test share code objects).
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_compiled_with_fullgraph_equals_eager_values_and_gradients(fresh_dynamo, dim):
    w = _without_ties((4, 6), seed=5)
    # aot_eager: the fake implementation, AOT autograd's forward and backward graphs, without
    # inductor's C++ compilation (10 s or more on two cores, cache empty; the same prox comes out).
    compiled = torch.compile(lambda t: wt.prox(t, 0.5, dim=dim), fullgraph=True, backend="aot_eager")
    assert torch.equal(compiled(w), wt.prox(w, 0.5, dim=dim))

    def loss(w, lam, l1):
        return (wt.prox(w, lam, l1=l1, dim=dim) ** 3).sum()

    grads = []
    for f in (loss, torch.compile(loss, fullgraph=True, backend="aot_eager")):
        args = (w.clone(), torch.tensor(0.8, dtype=torch.float64), torch.tensor(0.3, dtype=torch.float64))
        f(*(a.requires_grad_() for a in args)).backward()
        grads.append([a.grad for a in args])
    for eager, compiled in zip(*grads):
        torch.testing.assert_close(compiled, eager, rtol=1e-12, atol=1e-12)


def test_compiled_prox_takes_new_weights_without_a_graph_break(fresh_dynamo):
    t = torch.randn(3, 8, generator=torch.Generator().manual_seed(0))
    compiled = torch.compile(lambda t, lam: wt.prox(t, lam, dim=1), fullgraph=True, backend="aot_eager")
    for lam in (0.3, 0.7, torch.tensor(1.5)):        # a float traced as a symbol, then a tensor
        assert torch.equal(compiled(t, lam), wt.prox(t, lam, dim=1))


def test_errors_under_compile_are_the_eager_errors(fresh_dynamo):
    compiled = torch.compile(lambda t, lam: wt.prox(t, lam), fullgraph=True, backend="aot_eager")
    t = torch.zeros(3, 4)
    t[1, 3] = float("nan")
    with pytest.raises(ValueError, match=r"^tensor contains NaN at index \(1, 3\)"):
        compiled(t, 1.0)
    for lam in (-1.0, torch.tensor(-1.0)):          # values are checked in the operator
        with pytest.raises(ValueError, match="^lam must be non-negative, got -1.0"):
            compiled(torch.zeros(3, 4), lam)
    # Types and dim are checked while tracing: fullgraph=True quotes the error, else it is raised.
    with pytest.raises(torch._dynamo.exc.Unsupported, match="dim 5 is out of bounds for an array"):
        torch.compile(lambda t: wt.prox(t, 1.0, dim=5), fullgraph=True, backend="aot_eager")(t)
    with pytest.raises(ValueError, match="^dim 5 is out of bounds"):
        torch.compile(lambda t: wt.prox(t, 1.0, dim=5), backend="aot_eager")(t)


@pytest.mark.parametrize("dim", [None, 1])
def test_func_grad_equals_autograd(dim):
    w = _without_ties((3, 5), seed=7)
    lam = torch.tensor(0.9, dtype=torch.float64)

    def loss(w, lam):
        return (wt.prox(w, lam, l1=0.2, dim=dim) ** 3).sum()

    grad_w, grad_lam = torch.func.grad(loss, argnums=(0, 1))(w, lam)
    a, b = w.clone().requires_grad_(), lam.clone().requires_grad_()
    loss(a, b).backward()
    assert torch.equal(grad_w, a.grad) and torch.equal(grad_lam, b.grad)


def test_jacrev_of_the_prox_of_one_vector_is_its_jacobian():
    # jacrev batches the backward pass (not the forward): with dim given it meets torch.moveaxis in
    # wsprox._rows, which has no batching rule.
    w = _without_ties((7,), seed=8)
    jacobian = torch.func.jacrev(lambda v: wt.prox(v, 0.9, l1=0.2))(w)
    assert torch.equal(jacobian, torch.autograd.functional.jacobian(lambda v: wt.prox(v, 0.9, l1=0.2), w))
    torch.testing.assert_close(jacobian @ jacobian, jacobian, rtol=1e-12, atol=1e-12)     # a projection


@pytest.mark.parametrize("in_dim", [0, 2])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_vmap_is_one_call_equal_to_a_loop_of_proxes(monkeypatch, in_dim, dim):
    batch = torch.randn(5, 4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    calls, real = [], wt.ops.prox_labels
    monkeypatch.setattr(wt.ops, "prox_labels", lambda *args, **kw: calls.append(1) or real(*args, **kw))
    got = torch.func.vmap(lambda x: wt.prox(x, 0.5, l1=0.1, dim=dim), in_dims=in_dim)(batch)
    assert len(calls) == 1
    assert torch.equal(got, torch.stack([wt.prox(x, 0.5, l1=0.1, dim=dim) for x in batch.unbind(in_dim)]))


def test_vmap_over_the_weights_proxes_each_example_with_its_own():
    batch = torch.randn(4, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    lams = torch.tensor([0.0, 0.2, 1.0, 3.0], dtype=torch.float64)
    got = torch.func.vmap(lambda x, lam: wt.prox(x, lam, l1=0.1))(batch, lams)
    assert torch.equal(got, torch.stack([wt.prox(x, lam, l1=0.1) for x, lam in zip(batch, lams)]))
    got = torch.func.vmap(lambda l1: wt.prox(batch[0], 0.5, l1=l1))(lams)     # only l1 batched
    assert torch.equal(got, torch.stack([wt.prox(batch[0], 0.5, l1=l1) for l1 in lams]))


def test_per_example_gradients_vmap_of_grad_and_grad_of_vmap():
    batch = torch.randn(5, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3))

    def loss(x):
        return (wt.prox(x, 0.4, dim=1) ** 2).sum()

    want = torch.stack([torch.func.grad(loss)(x) for x in batch])
    torch.testing.assert_close(torch.func.vmap(torch.func.grad(loss))(batch), want, rtol=1e-12, atol=1e-12)
    total = torch.func.grad(lambda b: torch.func.vmap(loss)(b).sum())(batch)
    torch.testing.assert_close(total, want, rtol=1e-12, atol=1e-12)


def test_double_backward_gives_hessian_vector_products():
    # (prox(w) ** 2).sum() has gradient 2 J x and Hessian 2 J (J is constant on a piece, J^2 = J).
    w = _without_ties((9,), seed=4).requires_grad_()
    x = wt.prox(w, 0.7, l1=0.1)
    (grad,) = torch.autograd.grad((x ** 2).sum(), w, create_graph=True)
    v = torch.randn(9, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    (hvp,) = torch.autograd.grad(grad, w, v)
    jacobian = torch.autograd.functional.jacobian(lambda a: wt.prox(a, 0.7, l1=0.1), w.detach())
    assert not torch.equal(jacobian, torch.eye(9, dtype=torch.float64))       # clusters of several entries
    torch.testing.assert_close(hvp, 2 * jacobian @ v, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradgradcheck(lambda a: wt.prox(a, 0.7, l1=0.1), (w,))


@pytest.mark.parametrize("dim", [None, 1])
def test_the_operator_passes_opcheck_and_backpropagates_as_prox(dim):
    w = _without_ties((3, 5), seed=6).requires_grad_()
    lam, l1 = torch.tensor(0.6, dtype=torch.float64), torch.tensor(0.1, dtype=torch.float64)
    torch.library.opcheck(torch.ops.wsprox.prox.default, (w, lam, l1, "auto", dim, True))
    x, labels, sign = torch.ops.wsprox.prox(w, lam, l1, "auto", dim, True)
    assert labels.dtype == torch.int64 and sign.dtype == torch.int8 and x.is_contiguous()
    (grad,) = torch.autograd.grad(x.pow(3).sum(), w)
    (want,) = torch.autograd.grad(wt.prox(w, lam, l1=l1, dim=dim).pow(3).sum(), w)
    assert torch.equal(grad, want)


# ---------------------------------------------------------------- half precision, dim=

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", HALF)
def test_half_precision_is_proxed_in_float32_and_rounded_once(device, dtype):
    w = torch.randn(3, 9, generator=torch.Generator().manual_seed(1)).to(dtype).to(device)
    want = torch.from_numpy(wsprox.prox(w.float().cpu().numpy(), 0.7, l1=0.05, axis=1)).to(dtype)
    t = w.clone().requires_grad_()
    x = wt.prox(t, 0.7, l1=0.05, dim=1)
    assert x.dtype == dtype and x.device == w.device
    assert torch.equal(x.cpu(), want)
    x.backward(torch.ones_like(x))
    assert t.grad.dtype == dtype
    p = w.clone()
    ptr = p.data_ptr()
    assert wt.prox_(p, 0.7, l1=0.05, dim=1) is p
    assert p.dtype == dtype and p.data_ptr() == ptr and torch.equal(p.cpu(), want)
    strided = w.clone().t()                              # and through a view
    wt.prox_(strided, 0.7, l1=0.05, dim=0)
    assert torch.equal(strided.t().cpu(), want)


@pytest.mark.parametrize("dtype", HALF)
def test_every_entry_takes_half_precision(dtype):
    w = torch.tensor([0.5, -1.0, 0.5, 2.0, 0.0], dtype=dtype)
    assert wt.clusters(w).tolist() == [2, 0, 2, 3, 1]
    assert wt.sharing_stats(w) == wt.SharingStats(4, 0.2, 5 * 16 / (4 * 16 + 5 * 2))
    tied = w.clone()
    assert wt.tie_(tied, torch.tensor([0, 0, 1, 1, 1])).dtype == dtype
    assert torch.equal(tied, torch.tensor([-0.25, -0.25] + [2.5 / 3] * 3, dtype=torch.float64).to(dtype))
    p = torch.nn.Parameter(torch.tensor([0.0, 1.0, 10.0], dtype=dtype))
    opt = torch.optim.SGD([p], lr=1.0)
    wt.WeightSharingProx([p], 2.0, optimizer=opt).step()
    assert p.dtype == dtype and p.tolist() == [1.5, 1.5, 8.0]
    assert wt.penalty(w.requires_grad_()).dtype == dtype


def test_dim_is_the_torch_name_of_axis_everywhere():
    w = torch.randn(4, 6, dtype=torch.float64)
    want = wsprox.prox(w.numpy(), 0.5, axis=0)
    assert np.array_equal(wt.prox(w, 0.5, dim=0).numpy(), want)
    assert np.array_equal(wt.prox(w, 0.5, axis=0).numpy(), want)
    assert np.array_equal(wt.prox_(w.clone(), 0.5, dim=0).numpy(), want)
    assert torch.equal(wt.penalty(w, dim=1), wt.penalty(w, axis=1))
    for call in (lambda: wt.prox_(w.clone(), 0.5, dim=0, axis=0), lambda: wt.penalty(w, dim=0, axis=1)):
        with pytest.raises(TypeError, match="pass dim= or its alias axis=, not both"):
            call()
    p, q = torch.nn.Parameter(w.clone()), torch.nn.Parameter(w.clone())
    wsp = wt.WeightSharingProx([{"params": [p]}, {"params": [q], "dim": 1}], 0.5, dim=0, scale_by_lr=False)
    assert [group["axis"] for group in wsp.param_groups] == [0, 1]
    wsp.step()
    assert np.array_equal(p.detach().numpy(), want)
    assert np.array_equal(q.detach().numpy(), wsprox.prox(w.numpy(), 0.5, axis=1))


def test_wsprox_prox_keeps_cpu_tensors_and_float16():
    t = torch.tensor([0.0, 1.0, 10.0], dtype=torch.float16)
    x = wsprox.prox(t, 2.0)
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float16 and x.tolist() == [1.5, 1.5, 8.0]
    # bfloat16 has no NumPy dtype: a clear error (it used to be torch's "unsupported ScalarType").
    with pytest.raises(TypeError, match="w is a torch.bfloat16 tensor, which NumPy and Numba cannot hold: "
                                        "use wsprox.torch"):
        wsprox.prox(t.bfloat16(), 2.0)
    with pytest.raises(TypeError, match="or differentiate through wsprox.torch.prox"):
        wsprox.prox(t.float().requires_grad_(), 2.0)


# ---------------------------------------------------------------- the paper's baselines

@given(w=vectors(), lam=lams(), rho=st.sampled_from([0.0, 0.25, 0.9]))
def test_rho_moves_each_weight_a_fraction_of_its_prox_displacement(w, lam, rho):
    p, q = torch.tensor(w), torch.tensor(w[::-1].copy())
    wsp = wt.WeightSharingProx([{"params": [p], "rho": rho}, {"params": [q]}], lam, scale_by_lr=False)
    wsp.step()
    expected = w + (1 - rho) * (wsprox.prox(w, lam) - w)
    np.testing.assert_allclose(p.numpy(), expected, rtol=1e-12, atol=1e-12 * (1 + np.abs(w).max()))
    np.testing.assert_array_equal(q.numpy(), wsprox.prox(w[::-1].copy(), lam))   # the other group: rho 0
    if rho == 0:
        np.testing.assert_array_equal(p.numpy(), wsprox.prox(w, lam))


def test_rho_keeps_the_order_of_the_weights_and_the_clusters_of_the_prox_pull_together():
    w = torch.tensor([0.0, 1.0, 10.0, 10.5], dtype=torch.float64)
    wt.WeightSharingProx([w], 3.0, rho=0.5, scale_by_lr=False).step()
    x = wsprox.prox(np.array([0.0, 1.0, 10.0, 10.5]), 3.0)
    assert x[0] == x[1] and x[2] == x[3]                 # two clusters in the exact prox
    assert w[1] - w[0] == pytest.approx(0.5 * 1.0) and w[3] - w[2] == pytest.approx(0.5 * 0.5)
    assert bool((w.diff() > 0).all())


@pytest.mark.parametrize("rho, error, match", [
    (1.0, ValueError, r"rho must be in \[0, 1\), got 1.0"),
    (-0.1, ValueError, r"rho must be in \[0, 1\)"),
    (float("nan"), ValueError, r"rho must be in \[0, 1\)"),
    ("0.5", TypeError, "rho must be a real number, got str"),
    (True, TypeError, "rho must be a real number, got bool"),
])
def test_rho_is_validated_at_construction_and_at_every_step(rho, error, match):
    p, q = _tensors((4,), (3,))
    with pytest.raises(error, match=match):
        wt.WeightSharingProx([p], 1.0, rho=rho, scale_by_lr=False)
    wsp = wt.WeightSharingProx([{"params": [p]}, {"params": [q]}], 1.0, scale_by_lr=False)
    wsp.param_groups[1]["rho"] = rho
    before = _snapshot([p, q])
    with pytest.raises(error, match=match.replace("rho ", "rho of group 1 ")):
        wsp.step()
    np.testing.assert_array_equal(p.detach().numpy(), before[0])


def test_rho_round_trips_through_the_state_dict():
    p, q = _tensors((4,), (3,))
    saved = wt.WeightSharingProx([{"params": [p], "rho": 0.3}, {"params": [q]}], 1.0, scale_by_lr=False)
    fresh = wt.WeightSharingProx([{"params": [p]}, {"params": [q]}], 1.0, scale_by_lr=False)
    fresh.load_state_dict(saved.state_dict())
    assert [g["rho"] for g in fresh.param_groups] == [0.3, 0.0]


def test_subgradient_baseline_gradient_is_the_loss_gradient_plus_strength_times_a_subgradient():
    X, y = _least_squares()
    Xt, yt = torch.tensor(X), torch.tensor(y)
    w = torch.tensor(np.random.default_rng(3).normal(size=X.shape[1]), requires_grad=True)
    strength = 0.7
    loss = 0.5 * (Xt @ w - yt).pow(2).mean()
    (loss + strength * wt.penalty(w)).backward()
    w0 = w.detach().numpy()
    expected = X.T @ (X @ w0 - y) / len(y) + strength * wsprox.subgradient(w0)
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12, atol=1e-12)


def _beta_lasso_reference(w, lam, beta, lr):
    w = w - lr * lam * np.sign(w)
    return np.where(np.abs(w) < beta * lam, 0.0, w)


@given(w=vectors(), lam=st.sampled_from([0.0, 0.05, 0.3]), beta=st.sampled_from([0.0, 1.0, 20.0]),
       lr=st.sampled_from([0.01, 0.5]))
def test_beta_lasso_is_a_sign_step_then_a_hard_threshold(w, lam, beta, lr):
    t = torch.tensor(w)
    assert wt.beta_lasso_(t, lam, beta, lr=lr) is t
    np.testing.assert_array_equal(t.numpy(), _beta_lasso_reference(w, lam, beta, lr))
    if lam == 0:
        np.testing.assert_array_equal(t.numpy(), w)


def test_beta_lasso_after_an_optimizer_step_is_neyshabur_algorithm_1():
    X, y = _least_squares()
    Xt, yt = torch.tensor(X), torch.tensor(y)
    w = torch.tensor(np.random.default_rng(4).normal(size=X.shape[1]), requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.2)
    lam, beta = 0.05, 10.0
    w0 = w.detach().numpy().copy()
    opt.zero_grad()
    (0.5 * (Xt @ w - yt).pow(2).mean()).backward()
    grad = w.grad.numpy().copy()
    opt.step()
    wt.beta_lasso_(w, lam, beta, lr=0.2)
    update = w0 - 0.2 * (grad + lam * np.sign(w0))      # the sign of the weights before the step
    expected = np.where(np.abs(update) < beta * lam, 0.0, update)
    np.testing.assert_allclose(w.detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    assert (w.detach() == 0).any() and w.grad is not None   # autograd still works with the parameter


def test_beta_lasso_rejects_bad_arguments():
    w = torch.ones(3)
    for call, error, match in [
        (lambda: wt.beta_lasso_(w, -1.0, 1.0, lr=0.1), ValueError, "lam"),
        (lambda: wt.beta_lasso_(w, 1.0, float("inf"), lr=0.1), ValueError, "beta"),
        (lambda: wt.beta_lasso_(w, 1.0, 1.0, lr=-0.1), ValueError, "lr"),
        (lambda: wt.beta_lasso_(torch.ones(3, dtype=torch.int64), 1.0, 1.0, lr=0.1), TypeError, "floating point"),
        (lambda: wt.beta_lasso_(np.ones(3), 1.0, 1.0, lr=0.1), TypeError, "torch.Tensor"),
        (lambda: wt.beta_lasso_(torch.ones(1).expand(3), 1.0, 1.0, lr=0.1), ValueError, "expanded"),
        (lambda: wt.beta_lasso_(w, 1.0, 1.0), TypeError, "lr"),
    ]:
        with pytest.raises(error, match=match):
            call()
    np.testing.assert_array_equal(w.numpy(), np.ones(3))


def test_retraining_with_the_sharing_frozen_converges_to_the_tied_least_squares():
    # Train with the prox, freeze its clusters, retrain with tie_ after every step: projected
    # gradient descent onto the tied subspace, whose limit is least squares over one value per cluster.
    X, y = _least_squares()
    A = np.c_[X, np.ones(len(y))]
    lipschitz = np.linalg.eigvalsh(A.T @ A / len(y))[-1]
    torch.manual_seed(0)
    model = torch.nn.Linear(X.shape[1], 1, dtype=torch.float64)
    opt = torch.optim.SGD(model.parameters(), lr=1.0 / lipschitz)
    wsp = wt.WeightSharingProx([model.weight], 0.3, optimizer=opt)
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def step():
        opt.zero_grad()
        (0.5 * (model(Xt).squeeze(1) - yt).pow(2).mean()).backward()
        opt.step()

    for _ in range(60):
        step()
        wsp.step()
    labels = wt.clusters(model.weight)
    k = int(labels.max()) + 1
    assert 1 < k < X.shape[1]
    for _ in range(300):
        step()
        wt.tie_(model.weight, labels)
    one_hot = np.eye(k)[labels.numpy().ravel()]
    coef, *_ = np.linalg.lstsq(np.c_[X @ one_hot, np.ones(len(y))], y, rcond=None)
    np.testing.assert_allclose(model.weight.detach().numpy().ravel(), one_hot @ coef[:k], atol=1e-8)
    assert model.bias.item() == pytest.approx(coef[k], abs=1e-8)
    w = model.weight.detach().numpy().ravel()
    for c in range(k):
        assert np.ptp(w[labels.numpy().ravel() == c]) == 0     # every cluster exactly one value


def test_process_group_must_be_a_process_group():
    with pytest.raises(TypeError, match="process_group must be a torch.distributed.ProcessGroup, got str"):
        wt.WeightSharingProx([torch.zeros(3)], 1.0, scale_by_lr=False, process_group="world")


@pytest.mark.parametrize("shape", [(4,), (2, 3)])
def test_gradcheck_at_zero_valued_clusters(shape):
    # Zero-initialised weights (biases) are an ordinary cluster when l1 = 0.
    zeros = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: wt.prox(a, 1.0), (zeros,))
    w = torch.tensor([-3.0, -0.5, 1.0, 4.0], dtype=torch.float64, requires_grad=True)
    assert wt.prox(w, 1.5)[1] == 0
    assert torch.autograd.gradcheck(lambda a: wt.prox(a, 1.5), (w,))
    wt.prox(w, 1.5)[1].backward()
    np.testing.assert_allclose(w.grad.numpy(), [0, 1, 0, 0])


def test_tie_does_not_overflow():
    w = torch.tensor([1e308, 1e308, -1e308], dtype=torch.float64)
    wt.tie_(w, torch.tensor([0, 0, 0]))
    np.testing.assert_allclose(w.numpy(), [1e308 / 3] * 3, rtol=1e-15)
    w = torch.tensor([-1.7e308, 1.7e308, 1.7e308, 5e-324, 5e-324], dtype=torch.float64)
    wt.tie_(w, torch.tensor([0, 0, 0, 1, 1]))
    np.testing.assert_allclose(w[:3].numpy(), [1.7e308 / 3] * 3, rtol=1e-15)
    assert w[3] == w[4] == 5e-324                          # equal values keep their value exactly


def test_errors_name_the_argument_as_the_user_wrote_it():
    t = torch.zeros(3, 4)
    for call in (lambda: wt.prox(t, 1.0, dim=5), lambda: wt.prox_(t, 1.0, dim=5),
                 lambda: wt.penalty(t, dim=5)):
        with pytest.raises(ValueError, match="^dim 5 is out of bounds"):
            call()
    with pytest.raises(ValueError, match="^axis 5 is out of bounds"):
        wt.prox(t, 1.0, axis=5)
    t[1, 3] = float("nan")
    with pytest.raises(ValueError, match=r"^tensor contains NaN at index \(1, 3\)"):
        wt.prox(t, 1.0)
    with pytest.raises(ValueError, match=r"^tensor contains NaN at index \(1, 3\)"):
        wt.prox_(t, 1.0)


@pytest.mark.parametrize("named", [True, False])
def test_step_names_the_parameter_with_a_nan(named):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    opt = torch.optim.SGD(model.named_parameters() if named else model.parameters(), lr=0.1)
    wsp = wt.WeightSharingProx(model.parameters(), 1.0, optimizer=opt)
    with torch.no_grad():
        model[1].weight[1, 2] = float("nan")
    name = " ('1.weight')" if named else ""
    with pytest.raises(ValueError, match=re.escape(f"parameter 2 of group 0{name} contains NaN at index (1, 2)")):
        wsp.step()


def test_without_the_check_nan_or_infinity_gives_nan_and_nothing_raises():
    w = torch.tensor([[0.0, float("nan"), 10.0], [1.0, 2.0, float("inf")]])
    with pytest.raises(ValueError, match="tensor contains NaN at index"):
        wt.prox(w, 1.0)
    for dim in (None, 1):
        assert torch.isnan(wt.prox(w, 1.0, dim=dim, check_finite=False)).all()
        v = w.clone()
        assert wt.prox_(v, 1.0, dim=dim, check_finite=False) is v and torch.isnan(v).all()
    p, q = w.clone(), w.clone()
    wsp = wt.WeightSharingProx([{"params": [p]}, {"params": [q], "check_finite": True}], 1.0,
                               check_finite=False, scale_by_lr=False)
    with pytest.raises(ValueError, match=r"parameter 0 of group 1 contains NaN at index \(0, 1\)"):
        wsp.step()                                   # the second group checks; the first ran
    assert torch.isnan(p).all() and torch.equal(q.isnan(), w.isnan())


def test_without_the_check_finite_tensors_give_the_same_prox_and_gradients():
    w = torch.randn(3, 12, dtype=torch.float64, requires_grad=True)
    lam = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    grads = []
    for check_finite in (True, False):
        x = wt.prox(w, lam, l1=0.05, dim=1, check_finite=check_finite)
        x.pow(2).sum().backward()
        grads.append((x.detach(), w.grad.clone(), lam.grad.clone()))
        w.grad, lam.grad = None, None
    for a, b in zip(*grads):
        assert torch.equal(a, b)
    p = torch.randn(10)
    expected = wsprox.prox(p.numpy(), 0.4)
    wt.WeightSharingProx([p], 0.4, check_finite=False, scale_by_lr=False).step()
    np.testing.assert_array_equal(p.numpy(), expected)


def test_check_finite_is_a_bool_option_of_every_group():
    p, q = torch.zeros(3), torch.zeros(4)
    with pytest.raises(TypeError, match="check_finite must be a bool, got int"):
        wt.WeightSharingProx([p], 1.0, check_finite=1, scale_by_lr=False)
    wsp = wt.WeightSharingProx([p], 1.0, check_finite=False, scale_by_lr=False)
    with pytest.raises(TypeError, match="check_finite of group 1 must be a bool, got str"):
        wsp.add_param_group({"params": [q], "check_finite": "no"})
    wsp.add_param_group({"params": [q], "check_finite": True})
    assert [g["check_finite"] for g in wsp.param_groups] == [False, True]
    for call in (wt.prox, wt.prox_):
        with pytest.raises(TypeError, match="check_finite must be a bool, got NoneType"):
            call(torch.ones(3), 1.0, check_finite=None)
    state = wsp.state_dict()
    for group in state["param_groups"]:
        del group["check_finite"]                    # saved before the option existed
    fresh = wt.WeightSharingProx([{"params": [p]}, {"params": [q], "check_finite": True}], 1.0,
                                 check_finite=False, scale_by_lr=False)
    fresh.load_state_dict(state)
    assert [g["check_finite"] for g in fresh.param_groups] == [False, True]


def test_jacrev_along_a_dimension_is_the_jacobian_of_every_row():
    x = torch.tensor([[0.0, 1.0, 10.0], [3.0, -3.0, 0.5]], dtype=torch.float64)
    jac = torch.func.jacrev(lambda t: wt.prox(t, 2.0, dim=1))(x)
    for r in range(2):
        want = torch.func.jacrev(lambda v: wt.prox(v, 2.0))(x[r])
        torch.testing.assert_close(jac[r, :, r, :], want)
        torch.testing.assert_close(jac[r, :, 1 - r, :], torch.zeros(3, 3, dtype=torch.float64))

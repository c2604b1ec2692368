"""minimize_composite: the minimiser cvxpy finds, with an exact optimality measure that meets tol."""
import cvxpy as cp
import numpy as np
import pytest

import wsprox
from wsprox import optimize
from wsprox.certificate import subdifferential_distance
from wsprox.optimize import minimize_composite
from wsprox.regularizer import sorted_weights


def weight_sharing(x):
    """R(x) = 1/(d-1) sum_{i>j} |x_i - x_j| as a cvxpy expression."""
    d = x.shape[0]
    i, j = np.triu_indices(d, 1)
    D = np.zeros((i.size, d))
    D[np.arange(i.size), i], D[np.arange(i.size), j] = 1.0, -1.0
    return cp.sum(cp.abs(D @ x)) / (d - 1)


def least_squares(seed, n=30, d=8):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d))
    b = A @ rng.choice([-1.0, 0.0, 2.0], size=d) + 0.3 * rng.standard_normal(n)

    def fun_and_grad(x):
        r = A @ x - b
        return 0.5 * r @ r / n, A.T @ r / n

    def loss(x):
        return cp.sum_squares(A @ x - b) / (2 * n)

    fun_and_grad.A = A
    return fun_and_grad, loss, d


def logistic(seed, n=40, d=6):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d))
    y = np.where(A @ rng.choice([-1.0, 1.0], size=d) + rng.standard_normal(n) > 0, 1.0, -1.0)

    def fun_and_grad(x):
        z = -y * (A @ x)
        return np.logaddexp(0.0, z).mean(), A.T @ (-y / (1.0 + np.exp(-z))) / n

    def loss(x):
        return cp.sum(cp.logistic(-cp.multiply(y, A @ x))) / n

    return fun_and_grad, loss, d


def solve_cvxpy(loss, d, lam, l1):
    x = cp.Variable(d)
    cp.Problem(cp.Minimize(loss(x) + lam * weight_sharing(x) + l1 * cp.norm1(x))).solve(
        solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    return x.value


def composite(fun_and_grad, x, lam, l1):
    return fun_and_grad(x)[0] + lam * wsprox.penalty(x) + l1 * np.abs(x).sum()


PROBLEMS = [(least_squares, s, lam, l1) for s, lam, l1 in [(0, 0.3, 0.0), (1, 0.1, 0.05), (2, 2.0, 0.2)]]
PROBLEMS += [(logistic, s, lam, l1) for s, lam, l1 in [(0, 0.05, 0.0), (1, 0.02, 0.01), (2, 0.5, 0.0)]]
VARIANTS = [{}, {"restart": "function"}, {"restart": None}, {"accelerated": False}]


@pytest.mark.parametrize("problem, seed, lam, l1", PROBLEMS)
@pytest.mark.parametrize("options", VARIANTS, ids=["fista", "function-restart", "no-restart", "ista"])
def test_matches_cvxpy_and_certifies(problem, seed, lam, l1, options):
    fun_and_grad, loss, d = problem(seed)
    tol = 1e-10
    res = minimize_composite(fun_and_grad, np.zeros(d), lam, l1=l1, tol=tol, max_iter=20000, **options)
    assert res.success and res.status == 0, res.message
    np.testing.assert_allclose(res.x, solve_cvxpy(loss, d, lam, l1), atol=1e-6)
    g = fun_and_grad(res.x)[1]
    assert res.optimality <= tol * max(1.0, np.linalg.norm(g))
    assert res.optimality == subdifferential_distance(g, res.x, lam, l1=l1)
    assert res.fun == pytest.approx(composite(fun_and_grad, res.x, lam, l1), rel=1e-14)
    assert res.n_clusters == np.unique(res.x).size
    assert res.nfev >= res.nit >= 1


def test_fixed_step_matches_backtracking():
    fun_and_grad, loss, d = least_squares(3)
    step = 30 / np.linalg.norm(fun_and_grad.A, 2) ** 2                 # 1 / L
    res = minimize_composite(fun_and_grad, np.ones(d), 0.2, l1=0.1, step=step, tol=1e-10, max_iter=5000)
    assert res.success and res.step == step
    np.testing.assert_allclose(res.x, solve_cvxpy(loss, d, 0.2, 0.1), atol=1e-6)


def test_one_step_of_unit_length_is_the_prox():
    # f = 0.5||x - w||^2: x - grad f(x) = w, so one step of length 1 lands on the prox,
    # whose clusters are exact: the measure is zero there, not merely small.
    w = np.array([3.0, -1.0, 0.2, 0.25, 3.1, -0.05])
    res = minimize_composite(lambda x: (0.5 * np.sum((x - w) ** 2), x - w), np.zeros(6), 1.0, l1=0.3,
                             step=1.0, tol=1e-15)
    np.testing.assert_array_equal(res.x, wsprox.prox(w, 1.0, l1=0.3))
    assert res.nit == 1 and res.optimality <= 1e-15 and res.success


def test_stops_at_x0_when_it_is_optimal():
    w = np.array([0.0, 1.0, 10.0])
    x = wsprox.prox(w, 2.0)
    res = minimize_composite(lambda v: (0.5 * np.sum((v - w) ** 2), v - w), x, 2.0)
    assert res.nit == 0 and res.success and np.array_equal(res.x, x)


def test_nd_start_is_one_flattened_vector():
    fun_and_grad, loss, _ = least_squares(4, d=12)
    calls = []

    def fun_and_grad_2d(X):
        calls.append(X.shape)
        f, g = fun_and_grad(X.ravel())
        return f, g.reshape(X.shape)

    res = minimize_composite(fun_and_grad_2d, np.zeros((3, 4)), 0.3, tol=1e-10)
    flat = minimize_composite(fun_and_grad, np.zeros(12), 0.3, tol=1e-10)
    assert res.x.shape == (3, 4) and set(calls) == {(3, 4)}
    np.testing.assert_allclose(res.x.ravel(), flat.x, atol=1e-12)
    np.testing.assert_allclose(res.x.ravel(), solve_cvxpy(loss, 12, 0.3, 0.0), atol=1e-6)


def test_one_warm_state_serves_every_prox(monkeypatch):
    states = []

    def recording_prox(w, lam, *, l1=0.0, warm=None):
        states.append(warm)
        return wsprox.prox(w, lam, l1=l1, warm=warm)

    monkeypatch.setattr(optimize, "prox", recording_prox)
    fun_and_grad, _, d = least_squares(5, n=200, d=100)
    minimize_composite(fun_and_grad, np.zeros(d), 0.05, tol=1e-9)
    assert len(states) > 5 and all(s is states[0] for s in states)
    assert isinstance(states[0], wsprox.ProxState)
    assert states[0].reused          # the order of the late iterates is repaired, not sorted


def test_backtracking_stays_inside_the_domain():
    # f(x) = sum(x - a log x) is infinite for x <= 0; long steps land there and are shortened.
    a = np.array([0.5, 1.0, 4.0, 0.01, 2.0])

    def fun_and_grad(x):
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.sum(x - a * np.log(x)) if np.all(x > 0) else np.inf
            return f, 1.0 - a / x

    res = minimize_composite(fun_and_grad, np.ones(5), 0.1, tol=1e-10, max_iter=20000)
    # The minimiser keeps the order of a, so grad R is c_rank: 1 - a/x + 0.1 c = 0.
    c = sorted_weights(5)[np.argsort(np.argsort(a))]
    assert res.success
    np.testing.assert_allclose(res.x, a / (1.0 + 0.1 * c), rtol=1e-9)


def test_max_iter_and_callback():
    fun_and_grad, _, d = least_squares(6)
    res = minimize_composite(fun_and_grad, np.zeros(d), 0.1, max_iter=3)
    assert not res.success and res.status == 1 and res.nit == 3 and "max_iter" in res.message
    seen = []

    def callback(intermediate):
        seen.append(intermediate.nit)
        assert intermediate.optimality >= 0 and intermediate.x.shape == (d,)
        if intermediate.nit == 2:
            raise StopIteration

    res = minimize_composite(fun_and_grad, np.zeros(d), 0.1, callback=callback)
    assert seen == [1, 2] and res.nit == 2 and res.status == 2 and not res.success


def test_inputs_are_not_modified():
    fun_and_grad, _, d = least_squares(7)
    x0 = np.ones(d)
    res = minimize_composite(fun_and_grad, x0, 0.1)
    assert np.array_equal(x0, np.ones(d)) and res.x is not x0


@pytest.mark.parametrize("kwargs, error, match", [
    ({"x0": np.array([])}, ValueError, "x0 is empty"),
    ({"x0": np.array([1.0, np.nan])}, ValueError, "x0"),
    ({"x0": np.array([1j, 2j])}, TypeError, "x0"),
    ({"lam": -1.0}, ValueError, "lam"),
    ({"l1": np.inf}, ValueError, "l1"),
    ({"tol": -1e-3}, ValueError, "tol"),
    ({"step": "armijo"}, ValueError, "step"),
    ({"step": 0.0}, ValueError, "step"),
    ({"step": np.nan}, ValueError, "step"),
    ({"step": [1.0]}, TypeError, "step"),
    ({"restart": "always"}, ValueError, "restart"),
    ({"accelerated": "yes"}, TypeError, "accelerated"),
    ({"max_iter": -1}, ValueError, "max_iter"),
    ({"max_iter": 2.5}, TypeError, "max_iter"),
    ({"callback": 3}, TypeError, "callback"),
    ({"fun_and_grad": None}, TypeError, "fun_and_grad"),
    ({"fun_and_grad": lambda x: (np.inf, x)}, ValueError, "not finite"),
    ({"fun_and_grad": lambda x: (0.0, np.zeros(2))}, ValueError, "gradient of size 2"),
])
def test_bad_input(kwargs, error, match):
    args = {"fun_and_grad": lambda x: (0.5 * x @ x, x), "x0": np.ones(3), "lam": 0.1} | kwargs
    with pytest.raises(error, match=match):
        minimize_composite(args.pop("fun_and_grad"), args.pop("x0"), args.pop("lam"), **args)


def test_acceleration_and_restart_pay_off_on_an_ill_conditioned_problem():
    # Strongly convex, condition number 100: FISTA beats ISTA, and restarting the momentum
    # recovers a linear rate that plain FISTA lacks (O'Donoghue and Candes).
    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    A = U * np.geomspace(1.0, 0.1, 30)
    b = rng.standard_normal(30)

    def fun_and_grad(x):
        r = A @ x - b
        return 0.5 * r @ r, A.T @ r

    nit = {name: minimize_composite(fun_and_grad, np.zeros(30), 0.01, tol=1e-7, max_iter=100000, **options).nit
           for name, options in [("ista", {"accelerated": False}), ("fista", {"restart": None}),
                                 ("gradient", {}), ("function", {"restart": "function"})]}
    assert nit["gradient"] < nit["fista"] / 3 and nit["function"] < nit["fista"] / 3
    assert nit["fista"] < nit["ista"]


@pytest.mark.parametrize("returns, error, match", [
    (lambda x: (x, x), TypeError, "f a real scalar"),                 # a vector f
    (lambda x: float(x @ x), TypeError, "must return a pair"),         # f alone
    (lambda x: (1.0, x, x), TypeError, "must return a pair"),
    (lambda x: (x @ x, "g"), TypeError, "g a real array"),
    (lambda x: (x @ x, np.ones(2)), ValueError, "gradient of size 2, expected 3"),
])
def test_fun_and_grad_that_returns_the_wrong_thing_is_named(returns, error, match):
    with pytest.raises(error, match=f"fun_and_grad.*{match}"):
        minimize_composite(returns, np.zeros(3), 0.1)

"""The weight-sharing estimators: scikit-learn's contract, and the minimisers cvxpy and scikit-learn find."""
import cvxpy as cp
import numpy as np
import pytest
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, LinearRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.utils.estimator_checks import check_estimator
from test_optimize import weight_sharing

from wsprox.linear_model import WeightSharingClassifier, WeightSharingRegression, _Intercept


def regression_data(seed, n=60, p=8):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) + rng.normal(size=p)         # features not centred
    coef = rng.choice([-1.0, 0.0, 2.0], size=p)
    return X, X @ coef + 3.0 + 0.5 * rng.standard_normal(n)


def classification_data(seed, n=80, p=6):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) + 0.5
    score = X @ rng.choice([-1.0, 1.0], size=p) - 1.0 + rng.standard_normal(n)
    return X, np.where(score > 0, "spam", "ham")


@pytest.mark.parametrize("estimator", [WeightSharingRegression(), WeightSharingClassifier()],
                         ids=["regression", "classifier"])
def test_check_estimator(estimator):
    check_estimator(estimator)


@pytest.mark.parametrize("seed, alpha, alpha_l1, fit_intercept",
                         [(0, 0.3, 0.0, True), (1, 0.1, 0.05, True), (2, 1.0, 0.2, False)])
def test_regression_matches_cvxpy(seed, alpha, alpha_l1, fit_intercept):
    X, y = regression_data(seed)
    n, p = X.shape
    model = WeightSharingRegression(alpha=alpha, alpha_l1=alpha_l1, fit_intercept=fit_intercept,
                                    tol=1e-10, max_iter=10000).fit(X, y)
    w, b = cp.Variable(p), cp.Variable()
    objective = (cp.sum_squares(y - X @ w - (b if fit_intercept else 0)) / (2 * n)
                 + alpha * weight_sharing(w) + alpha_l1 * cp.norm1(w))
    cp.Problem(cp.Minimize(objective)).solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12)
    np.testing.assert_allclose(model.coef_, w.value, atol=1e-6)
    assert model.intercept_ == pytest.approx(b.value if fit_intercept else 0.0, abs=1e-6)
    assert model.coef_.shape == (p,) and isinstance(model.intercept_, float)
    Xc, yc = (X - X.mean(0), y - y.mean()) if fit_intercept else (X, y)
    assert model.optimality_ <= 1e-10 * max(1.0, np.linalg.norm(Xc.T @ (Xc @ model.coef_ - yc)) / n)
    np.testing.assert_allclose(model.predict(X), X @ w.value + (b.value if fit_intercept else 0), atol=1e-5)


def test_regression_without_weight_sharing_is_lasso_and_least_squares():
    X, y = regression_data(3)
    lasso = Lasso(alpha=0.2, tol=1e-12, max_iter=100000).fit(X, y)
    model = WeightSharingRegression(alpha=0.0, alpha_l1=0.2, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(model.coef_, lasso.coef_, atol=1e-7)
    assert model.intercept_ == pytest.approx(lasso.intercept_, abs=1e-7)
    ols = LinearRegression().fit(X, y)
    model = WeightSharingRegression(alpha=0.0, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(model.coef_, ols.coef_, atol=1e-7)


@pytest.mark.parametrize("seed, alpha, alpha_l1, fit_intercept",
                         [(0, 0.05, 0.0, True), (1, 0.02, 0.01, True), (2, 0.1, 0.0, False)])
def test_classifier_matches_cvxpy(seed, alpha, alpha_l1, fit_intercept):
    X, y = classification_data(seed)
    n, p = X.shape
    clf = WeightSharingClassifier(alpha=alpha, alpha_l1=alpha_l1, fit_intercept=fit_intercept,
                                  tol=1e-10, max_iter=10000).fit(X, y)
    s = np.where(y == "spam", 1.0, -1.0)
    w, b = cp.Variable(p), cp.Variable()
    margin = cp.multiply(s, X @ w + (b if fit_intercept else 0))
    objective = cp.sum(cp.logistic(-margin)) / n + alpha * weight_sharing(w) + alpha_l1 * cp.norm1(w)
    cp.Problem(cp.Minimize(objective)).solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10)
    np.testing.assert_allclose(clf.coef_[0], w.value, atol=1e-6)
    np.testing.assert_allclose(clf.intercept_, [b.value if fit_intercept else 0.0], atol=1e-6)
    assert clf.coef_.shape == (1, p) and clf.intercept_.shape == (1,)
    assert list(clf.classes_) == ["ham", "spam"]


def test_classifier_probabilities():
    X, y = classification_data(4)
    clf = WeightSharingClassifier(alpha=0.05).fit(X, y)
    z = clf.decision_function(X)
    np.testing.assert_allclose(z, X @ clf.coef_[0] + clf.intercept_[0])
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], expit(z))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-12)
    assert np.array_equal(clf.predict(X), clf.classes_[np.argmax(proba, axis=1)])
    # Far from the boundary the log-probabilities stay finite where the probabilities round to 0.
    far = np.full((1, X.shape[1]), 1e3) * np.sign(clf.coef_)
    assert np.all(np.isfinite(clf.predict_log_proba(far)))


def test_labels_are_the_clusters_of_the_coefficients():
    X, y = regression_data(5, n=200, p=10)
    model = WeightSharingRegression(alpha=0.5).fit(X, y)
    values, labels = np.unique(model.coef_, return_inverse=True)
    assert model.n_clusters_ == values.size < 10
    np.testing.assert_array_equal(model.labels_, labels)
    np.testing.assert_array_equal(values[model.labels_], model.coef_)
    clf = WeightSharingClassifier(alpha=0.2).fit(*classification_data(5))
    assert clf.labels_.shape == clf.coef_.shape and clf.n_clusters_ == np.unique(clf.coef_).size


def test_intercept_is_the_root_at_every_scale():
    rng = np.random.default_rng(6)
    t = (rng.random(50) < 0.3).astype(float)
    intercept = _Intercept(t)
    for scale in [0.0, 1e-3, 1.0, 30.0, 300.0, 3000.0]:
        z = scale * rng.standard_normal(50)
        b = intercept(z)
        assert abs(expit(z + b).sum() - t.sum()) <= 1e-13
        # The objective is minimal at b: no neighbour does better.
        loss = [np.sum(np.logaddexp(0.0, z + c) - t * (z + c)) for c in (b - 1e-6, b, b + 1e-6)]
        assert loss[1] <= min(loss[0], loss[2]) + 1e-12 * max(1.0, abs(loss[1]))


@pytest.mark.parametrize("estimator, data", [
    (WeightSharingRegression(), regression_data(7, n=90)),
    (WeightSharingClassifier(), classification_data(7, n=90)),
], ids=["regression", "classifier"])
def test_grid_search(estimator, data):
    X, y = data
    grid = {"alpha": [0.01, 0.1, 1.0], "alpha_l1": [0.0, 0.05]}
    cv = KFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(estimator, grid, cv=cv).fit(X, y)
    scores = {(a, b): cross_val_score(type(estimator)(alpha=a, alpha_l1=b), X, y, cv=cv).mean()
              for a in grid["alpha"] for b in grid["alpha_l1"]}
    best = max(scores, key=scores.get)
    assert (search.best_params_["alpha"], search.best_params_["alpha_l1"]) == best
    assert search.best_score_ == pytest.approx(scores[best])
    assert search.best_estimator_.n_clusters_ >= 1
    assert search.predict(X).shape == y.shape


def test_warns_when_max_iter_is_too_small():
    X, y = regression_data(8)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        model = WeightSharingRegression(alpha=0.1, max_iter=2).fit(X, y)
    assert model.n_iter_ == 2


def test_classifier_refuses_multiclass_and_one_class():
    X = np.random.default_rng(9).standard_normal((30, 3))
    with pytest.raises(ValueError, match="Only binary classification is supported"):
        WeightSharingClassifier().fit(X, np.arange(30) % 3)
    with pytest.raises(ValueError, match="only one class"):
        WeightSharingClassifier().fit(X, np.ones(30))


@pytest.mark.parametrize("params, match", [
    ({"alpha": -1.0}, "alpha"), ({"alpha_l1": np.nan}, "alpha_l1"), ({"tol": -1.0}, "tol"), ({"max_iter": -3}, "max_iter"),
])
def test_bad_parameters(params, match):
    X, y = regression_data(10)
    with pytest.raises(ValueError, match=match):
        WeightSharingRegression(**params).fit(X, y)

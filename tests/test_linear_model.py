"""The weight-sharing estimators: scikit-learn's contract, and the minimisers cvxpy and scikit-learn find."""
import warnings

import cvxpy as cp
import numpy as np
import pytest
from joblib import parallel_config
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, LinearRegression
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.utils.estimator_checks import check_estimator
from test_optimize import weight_sharing

from wsprox.linear_model import (
    WeightSharingClassifier,
    WeightSharingClassifierCV,
    WeightSharingRegression,
    WeightSharingRegressionCV,
)
from wsprox.linear_model._problems import Intercept


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


def grouped_data(seed, n=60, p=100, values=(-2.0, 0.0, 1.0, 3.0), noise=0.5):
    """A grouped regression: every true coefficient is one of ``values``; more features than samples."""
    rng = np.random.default_rng(seed)
    coef = np.asarray(values)[rng.integers(0, len(values), size=p)]
    X = rng.standard_normal((n, p))
    return X, X @ coef + 1.0 + noise * rng.standard_normal(n)


# The CV estimators with small grids: the checks fit them many times. The classifier's
# alpha_l1 > 0 makes the objective coercive: a fold of iris that a direction with all
# coefficients equal separates has no minimiser otherwise (see WeightSharingClassifier).
@pytest.mark.parametrize("estimator", [
    WeightSharingRegression(), WeightSharingClassifier(),
    WeightSharingRegressionCV(alphas=4, cv=3), WeightSharingClassifierCV(alphas=4, cv=3, alpha_l1=0.01),
], ids=["regression", "classifier", "regression_cv", "classifier_cv"])
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
    intercept = Intercept(t)
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


# -- The defaults converge; alpha chosen by cross-validation -------------------------------------


@pytest.mark.parametrize("alpha", np.geomspace(1e-3, 1.0, 4))
def test_defaults_converge_on_a_grouped_regression(alpha):
    # 60 samples, 100 features: small alpha is the hard case (thousands of FISTA steps).
    X, y = grouped_data(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = WeightSharingRegression(alpha=alpha).fit(X, y)
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    gradient = Xc.T @ (Xc @ model.coef_ - yc) / len(y)
    assert model.optimality_ <= 1e-6 * max(1.0, np.linalg.norm(gradient))
    assert model.n_iter_ <= model.max_iter


def test_regression_cv_chooses_the_alpha_of_grid_search():
    X, y = grouped_data(1, n=60, p=30)
    alphas = np.geomspace(1.0, 1e-3, 8)
    cv = KFold(4, shuffle=True, random_state=0)
    model = WeightSharingRegressionCV(alphas=alphas, cv=cv).fit(X, y)
    search = GridSearchCV(WeightSharingRegression(), {"alpha": alphas}, cv=cv,
                          scoring="neg_mean_squared_error").fit(X, y)
    # The same folds and grid: the same errors (up to the solvers' tolerance), the same choice.
    # Each fit is within tol = 1e-6 of optimal (warm-started or not): errors and coefficients agree to ~1e-5.
    results = search.cv_results_
    np.testing.assert_allclose(model.mse_path_.mean(axis=1), -results["mean_test_score"], rtol=1e-3)
    for k in range(4):
        np.testing.assert_allclose(model.mse_path_[:, k], -results[f"split{k}_test_score"], rtol=1e-3)
    assert model.alpha_ == search.best_params_["alpha"]
    np.testing.assert_allclose(model.coef_, search.best_estimator_.coef_, atol=1e-4)
    assert model.intercept_ == pytest.approx(search.best_estimator_.intercept_, abs=1e-4)
    assert model.score(X, y) == pytest.approx(search.best_estimator_.score(X, y), abs=1e-6)


def test_regression_cv_with_more_features_than_samples():
    # The grouped problem of the issue (60 x 100) on the CV estimator's own grid: the choice
    # is that of GridSearchCV up to the tolerance of the fits (the same alpha, or a held-out
    # error as small).
    X, y = grouped_data(2, n=60, p=100)
    cv = KFold(3, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = WeightSharingRegressionCV(alphas=6, eps=1e-2, cv=cv).fit(X, y)
        search = GridSearchCV(WeightSharingRegression(), {"alpha": model.alphas_}, cv=cv,
                              scoring="neg_mean_squared_error").fit(X, y)
    errors = -search.cv_results_["mean_test_score"]
    np.testing.assert_allclose(model.mse_path_.mean(axis=1), errors, rtol=1e-3)
    chosen = np.flatnonzero(model.alphas_ == model.alpha_)[0]
    assert 0 < chosen < 5                                         # an interior minimum: a real choice
    assert model.alpha_ == search.best_params_["alpha"] or errors[chosen] <= errors.min() * (1 + 1e-3)


@pytest.mark.parametrize("scoring", [None, "neg_log_loss"])
def test_classifier_cv_chooses_the_alpha_of_grid_search(scoring):
    X, y = classification_data(11, n=120, p=8)
    alphas = np.geomspace(0.3, 3e-4, 7)         # from the largest: ties go to the largest alpha in both
    model = WeightSharingClassifierCV(alphas=alphas, cv=4, scoring=scoring).fit(X, y)
    search = GridSearchCV(WeightSharingClassifier(), {"alpha": alphas}, cv=StratifiedKFold(4),
                          scoring=scoring).fit(X, y)
    np.testing.assert_allclose(model.scores_.mean(axis=0), search.cv_results_["mean_test_score"], rtol=1e-3)
    assert model.alpha_ == search.best_params_["alpha"]
    np.testing.assert_allclose(model.coef_, search.best_estimator_.coef_, atol=1e-4)
    np.testing.assert_allclose(model.intercept_, search.best_estimator_.intercept_, atol=1e-4)
    assert np.array_equal(model.predict(X), search.predict(X))


def test_regression_cv_attributes():
    X, y = grouped_data(3, n=50, p=12)
    model = WeightSharingRegressionCV(alphas=7, cv=3).fit(X, y)
    assert model.alphas_.shape == (7,) and model.mse_path_.shape == (7, 3)
    assert np.all(np.diff(model.alphas_) < 0)
    np.testing.assert_allclose(model.alphas_[-1] / model.alphas_[0], 1e-3)
    assert model.alpha_ in model.alphas_
    assert model.alpha_ == model.alphas_[np.argmin(model.mse_path_.mean(axis=1))]
    assert model.coef_.shape == (12,) and isinstance(model.intercept_, float)
    assert model.labels_.shape == (12,) and model.n_clusters_ == np.unique(model.coef_).size
    assert model.n_iter_ >= 1 and model.n_features_in_ == 12
    # The refit is the estimator at alpha_ (up to the tolerance).
    refit = WeightSharingRegression(alpha=model.alpha_, tol=1e-10, max_iter=100000).fit(X, y)
    np.testing.assert_allclose(model.coef_, refit.coef_, atol=1e-5)
    assert model.predict(X).shape == y.shape
    # The grid starts where all the coefficients share one value, and no earlier (at alpha_max
    # itself the solver meets them only in the limit).
    assert WeightSharingRegression(alpha=1.001 * model.alphas_[0]).fit(X, y).n_clusters_ == 1
    assert WeightSharingRegression(alpha=0.99 * model.alphas_[0]).fit(X, y).n_clusters_ > 1


@pytest.mark.parametrize("alpha_l1, fit_intercept", [(0.05, True), (0.0, False)])
def test_cv_grid_starts_at_one_cluster(alpha_l1, fit_intercept):
    # alpha_max is exact where the shared value is not 0 (an upper bound where L1 sets it to 0).
    X, y = grouped_data(4, n=40, p=10)
    Xc, t = classification_data(4)
    for estimator, cv_estimator, data in [(WeightSharingRegression, WeightSharingRegressionCV, (X, y)),
                                          (WeightSharingClassifier, WeightSharingClassifierCV, (Xc, t))]:
        options = {"alpha_l1": alpha_l1, "fit_intercept": fit_intercept}
        alpha_max = cv_estimator(alphas=3, cv=3, **options).fit(*data).alphas_[0]
        top = estimator(alpha=1.001 * alpha_max, **options).fit(*data)
        assert top.n_clusters_ == 1
        if np.any(top.coef_ != 0):
            assert estimator(alpha=0.99 * alpha_max, **options).fit(*data).n_clusters_ > 1


def test_classifier_cv_attributes():
    X, y = classification_data(12, n=90, p=5)
    clf = WeightSharingClassifierCV(alphas=[0.001, 0.1, 0.01], cv=3).fit(X, y)
    np.testing.assert_array_equal(clf.alphas_, [0.1, 0.01, 0.001])      # sorted from the largest
    assert clf.scores_.shape == (3, 3) and clf.alpha_ in clf.alphas_
    assert clf.coef_.shape == (1, 5) and clf.intercept_.shape == (1,) and clf.labels_.shape == (1, 5)
    assert list(clf.classes_) == ["ham", "spam"]
    assert np.all((clf.scores_ >= 0) & (clf.scores_ <= 1))           # accuracies
    assert clf.predict_proba(X).shape == (90, 2)


def test_cv_folds_in_parallel_give_the_same_answer():
    # Threads: fresh worker processes would spend seconds compiling the prox.
    X, y = grouped_data(5, n=40, p=8)
    one = WeightSharingRegressionCV(alphas=4, cv=3).fit(X, y)
    with parallel_config(backend="threading"):
        two = WeightSharingRegressionCV(alphas=4, cv=3, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(one.mse_path_, two.mse_path_)
    np.testing.assert_array_equal(one.coef_, two.coef_)


def test_cv_warns_once_for_the_path():
    X, y = grouped_data(6, n=40, p=20)
    with pytest.warns(ConvergenceWarning) as record:
        WeightSharingRegressionCV(alphas=3, cv=3, max_iter=2).fit(X, y)
    messages = [str(w.message) for w in record]
    assert sum("fits along the cross-validation path did not converge" in m for m in messages) == 1
    assert sum("did not converge: max_iter" in m for m in messages) <= 1        # the refit


def test_classifier_cv_refuses_a_fold_of_one_class():
    X, y = classification_data(13, n=40)
    order = np.argsort(y, kind="stable")
    train, test = order[: np.sum(y == "ham")], order[np.sum(y == "ham"):]
    with pytest.raises(ValueError, match="one class"):
        WeightSharingClassifierCV(alphas=2, cv=[(train, test)]).fit(X, y)


@pytest.mark.parametrize("params, error, match", [
    ({"alphas": 0}, ValueError, "alphas"), ({"alphas": True}, TypeError, "alphas"),
    ({"alphas": [0.1, -1.0]}, ValueError, "alphas"), ({"alphas": [[0.1]]}, ValueError, "alphas"),
    ({"alphas": []}, ValueError, "alphas"), ({"alphas": "many"}, TypeError, "alphas"),
    ({"alphas": 2.5}, ValueError, "alphas"), ({"eps": 0.0}, ValueError, "eps"),
    ({"eps": "x"}, TypeError, "eps"),
    ({"alpha_l1": -1.0}, ValueError, "alpha_l1"), ({"tol": np.inf}, ValueError, "tol"),
    ({"max_iter": -1}, ValueError, "max_iter"), ({"max_iter": 1.5}, TypeError, "max_iter"),
])
def test_cv_bad_parameters(params, error, match):
    X, y = regression_data(14)
    with pytest.raises(error, match=match):
        WeightSharingRegressionCV(**params).fit(X, y)

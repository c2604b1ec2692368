"""Grouped coefficients: weight sharing against the Lasso and ridge (docs/grouped_regression.rst).

The data of the page: 30 samples, 40 features whose true coefficients are 1
or 3. Left: the estimates, features sorted by true value. Right: the
weight-sharing solution path over alpha (warm-started), its coefficient
error and its number of distinct values.
"""
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LassoCV, RidgeCV
from sklearn.model_selection import GridSearchCV

from wsprox.linear_model import WeightSharingRegression
from wsprox.path import solution_path

rng = np.random.default_rng(0)
n, p = 30, 40
groups = rng.integers(0, 2, size=p)
coef = np.array([1.0, 3.0])[groups]
X = rng.standard_normal((n, p))
y = X @ coef + 0.5 * rng.standard_normal(n)

alphas = np.geomspace(0.02, 1.0, 6)
search = GridSearchCV(WeightSharingRegression(max_iter=5000), {"alpha": alphas}, cv=5).fit(X, y)
models = {
    f"weight sharing (alpha = {search.best_params_['alpha']:.3g})": search.best_estimator_.coef_,
    "Lasso (cross-validated)": LassoCV(cv=5).fit(X, y).coef_,
    "ridge (cross-validated)": RidgeCV(alphas=np.geomspace(1e-3, 1e3, 30)).fit(X, y).coef_,
}

fig, (left, right) = plt.subplots(1, 2, figsize=(10.0, 3.8), width_ratios=(3, 2))
order = np.argsort(coef, kind="stable")
left.step(np.arange(p), coef[order], where="mid", color="k", lw=2, label="true")
for (name, estimate), marker in zip(models.items(), "os^", strict=True):
    error = np.linalg.norm(estimate - coef)
    left.plot(np.arange(p), estimate[order], marker, ms=4, label=f"{name}: error {error:.2f}")
left.set_xlabel("feature (sorted by true coefficient)")
left.set_ylabel("coefficient")
left.legend(loc="upper left", fontsize=7, frameon=False)

# The path in the objective's own terms: f = ||y - Xw - b||^2 / (2n), centred.
Xc, yc = X - X.mean(axis=0), y - y.mean()


def fun_and_grad(w):
    r = Xc @ w - yc
    return 0.5 * r @ r / n, Xc.T @ r / n


grid = np.geomspace(1e-3, 3.0, 15)
path = solution_path(fun_and_grad, np.zeros(p), grid, tol=1e-6, max_iter=5000)
right.semilogx(grid, np.linalg.norm(path.x - coef, axis=1), color="C0")
right.set_xlabel("alpha")
right.set_ylabel("coefficient error", color="C0")
twin = right.twinx()
twin.semilogx(grid, path.n_clusters, color="C3", drawstyle="steps-mid")
twin.set_ylabel("distinct coefficient values", color="C3")
right.set_title("weight-sharing solution path")

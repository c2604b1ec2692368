r"""Linear models with weight sharing: scikit-learn estimators fitted by :func:`wsprox.optimize.minimize_composite`.

Both estimators penalise the coefficients :math:`w \in \mathbb{R}^p` (not the
intercept :math:`b`) with

.. math::

    \alpha R(w) + \alpha_{\ell_1} \|w\|_1,
    \qquad R(w) = \frac{1}{p-1}\sum_{i>j}|w_i - w_j|,

which pulls coefficients together until they share values (the weight
sharing) and, with :math:`\alpha_{\ell_1} > 0`, the shared values toward zero.
For a single non-zero coefficient :math:`R(w) = \|w\|_1`, so ``alpha`` is on
the scale of the ``alpha`` of :class:`sklearn.linear_model.Lasso`. The
fitted coefficients come with their clusters: ``labels_`` (coefficients of
equal value share a label, numbered by increasing value) and
``n_clusters_``.

The solver is FISTA with backtracking and adaptive restart; it stops when
the exact distance from 0 to the subdifferential of the objective (see
:mod:`wsprox.optimize`) is at most ``tol * max(1, ||grad f(w)||)``, which
for these losses bounds how far the fitted coefficients can be from
optimal, not merely how slowly they move. Small ``alpha`` with more
features than samples is the hard case (the loss is flat along many
directions, and FISTA needs thousands of steps): the default ``max_iter =
10000`` covers it for ordinary problems.

:class:`WeightSharingRegressionCV` and :class:`WeightSharingClassifierCV`
choose ``alpha`` by cross-validation, as :class:`sklearn.linear_model.LassoCV`
does: on every fold they solve the whole grid of ``alpha`` from the largest
down, each solve warm-started at the previous solution, then refit on all
the data at the ``alpha`` of the best mean score. Warm starts make the grid
several times cheaper than :class:`~sklearn.model_selection.GridSearchCV`
over the base estimators, with the same folds and the same answer (up to
``tol``).
"""
from __future__ import annotations

import functools
import math
import numbers
import warnings

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, validate_data

from ._validation import check_penalty_weight
from .optimize import minimize_composite
from .path import collapse_threshold
from .regularizer import penalty

__all__ = ["WeightSharingClassifier", "WeightSharingClassifierCV", "WeightSharingRegression",
           "WeightSharingRegressionCV"]

# The default max_iter: enough FISTA steps for small alpha with more features than samples.
_MAX_ITER = 10000


class _WeightSharingModel(BaseEstimator):
    """The parameters, the fit and the fitted attributes shared by the estimators."""

    def __init__(self, alpha=1.0, *, alpha_l1=0.0, fit_intercept=True, tol=1e-6, max_iter=_MAX_ITER):
        self.alpha = alpha
        self.alpha_l1 = alpha_l1
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter

    def _solver_options(self):
        """``alpha_l1``, ``tol`` and ``max_iter``, checked."""
        return (check_penalty_weight(self.alpha_l1, "alpha_l1"), check_penalty_weight(self.tol, "tol"),
                _check_max_iter(self.max_iter))

    def _solve(self, problem, alpha, x0=None, *, stacklevel=3):
        """Minimise ``problem`` + the penalty from ``x0`` (default 0): the coefficients and the intercept.

        Sets ``n_iter_``, ``optimality_``, ``labels_`` and ``n_clusters_``.
        """
        alpha_l1, tol, max_iter = self._solver_options()
        start = np.zeros(problem.n_features) if x0 is None else x0
        res = minimize_composite(problem, start, alpha, l1=alpha_l1, tol=tol, max_iter=max_iter)
        if not res.success:
            warnings.warn(f"{type(self).__name__} did not converge: {res.message} (optimality "
                          f"{res.optimality:.3g}); increase max_iter or tol", ConvergenceWarning,
                          stacklevel=stacklevel)
        self.n_iter_ = res.nit
        self.optimality_ = res.optimality
        values, labels = np.unique(res.x, return_inverse=True)
        self.labels_ = labels.astype(np.int64)
        self.n_clusters_ = int(values.size)
        return res.x, problem.intercept(res.x)


class WeightSharingRegression(RegressorMixin, _WeightSharingModel):
    r"""Least squares with weight sharing (and optionally L1).

    Minimises over the coefficients :math:`w` and the intercept :math:`b`

    .. math::

        \frac{1}{2n}\|y - Xw - b\|^2 + \alpha R(w) + \alpha_{\ell_1}\|w\|_1,
        \qquad R(w) = \frac{1}{p-1}\sum_{i>j}|w_i - w_j|,

    the intercept not penalised (it is eliminated by centring ``X`` and
    ``y``, which is exact).

    Parameters
    ----------
    alpha : float, default=1.0
        Weight-sharing strength :math:`\alpha \ge 0`.
    alpha_l1 : float, default=0.0
        L1 strength :math:`\alpha_{\ell_1} \ge 0`.
    fit_intercept : bool, default=True
        Fit :math:`b`; ``False`` fixes it at 0.
    tol : float, default=1e-6
        Tolerance on the exact optimality measure (see :mod:`wsprox.linear_model`).
    max_iter : int, default=10000
        The most FISTA steps; a :class:`~sklearn.exceptions.ConvergenceWarning`
        says when they did not suffice.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        The coefficients :math:`w`.
    intercept_ : float
        The intercept :math:`b` (0.0 without ``fit_intercept``).
    labels_ : ndarray of int64, shape (n_features,)
        The cluster of every coefficient: equal coefficients share a label,
        labels ``0..n_clusters_-1`` by increasing value.
    n_clusters_ : int
        The number of distinct coefficient values.
    n_iter_ : int
        FISTA steps taken.
    optimality_ : float
        The exact optimality measure at ``coef_``.
    n_features_in_ : int
        Number of features seen by :meth:`fit`.
    feature_names_in_ : ndarray of str
        Their names, when ``X`` has string column names.

    See Also
    --------
    WeightSharingRegressionCV : ``alpha`` chosen by cross-validation.
    WeightSharingClassifier : The logistic counterpart.
    sklearn.linear_model.Lasso : The L1 penalty alone.

    Examples
    --------
    Ten features, whose true coefficients take the values 0, 1 and 3:

    >>> import numpy as np
    >>> from wsprox.linear_model import WeightSharingRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((500, 10))
    >>> w = np.array([0, 0, 0, 1, 1, 1, 3, 3, 3, 3.0])
    >>> y = X @ w + 2.0 + 0.1 * rng.standard_normal(500)
    >>> model = WeightSharingRegression(alpha=0.1, alpha_l1=0.05).fit(X, y)
    >>> model.n_clusters_, model.labels_
    (3, array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2]))
    >>> np.round(model.coef_, 2), round(model.intercept_, 2)
    (array([0.02, 0.02, 0.02, 0.96, 0.96, 0.96, 2.89, 2.89, 2.89, 2.89]), 1.99)
    >>> round(model.score(X, y), 3)
    0.998
    """

    def fit(self, X, y):
        """Fit the coefficients and the intercept.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,)

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        alpha = check_penalty_weight(self.alpha, "alpha")
        problem = _LeastSquares(X, y, fit_intercept=self.fit_intercept)
        self.coef_, self.intercept_ = self._solve(problem, alpha)
        return self

    def predict(self, X):
        """Predict ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_ + self.intercept_


class WeightSharingClassifier(ClassifierMixin, _WeightSharingModel):
    r"""Binary logistic regression with weight sharing (and optionally L1).

    With the labels coded :math:`s_i \in \{-1, +1\}` (``+1`` for
    ``classes_[1]``), minimises over :math:`w` and the intercept :math:`b`

    .. math::

        \frac{1}{n}\sum_{i=1}^n \log\bigl(1 + e^{-s_i (x_i^\top w + b)}\bigr)
        + \alpha R(w) + \alpha_{\ell_1}\|w\|_1,
        \qquad R(w) = \frac{1}{p-1}\sum_{i>j}|w_i - w_j|,

    the intercept not penalised: the smooth part handed to the solver is
    :math:`\min_b` of the loss, a convex function of :math:`w` whose gradient
    is that of the loss at the optimal :math:`b` (found by a safeguarded
    Newton iteration within a bracket known in closed form, warm-started
    from the previous one), so the problem solved is exactly the one above.
    Binary only: a multiclass target raises a ValueError.

    Parameters
    ----------
    alpha : float, default=1.0
        Weight-sharing strength :math:`\alpha \ge 0`.
    alpha_l1 : float, default=0.0
        L1 strength :math:`\alpha_{\ell_1} \ge 0`.
    fit_intercept : bool, default=True
        Fit :math:`b`; ``False`` fixes it at 0.
    tol : float, default=1e-6
        Tolerance on the exact optimality measure (see :mod:`wsprox.linear_model`).
    max_iter : int, default=10000
        The most FISTA steps; a :class:`~sklearn.exceptions.ConvergenceWarning`
        says when they did not suffice.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two class labels.
    coef_ : ndarray of shape (1, n_features)
        The coefficients :math:`w` (the shape of
        :class:`sklearn.linear_model.LogisticRegression`'s).
    intercept_ : ndarray of shape (1,)
        The intercept :math:`b` (0.0 without ``fit_intercept``).
    labels_ : ndarray of int64, shape (1, n_features)
        The cluster of every coefficient, labels ``0..n_clusters_-1`` by
        increasing value.
    n_clusters_ : int
        The number of distinct coefficient values.
    n_iter_ : int
        FISTA steps taken.
    optimality_ : float
        The exact optimality measure at ``coef_``.
    n_features_in_ : int
        Number of features seen by :meth:`fit`.
    feature_names_in_ : ndarray of str
        Their names, when ``X`` has string column names.

    See Also
    --------
    WeightSharingClassifierCV : ``alpha`` chosen by cross-validation.
    WeightSharingRegression : The least-squares counterpart.

    Notes
    -----
    :math:`R` does not penalise the common value of the coefficients
    (:math:`R(w + c\mathbf 1) = R(w)`). On data that a direction with all
    coefficients equal separates, the loss has no minimum in that
    direction, as for unpenalised logistic regression: the coefficients
    grow until ``max_iter`` (with a
    :class:`~sklearn.exceptions.ConvergenceWarning`). ``alpha_l1 > 0``
    makes the objective coercive, and the minimum exists for all data.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.linear_model import WeightSharingClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((300, 6))
    >>> y = np.where(X @ np.array([2.0, 2, 2, -1, -1, -1]) + 0.5 * rng.standard_normal(300) > 0, "yes", "no")
    >>> clf = WeightSharingClassifier(alpha=0.05).fit(X, y)
    >>> clf.classes_, clf.n_clusters_, clf.labels_
    (array(['no', 'yes'], dtype='<U3'), 2, array([[1, 1, 1, 0, 0, 0]]))
    >>> clf.predict(X[:3]), clf.predict_proba(X[:1]).round(3)
    (array(['yes', 'yes', 'no'], dtype='<U3'), array([[0.273, 0.727]]))
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def fit(self, X, y):
        """Fit the coefficients and the intercept.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,)
            Two classes.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            ``y`` not binary (multiclass, continuous) or of one class only.
        """
        X, y = validate_data(self, X, y, dtype=np.float64)
        t = self._binary_targets(y)
        alpha = check_penalty_weight(self.alpha, "alpha")
        coef, intercept = self._solve(_Logistic(X, t, fit_intercept=self.fit_intercept), alpha)
        self._set_coef(coef, intercept)
        return self

    def _binary_targets(self, y):
        """Check that ``y`` is binary, set ``classes_``; ``y`` coded 1.0 for ``classes_[1]``, else 0.0."""
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y", raise_unknown=True)
        if y_type != "binary":
            raise ValueError(f"Only binary classification is supported. The type of the target is {y_type}.")
        self.classes_ = np.unique(y)
        if self.classes_.size < 2:
            raise ValueError(f"{type(self).__name__} needs samples of 2 classes; the data contains only "
                             f"one class: {self.classes_[0]!r}")
        return (y == self.classes_[1]).astype(np.float64)

    def _set_coef(self, coef, intercept):
        """``coef_``, ``intercept_`` and ``labels_`` in the shapes of LogisticRegression's."""
        self.coef_ = coef.reshape(1, -1)
        self.intercept_ = np.array([intercept])
        self.labels_ = self.labels_.reshape(1, -1)

    def decision_function(self, X):
        """The log-odds ``X @ coef_[0] + intercept_[0]`` of ``classes_[1]``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_[0] + self.intercept_[0]

    def predict(self, X):
        """The class of larger probability (``classes_[1]`` where the log-odds are ``> 0``).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(np.intp)]

    def predict_proba(self, X):
        """The probabilities of ``classes_[0]`` and ``classes_[1]``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, 2)
        """
        p = expit(self.decision_function(X))
        return np.column_stack((1.0 - p, p))

    def predict_log_proba(self, X):
        """The logarithms of :meth:`predict_proba`, computed without its rounding near 0.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, 2)
        """
        z = self.decision_function(X)
        return -np.logaddexp(0.0, np.column_stack((z, -z)))


class _Intercept:
    r"""The unpenalised intercept of the logistic loss, for given scores ``z``.

    ``b(z)`` minimises :math:`\sum_i \log(1 + e^{z_i + b}) - t_i (z_i + b)`,
    the root of :math:`\sum_i \sigma(z_i + b) = \sum_i t_i`, which lies in
    :math:`[\operatorname{logit}(\bar t) - \max z, \operatorname{logit}(\bar t) - \min z]`
    (:math:`\sigma` is increasing). Newton's method from the previous root,
    bisecting whenever a step leaves the bracket, until the step or the
    equation's residual is at the level of rounding.
    """

    def __init__(self, t):
        self.t = t
        self.positives = float(t.sum())
        self.centre = math.log(self.positives) - math.log(t.size - self.positives)
        self.b = self.centre

    def __call__(self, z):
        lo, hi = self.centre - float(z.max()), self.centre - float(z.min())
        b = min(max(self.b, lo), hi)
        for _ in range(200):
            p = expit(z + b)
            excess = float(p.sum()) - self.positives
            if abs(excess) <= 4 * np.finfo(np.float64).eps * self.t.size:
                break                                   # the root, up to the rounding of the sum
            if excess > 0:
                hi = b
            else:
                lo = b
            curvature = float(np.sum(p * (1.0 - p)))
            step = excess / curvature if curvature > 0 else math.inf
            following = b - step
            if not lo <= following <= hi:
                following = 0.5 * (lo + hi)
            converged = abs(following - b) <= 4 * np.finfo(np.float64).eps * max(abs(b), 1.0)
            b = following
            if converged:
                break
        self.b = b
        return b


# -- The smooth parts handed to the solver -------------------------------------------------


class _LeastSquares:
    r"""``w -> (f(w), grad f(w))`` for :math:`f(w) = \min_b \frac{1}{2n}\|y - Xw - b\|^2`.

    The intercept is eliminated by centring ``X`` and ``y`` (``b = 0``
    without ``fit_intercept``); :meth:`intercept` gives the optimal ``b``
    for ``w``.
    """

    def __init__(self, X, y, *, fit_intercept):
        self.n_samples, self.n_features = X.shape
        self.x_mean, self.y_mean = (X.mean(axis=0), float(y.mean())) if fit_intercept else (None, 0.0)
        self.X, self.y = (X - self.x_mean, y - self.y_mean) if fit_intercept else (X, y)

    def __call__(self, w):
        r = self.X @ w - self.y
        return 0.5 * float(r @ r) / self.n_samples, self.X.T @ r / self.n_samples

    def intercept(self, w):
        return self.y_mean - float(self.x_mean @ w) if self.x_mean is not None else 0.0


class _Logistic:
    r"""``w -> (f(w), grad f(w))`` for the mean logistic loss, minimised over the intercept.

    The intercept is that of :class:`_Intercept` (0 without
    ``fit_intercept``); ``t`` holds the targets coded 0.0 and 1.0;
    :meth:`intercept` gives the optimal intercept for ``w``.
    """

    def __init__(self, X, t, *, fit_intercept):
        self.n_samples, self.n_features = X.shape
        self.X, self.t = X, t
        self.offset = _Intercept(t) if fit_intercept else None

    def __call__(self, w):
        z = self.X @ w
        if self.offset is not None:
            z = z + self.offset(z)
        f = float(np.mean(np.logaddexp(0.0, z) - self.t * z))
        return f, self.X.T @ (expit(z) - self.t) / self.n_samples

    def intercept(self, w):
        return self.offset(self.X @ w) if self.offset is not None else 0.0


def _logistic_fold(X, t, *, fit_intercept):
    """:class:`_Logistic` on the training samples of a fold, which must hold both classes."""
    positives = float(t.sum())
    if fit_intercept and not 0.0 < positives < t.size:
        raise ValueError("a training set of the cross-validation holds samples of one class only; "
                         "use fewer folds (cv) or stratified ones")
    return _Logistic(X, t, fit_intercept=fit_intercept)


# -- Cross-validation along a warm-started path of alpha --------------------------------------


def _check_max_iter(max_iter):
    if isinstance(max_iter, (bool, np.bool_)) or not isinstance(max_iter, numbers.Integral):
        raise TypeError(f"max_iter must be an integer, got {type(max_iter).__name__}")
    if max_iter < 0:
        raise ValueError(f"max_iter must be >= 0, got {max_iter}")
    return int(max_iter)


def _check_alphas(alphas):
    """A number of alphas (an int >= 1) or the alphas, finite and ``>= 0``, sorted from the largest."""
    if isinstance(alphas, (bool, np.bool_)):
        raise TypeError("alphas must be an int (how many alphas) or an array of alphas, got a bool")
    if isinstance(alphas, numbers.Integral):
        if alphas < 1:
            raise ValueError(f"alphas must be an int >= 1 (how many alphas) or an array of alphas, "
                             f"got {alphas}")
        return int(alphas)
    try:
        values = np.asarray(alphas, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"alphas must be an int (how many alphas) or an array of alphas, got "
                        f"{type(alphas).__name__}") from exc
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"alphas must be an int (how many alphas) or a non-empty 1-D array of alphas, got "
                         f"{alphas!r}")
    if not (np.all(np.isfinite(values)) and np.all(values >= 0)):
        raise ValueError(f"alphas must be finite and >= 0, got {alphas!r}")
    return np.sort(values)[::-1]


def _check_eps(eps):
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, numbers.Real):
        raise TypeError(f"eps must be a float, got {type(eps).__name__}")
    if not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be finite and > 0, got {eps!r}")
    return float(eps)


def _alpha_max(problem, alpha_l1, tol, max_iter):
    r"""The smallest ``alpha`` at which all the coefficients share one value.

    The common value ``c`` minimises :math:`f(c\mathbf 1) + \ell_1 p|c|` (a
    one-dimensional solve); all equal is optimal for ``alpha`` at least
    :func:`wsprox.path.collapse_threshold` of :math:`-\nabla f(c\mathbf 1)`.
    """
    p = problem.n_features
    ones = np.ones(p)

    def along_ones(c):
        f, g = problem(c[0] * ones)
        return f, np.array([g.sum()])

    c = minimize_composite(along_ones, np.zeros(1), 0.0, l1=alpha_l1 * p, tol=tol, max_iter=max_iter).x[0]
    return collapse_threshold(-problem(c * ones)[1])


def _mean_squared_error(coef, intercept, X, y):
    r = X @ coef + intercept - y
    return float(r @ r) / y.size


class _ClassifierScore:
    """``score(coef, intercept, X, y)``: the scorer applied to the classifier of ``coef``."""

    def __init__(self, scorer, params, classes):
        self.scorer, self.params, self.classes = scorer, params, classes

    def __call__(self, coef, intercept, X, y):
        model = WeightSharingClassifier(**self.params)
        model.classes_, model.n_features_in_ = self.classes, X.shape[1]
        model.coef_, model.intercept_ = coef.reshape(1, -1), np.array([intercept])
        return float(self.scorer(model, X, y))


def _warm_start(problem, coefs, alphas, k, alpha_l1):
    r"""The start of the fit at ``alphas[k]``: the previous solution, or its secant extrapolation.

    Where the clusters (and zeros) stay the same, the least-squares solution
    is affine in ``alpha`` (it solves a linear system whose right-hand side
    is), so the line through the last two solutions predicts the next one
    exactly; it is taken where the objective is lower there than at the
    previous solution.
    """
    if k == 0:
        return np.zeros(problem.n_features)
    previous = coefs[k - 1]
    if k == 1 or alphas[k - 1] == alphas[k - 2]:
        return previous
    ratio = (alphas[k] - alphas[k - 1]) / (alphas[k - 1] - alphas[k - 2])
    predicted = previous + ratio * (previous - coefs[k - 2])

    def objective(w):
        return problem(w)[0] + alphas[k] * penalty(w) + alpha_l1 * float(np.abs(w).sum())

    return predicted if objective(predicted) < objective(previous) else previous


def _fold_path(make_problem, score, X, target, y, train, test, alphas, alpha_l1, tol, max_iter):
    """The path of one fold: ``(scores, coefs, n_failed)`` over ``alphas`` (largest first), warm-started."""
    problem = make_problem(X[train], target[train])
    X_test, y_test = X[test], y[test]
    coefs = np.empty((alphas.size, problem.n_features))
    scores = np.empty(alphas.size)
    failed = 0
    for k, alpha in enumerate(alphas):
        start = _warm_start(problem, coefs, alphas, k, alpha_l1)
        res = minimize_composite(problem, start, alpha, l1=alpha_l1, tol=tol, max_iter=max_iter)
        coefs[k], failed = res.x, failed + (not res.success)
        scores[k] = score(res.x, problem.intercept(res.x), X_test, y_test)
    return scores, coefs, failed


class _CrossValidation:
    """``fit`` by cross-validation along the path; the subclass gives the problem and the score."""

    def _cross_validate(self, X, target, y, make_problem, score):
        """Check the options, solve the path on every fold: ``scores`` (n_folds, n_alphas) and ``coefs``
        (n_folds, n_alphas, n_features); set ``alphas_``."""
        alphas = _check_alphas(self.alphas)
        eps = _check_eps(self.eps)
        alpha_l1, tol, max_iter = self._solver_options()
        if isinstance(alphas, int):
            alpha_max = _alpha_max(make_problem(X, target), alpha_l1, tol, max_iter)
            resolution = np.finfo(np.float64).resolution
            alphas = (np.geomspace(alpha_max, alpha_max * eps, num=alphas) if alpha_max > resolution
                      else np.full(alphas, resolution))
        cv = check_cv(self.cv, y, classifier=is_classifier(self))
        folds = list(cv.split(X, y))
        paths = Parallel(n_jobs=self.n_jobs)(
            delayed(_fold_path)(make_problem, score, X, target, y, train, test, alphas, alpha_l1, tol,
                                max_iter)
            for train, test in folds)
        scores = np.array([path[0] for path in paths])
        coefs = np.array([path[1] for path in paths])
        failed = sum(path[2] for path in paths)
        if failed:
            warnings.warn(f"{type(self).__name__}: {failed} of {scores.size} fits along the "
                          f"cross-validation path did not converge within max_iter = {max_iter} steps; "
                          f"increase max_iter or tol",
                          ConvergenceWarning, stacklevel=3)
        self.alphas_ = alphas
        return scores, coefs

    def _refit(self, X, target, make_problem, coefs, best):
        """Fit all the data at ``alphas_[best]``, warm-started at the mean of the folds' solutions there."""
        self.alpha_ = float(self.alphas_[best])
        return self._solve(make_problem(X, target), self.alpha_, coefs[:, best].mean(axis=0), stacklevel=4)


class WeightSharingRegressionCV(_CrossValidation, WeightSharingRegression):
    r"""Least squares with weight sharing, ``alpha`` chosen by cross-validation.

    The estimator of :class:`WeightSharingRegression`, whose ``alpha`` is
    the one of a grid with the least mean squared error on the held-out
    folds, as :class:`sklearn.linear_model.LassoCV` chooses it. On every fold
    the path is solved from the largest ``alpha`` down, each fit
    warm-started at the previous solution, which makes it several times
    faster than :class:`~sklearn.model_selection.GridSearchCV` over the same
    grid and folds (which fits each ``alpha`` from zero); then the model is
    refitted on all the data at ``alpha_``, warm-started at the mean of the
    folds' solutions there.

    Parameters
    ----------
    alphas : int or array_like of shape (n_alphas,), default=30
        The grid of ``alpha``: an int asks for that many, geometrically
        spaced from ``alpha_max`` (the smallest ``alpha`` at which all the
        coefficients share one value, on all the data) down to ``eps *
        alpha_max``; an array gives them (sorted from the largest).
    eps : float, default=1e-3
        The ratio of the smallest ``alpha`` of the grid to the largest
        (``alphas`` an int only).
    alpha_l1 : float, default=0.0
        L1 strength :math:`\alpha_{\ell_1} \ge 0`, fixed along the path.
    fit_intercept : bool, default=True
        Fit :math:`b`; ``False`` fixes it at 0.
    tol : float, default=1e-6
        Tolerance on the exact optimality measure (see :mod:`wsprox.linear_model`),
        for every fit of the path and the refit.
    max_iter : int, default=10000
        The most FISTA steps of each fit; a
        :class:`~sklearn.exceptions.ConvergenceWarning` says when they did not
        suffice (one for all the fits of the path).
    cv : int, cross-validation generator or iterable, default=None
        The folds, as for :func:`sklearn.model_selection.check_cv`: ``None``
        is 5 folds, an int that many (``KFold``), or a splitter or an iterable of
        ``(train, test)`` index arrays.
    n_jobs : int, default=None
        The number of folds solved in parallel (joblib); ``None`` is 1.

    Attributes
    ----------
    alpha_ : float
        The chosen ``alpha``: the least mean of ``mse_path_`` over the folds
        (the largest ``alpha`` among equal means).
    alphas_ : ndarray of shape (n_alphas,)
        The grid, from the largest ``alpha``.
    mse_path_ : ndarray of shape (n_alphas, n_folds)
        The mean squared error on the test samples of every fold, for every
        ``alpha``.
    coef_ : ndarray of shape (n_features,)
        The coefficients :math:`w` refitted on all the data at ``alpha_``.
    intercept_ : float
        The intercept :math:`b` (0.0 without ``fit_intercept``).
    labels_ : ndarray of int64, shape (n_features,)
        The cluster of every coefficient, labels ``0..n_clusters_-1`` by
        increasing value.
    n_clusters_ : int
        The number of distinct coefficient values.
    n_iter_ : int
        FISTA steps of the refit.
    optimality_ : float
        The exact optimality measure at ``coef_``.
    n_features_in_ : int
        Number of features seen by :meth:`fit`.
    feature_names_in_ : ndarray of str
        Their names, when ``X`` has string column names.

    See Also
    --------
    WeightSharingRegression : A given ``alpha``.
    WeightSharingClassifierCV : The logistic counterpart.
    sklearn.linear_model.LassoCV : The same cross-validation for the L1 penalty.

    Examples
    --------
    Twenty features whose true coefficients take the values 1 and 3, ten
    ``alpha`` from ``alpha_max`` down, three folds:

    >>> import numpy as np
    >>> from wsprox.linear_model import WeightSharingRegressionCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 20))
    >>> y = X @ np.repeat([1.0, 3.0], 10) + rng.standard_normal(60)
    >>> model = WeightSharingRegressionCV(alphas=10, cv=3).fit(X, y)
    >>> model.alphas_[[0, -1]].round(4), model.mse_path_.shape     # alpha_max, 1e-3 alpha_max
    (array([2.2993, 0.0023]), (10, 3))
    >>> model.mse_path_.mean(axis=1).round(2)
    array([20.16, 10.23,  3.49,  1.8 ,  1.52,  1.61,  1.72,  1.81,  1.85,  1.87])
    >>> round(model.alpha_, 3), model.n_clusters_
    (0.107, 17)
    >>> bool(model.coef_[:10].max() < model.coef_[10:].min())     # the two groups apart
    True
    """

    def __init__(self, *, alphas=30, eps=1e-3, alpha_l1=0.0, fit_intercept=True, tol=1e-6, max_iter=_MAX_ITER,
                 cv=None, n_jobs=None):
        self.alphas = alphas
        self.eps = eps
        self.alpha_l1 = alpha_l1
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.cv = cv
        self.n_jobs = n_jobs

    def fit(self, X, y):
        """Choose ``alpha`` by cross-validation, then fit the coefficients and the intercept at it.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,)

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        make_problem = functools.partial(_LeastSquares, fit_intercept=self.fit_intercept)
        errors, coefs = self._cross_validate(X, y, y, make_problem, _mean_squared_error)
        self.mse_path_ = errors.T
        best = int(np.argmin(errors.mean(axis=0)))
        self.coef_, self.intercept_ = self._refit(X, y, make_problem, coefs, best)
        return self


class WeightSharingClassifierCV(_CrossValidation, WeightSharingClassifier):
    r"""Binary logistic regression with weight sharing, ``alpha`` chosen by cross-validation.

    The estimator of :class:`WeightSharingClassifier`, whose ``alpha`` is
    the one of a grid with the best mean score on the held-out folds
    (accuracy unless ``scoring`` says otherwise), as
    :class:`sklearn.linear_model.LogisticRegressionCV` chooses ``C``. On
    every fold the path is solved from the largest ``alpha`` down, each fit
    warm-started at the previous solution; then the model is refitted on all
    the data at ``alpha_``, warm-started at the mean of the folds' solutions
    there.

    Parameters
    ----------
    alphas : int or array_like of shape (n_alphas,), default=30
        The grid of ``alpha``: an int asks for that many, geometrically
        spaced from ``alpha_max`` (the smallest ``alpha`` at which all the
        coefficients share one value, on all the data) down to ``eps *
        alpha_max``; an array gives them (sorted from the largest).
    eps : float, default=1e-3
        The ratio of the smallest ``alpha`` of the grid to the largest
        (``alphas`` an int only).
    alpha_l1 : float, default=0.0
        L1 strength :math:`\alpha_{\ell_1} \ge 0`, fixed along the path.
    fit_intercept : bool, default=True
        Fit :math:`b`; ``False`` fixes it at 0.
    tol : float, default=1e-6
        Tolerance on the exact optimality measure (see :mod:`wsprox.linear_model`),
        for every fit of the path and the refit.
    max_iter : int, default=10000
        The most FISTA steps of each fit; a
        :class:`~sklearn.exceptions.ConvergenceWarning` says when they did not
        suffice (one for all the fits of the path).
    cv : int, cross-validation generator or iterable, default=None
        The folds, as for :func:`sklearn.model_selection.check_cv`: ``None``
        is 5 folds, an int that many (``StratifiedKFold``), or a splitter or an iterable of
        ``(train, test)`` index arrays.
    scoring : str or callable, default=None
        The score to maximise, as for :class:`~sklearn.model_selection.GridSearchCV`:
        a name (see :func:`sklearn.metrics.get_scorer_names`), a callable
        ``scorer(estimator, X, y)`` or ``None``, the accuracy (the
        estimator's :meth:`score`).
    n_jobs : int, default=None
        The number of folds solved in parallel (joblib); ``None`` is 1.

    Attributes
    ----------
    alpha_ : float
        The chosen ``alpha``: the best mean of ``scores_`` over the folds
        (the largest ``alpha`` among equal means).
    alphas_ : ndarray of shape (n_alphas,)
        The grid, from the largest ``alpha``.
    scores_ : ndarray of shape (n_folds, n_alphas)
        The score on the test samples of every fold, for every ``alpha``
        (the layout of :class:`~sklearn.linear_model.LogisticRegressionCV`'s
        ``scores_``, without its dict).
    classes_ : ndarray of shape (2,)
        The two class labels.
    coef_ : ndarray of shape (1, n_features)
        The coefficients :math:`w` refitted on all the data at ``alpha_``.
    intercept_ : ndarray of shape (1,)
        The intercept :math:`b` (0.0 without ``fit_intercept``).
    labels_ : ndarray of int64, shape (1, n_features)
        The cluster of every coefficient, labels ``0..n_clusters_-1`` by
        increasing value.
    n_clusters_ : int
        The number of distinct coefficient values.
    n_iter_ : int
        FISTA steps of the refit.
    optimality_ : float
        The exact optimality measure at ``coef_``.
    n_features_in_ : int
        Number of features seen by :meth:`fit`.
    feature_names_in_ : ndarray of str
        Their names, when ``X`` has string column names.

    See Also
    --------
    WeightSharingClassifier : A given ``alpha``.
    WeightSharingRegressionCV : The least-squares counterpart.

    Notes
    -----
    As for :class:`WeightSharingClassifier`, without ``alpha_l1`` a fold
    whose training samples a direction with all coefficients equal
    separates has no minimiser: its fits run to ``max_iter`` (with a
    :class:`~sklearn.exceptions.ConvergenceWarning`); ``alpha_l1 > 0``
    avoids it.

    Examples
    --------
    >>> import numpy as np
    >>> from wsprox.linear_model import WeightSharingClassifierCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 6))
    >>> y = np.where(X @ np.array([2.0, 2, 2, -1, -1, -1]) + rng.standard_normal(200) > 0, "yes", "no")
    >>> clf = WeightSharingClassifierCV(alphas=8, cv=4, scoring="neg_log_loss").fit(X, y)
    >>> clf.alphas_.shape, clf.scores_.shape
    ((8,), (4, 8))
    >>> clf.scores_.mean(axis=0).round(3)         # the mean log-likelihood on the test folds
    array([-0.666, -0.368, -0.256, -0.22 , -0.22 , -0.232, -0.241, -0.245])
    >>> round(clf.alpha_, 4), clf.classes_
    (0.0124, array(['no', 'yes'], dtype='<U3'))
    >>> clf.coef_.round(1), clf.predict(X[:3])
    (array([[ 2.1,  2.3,  2.3, -0.9, -1.1, -1.5]]), array(['yes', 'yes', 'no'], dtype='<U3'))
    """

    def __init__(self, *, alphas=30, eps=1e-3, alpha_l1=0.0, fit_intercept=True, tol=1e-6, max_iter=_MAX_ITER,
                 cv=None, scoring=None, n_jobs=None):
        self.alphas = alphas
        self.eps = eps
        self.alpha_l1 = alpha_l1
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs

    def fit(self, X, y):
        """Choose ``alpha`` by cross-validation, then fit the coefficients and the intercept at it.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,)
            Two classes.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            ``y`` not binary (multiclass, continuous) or of one class only;
            a training set of the folds of one class only.
        """
        X, y = validate_data(self, X, y, dtype=np.float64)
        t = self._binary_targets(y)
        params = {"alpha_l1": self.alpha_l1, "fit_intercept": self.fit_intercept}
        scorer = check_scoring(WeightSharingClassifier(**params), scoring=self.scoring)
        make_problem = functools.partial(_logistic_fold, fit_intercept=self.fit_intercept)
        score = _ClassifierScore(scorer, params, self.classes_)
        scores, coefs = self._cross_validate(X, t, y, make_problem, score)
        self.scores_ = scores
        best = int(np.argmax(scores.mean(axis=0)))
        refit_problem = functools.partial(_Logistic, fit_intercept=self.fit_intercept)
        self._set_coef(*self._refit(X, t, refit_problem, coefs, best))
        return self

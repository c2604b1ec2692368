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
optimal, not merely how slowly they move.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from ._validation import check_penalty_weight
from .optimize import minimize_composite

__all__ = ["WeightSharingClassifier", "WeightSharingRegression"]


class _WeightSharingModel(BaseEstimator):
    """The parameters, the fit and the fitted attributes shared by both estimators."""

    def __init__(self, alpha=1.0, *, alpha_l1=0.0, fit_intercept=True, tol=1e-6, max_iter=1000):
        self.alpha = alpha
        self.alpha_l1 = alpha_l1
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter

    def _solve(self, fun_and_grad, n_features):
        """Minimise ``fun_and_grad`` + the penalty from ``w = 0``; set ``n_iter_`` and ``optimality_``."""
        alpha, alpha_l1 = check_penalty_weight(self.alpha, "alpha"), check_penalty_weight(self.alpha_l1, "alpha_l1")
        tol = check_penalty_weight(self.tol, "tol")
        res = minimize_composite(fun_and_grad, np.zeros(n_features), alpha, l1=alpha_l1, tol=tol,
                                 max_iter=self.max_iter)
        if not res.success:
            warnings.warn(f"{type(self).__name__} did not converge: {res.message} (optimality "
                          f"{res.optimality:.3g}); increase max_iter or tol", ConvergenceWarning, stacklevel=3)
        self.n_iter_ = res.nit
        self.optimality_ = res.optimality
        return res.x

    def _set_clusters(self):
        values, labels = np.unique(self.coef_, return_inverse=True)
        self.labels_ = labels.reshape(self.coef_.shape).astype(np.int64)
        self.n_clusters_ = int(values.size)


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
    max_iter : int, default=1000
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
        n, p = X.shape
        if self.fit_intercept:
            x_mean, y_mean = X.mean(axis=0), float(y.mean())
            X, y = X - x_mean, y - y_mean

        def fun_and_grad(w):
            r = X @ w - y
            return 0.5 * float(r @ r) / n, X.T @ r / n

        self.coef_ = self._solve(fun_and_grad, p)
        self.intercept_ = y_mean - float(x_mean @ self.coef_) if self.fit_intercept else 0.0
        self._set_clusters()
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
    max_iter : int, default=1000
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
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y", raise_unknown=True)
        if y_type != "binary":
            raise ValueError(f"Only binary classification is supported. The type of the target is {y_type}.")
        self.classes_ = np.unique(y)
        if self.classes_.size < 2:
            raise ValueError(f"{type(self).__name__} needs samples of 2 classes; the data contains only "
                             f"one class: {self.classes_[0]!r}")
        n, p = X.shape
        t = (y == self.classes_[1]).astype(np.float64)
        intercept = _Intercept(t) if self.fit_intercept else None

        def fun_and_grad(w):
            z = X @ w
            if intercept is not None:
                z = z + intercept(z)
            f = float(np.mean(np.logaddexp(0.0, z) - t * z))
            return f, X.T @ (expit(z) - t) / n

        self.coef_ = self._solve(fun_and_grad, p).reshape(1, p)
        self.intercept_ = np.array([intercept(X @ self.coef_[0]) if intercept is not None else 0.0])
        self._set_clusters()
        return self

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

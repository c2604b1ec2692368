r"""The estimators at a given ``alpha``: :class:`WeightSharingRegression` and :class:`WeightSharingClassifier`.

Both are a :class:`WeightSharingModel`, which holds the options, the fit and
the fitted attributes; each gives its loss (:mod:`._problems`), the targets
of the loss and the shape of its coefficients.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_regressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import check_penalty_weight
from ..optimize import minimize_composite
from ._docstrings import fill
from ._problems import LeastSquares, Logistic

__all__ = ["MAX_ITER", "WeightSharingClassifier", "WeightSharingModel", "WeightSharingRegression",
           "check_max_iter"]

#: The default max_iter: enough FISTA steps for small alpha with more features than samples.
MAX_ITER = 10000


def check_max_iter(max_iter):
    """``max_iter``, an int ``>= 0``."""
    if isinstance(max_iter, (bool, np.bool_)) or not isinstance(max_iter, numbers.Integral):
        raise TypeError(f"max_iter must be an integer, got {type(max_iter).__name__}")
    if max_iter < 0:
        raise ValueError(f"max_iter must be >= 0, got {max_iter}")
    return int(max_iter)


class WeightSharingModel(BaseEstimator):
    """The options, the fit and the fitted attributes shared by the estimators.

    A subclass sets ``_loss``, the smooth part's class (:mod:`._problems`),
    documents its ``fit``, which is :meth:`_fit`, and may change
    :meth:`_targets` (what the loss fits), :meth:`_set_coef` (the shapes of
    ``coef_`` and ``intercept_``) and :meth:`_fit_targets` (how ``alpha``
    is chosen).
    """

    def __init__(self, alpha=1.0, *, alpha_l1=0.0, fit_intercept=True, tol=1e-6, max_iter=MAX_ITER):
        self.alpha = alpha
        self.alpha_l1 = alpha_l1
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter

    def _fit(self, X, y):
        """What ``fit`` does: check the data, fit its targets; ``self``."""
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=is_regressor(self))
        self._fit_targets(X, y, self._targets(y))
        return self

    def _targets(self, y):
        """What the loss fits: ``y`` itself."""
        return y

    def _fit_targets(self, X, y, target):
        """Fit ``target`` at ``alpha``."""
        alpha = check_penalty_weight(self.alpha, "alpha")
        self._set_coef(*self._solve(self._problem(X, target), alpha))

    def _problem(self, X, target):
        """The smooth part of the objective: the loss of ``target``, minimised over the intercept."""
        return self._loss(X, target, fit_intercept=self.fit_intercept)

    def _solver_options(self):
        """``alpha_l1``, ``tol`` and ``max_iter``, checked."""
        return (check_penalty_weight(self.alpha_l1, "alpha_l1"), check_penalty_weight(self.tol, "tol"),
                check_max_iter(self.max_iter))

    def _solve(self, problem, alpha, x0=None):
        """Minimise ``problem`` + the penalty from ``x0`` (default 0): the coefficients and the intercept.

        Sets ``n_iter_``, ``optimality_``, ``labels_`` and ``n_clusters_``;
        a :class:`~sklearn.exceptions.ConvergenceWarning` points at the
        caller of :meth:`fit`.
        """
        alpha_l1, tol, max_iter = self._solver_options()
        start = np.zeros(problem.n_features) if x0 is None else x0
        res = minimize_composite(problem, start, alpha, l1=alpha_l1, tol=tol, max_iter=max_iter)
        if not res.success:
            warnings.warn(f"{type(self).__name__} did not converge: {res.message} (optimality "
                          f"{res.optimality:.3g}); increase max_iter or tol", ConvergenceWarning,
                          stacklevel=5)
        self.n_iter_ = res.nit
        self.optimality_ = res.optimality
        values, labels = np.unique(res.x, return_inverse=True)
        self.labels_ = labels.astype(np.int64)
        self.n_clusters_ = int(values.size)
        return res.x, problem.intercept(res.x)

    def _set_coef(self, coef, intercept):
        """Set ``coef_`` and ``intercept_``."""
        self.coef_, self.intercept_ = coef, intercept


@fill
class WeightSharingRegression(RegressorMixin, WeightSharingModel):
    r"""Least squares with weight sharing (and optionally L1).

    Minimises over the coefficients :math:`w` and the intercept :math:`b`

    .. math::

        \frac{1}{2n}\|y - Xw - b\|^2 + \alpha R(w) + \alpha_{\ell_1}\|w\|_1,
        \qquad R(w) = \frac{1}{p-1}\sum_{i>j}|w_i - w_j|,

    the intercept not penalised (it is eliminated by centring ``X`` and
    ``y``, which is exact).

    Parameters
    ----------
    %(parameters)s

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        The coefficients :math:`w`.
    intercept_ : float
        The intercept :math:`b` (0.0 without ``fit_intercept``).
    %(fitted_attributes)s

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

    _loss = LeastSquares

    def fit(self, X, y):
        """Fit the coefficients and the intercept.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            The training samples.
        y : array_like of shape (n_samples,)
            Their targets.

        Returns
        -------
        self
        """
        return self._fit(X, y)

    def predict(self, X):
        """Predict ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            The samples to predict the targets of.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The predicted targets.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_ + self.intercept_


@fill
class WeightSharingClassifier(ClassifierMixin, WeightSharingModel):
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
    %(parameters)s

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two class labels.
    coef_ : ndarray of shape (1, n_features)
        The coefficients :math:`w` (the shape of
        :class:`sklearn.linear_model.LogisticRegression`'s).
    intercept_ : ndarray of shape (1,)
        The intercept :math:`b` (0.0 without ``fit_intercept``).
    %(fitted_attributes)s

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

    _loss = Logistic

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def fit(self, X, y):
        """Fit the coefficients and the intercept of the log-odds.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            The training samples, of two classes.
        y : array_like of shape (n_samples,)
            Their classes: ``classes_[1]`` is the positive one.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            ``y`` not binary (multiclass, continuous) or of one class only.
        """
        return self._fit(X, y)

    def _targets(self, y):
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
            The samples whose log-odds to compute.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            The log-odds, positive where ``classes_[1]`` is the more probable.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_[0] + self.intercept_[0]

    def predict(self, X):
        """The class of larger probability (``classes_[1]`` where the log-odds are ``> 0``).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            The samples to classify.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The predicted classes, of ``classes_``.
        """
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(np.intp)]

    def predict_proba(self, X):
        """The probabilities of ``classes_[0]`` and ``classes_[1]``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            The samples for which to compute the probabilities.

        Returns
        -------
        proba : ndarray of shape (n_samples, 2)
            The probabilities of the two classes, every row summing to 1.
        """
        p = expit(self.decision_function(X))
        return np.column_stack((1.0 - p, p))

    def predict_log_proba(self, X):
        """The logarithms of :meth:`predict_proba`, computed without its rounding near 0.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            The samples for which to compute the logarithms of the probabilities.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, 2)
            The log-probabilities of the two classes.
        """
        z = self.decision_function(X)
        return -np.logaddexp(0.0, np.column_stack((z, -z)))

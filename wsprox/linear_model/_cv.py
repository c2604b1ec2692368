r"""The estimators that choose ``alpha`` by cross-validation.

:class:`WeightSharingRegressionCV` and :class:`WeightSharingClassifierCV`
are each a :class:`CrossValidation` of their estimator at a given
``alpha``: it solves the path of every fold (:mod:`._path`), chooses the
``alpha`` of the best mean score and refits all the data there; each gives
its score and where the scores are kept.
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils.parallel import Parallel, delayed

from ._docstrings import fill
from ._estimators import MAX_ITER, WeightSharingClassifier, WeightSharingRegression
from ._path import alpha_grid, check_alphas, check_eps, fold_path

__all__ = ["ClassifierScore", "CrossValidation", "WeightSharingClassifierCV", "WeightSharingRegressionCV",
           "negative_mean_squared_error"]


def negative_mean_squared_error(coef, intercept, X, y):
    """Minus the mean squared error of ``X @ coef + intercept``: greater for better, and exactly the error
    negated (the least error is the greatest score, ties included)."""
    r = X @ coef + intercept - y
    return -float(r @ r) / y.size


class ClassifierScore:
    """``score(coef, intercept, X, y)``: the scorer applied to the classifier of ``coef``."""

    def __init__(self, scorer, params, classes):
        self.scorer, self.params, self.classes = scorer, params, classes

    def __call__(self, coef, intercept, X, y):
        model = WeightSharingClassifier(**self.params)
        model.classes_, model.n_features_in_ = self.classes, X.shape[1]
        model.coef_, model.intercept_ = coef.reshape(1, -1), np.array([intercept])
        return float(self.scorer(model, X, y))


class CrossValidation:
    """Mixed in before an estimator at a given ``alpha``: the options, and the fit by cross-validation.

    A subclass gives the score of a solution on the test samples
    (:meth:`_path_score`, greater for better) and keeps the scores
    (:meth:`_set_path_scores`).
    """

    def __init__(self, *, alphas=30, eps=1e-3, alpha_l1=0.0, fit_intercept=True, tol=1e-6, max_iter=MAX_ITER,
                 cv=None, n_jobs=None):
        self.alphas = alphas
        self.eps = eps
        self.alpha_l1 = alpha_l1
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.cv = cv
        self.n_jobs = n_jobs

    def _fit_targets(self, X, y, target):
        """Choose ``alpha_`` on the folds, then fit all the data there.

        ``alpha_`` has the best mean score over the folds (the largest among
        equal means); the fit starts at the mean of the folds' solutions there.
        """
        scores, coefs = self._cross_validate(X, y, target, self._path_score())
        self._set_path_scores(scores)
        best = int(np.argmax(scores.mean(axis=0)))
        self.alpha_ = float(self.alphas_[best])
        self._set_coef(*self._solve(self._problem(X, target), self.alpha_, coefs[:, best].mean(axis=0)))

    def _cross_validate(self, X, y, target, score):
        """Check the options, solve the path on every fold, set ``alphas_``: ``(scores, coefs)``.

        ``scores`` (n_folds, n_alphas) are those of ``score`` on the test
        samples, ``coefs`` (n_folds, n_alphas, n_features) the solutions.
        """
        alphas = check_alphas(self.alphas)
        eps = check_eps(self.eps)
        alpha_l1, tol, max_iter = self._solver_options()
        if isinstance(alphas, int):
            alphas = alpha_grid(self._problem(X, target), alphas, eps, alpha_l1, tol, max_iter)
        cv = check_cv(self.cv, y, classifier=is_classifier(self))
        folds = list(cv.split(X, y))
        paths = Parallel(n_jobs=self.n_jobs)(
            delayed(fold_path)(self._fold_problem, score, X, target, y, train, test, alphas, alpha_l1, tol,
                               max_iter)
            for train, test in folds)
        scores = np.array([path[0] for path in paths])
        coefs = np.array([path[1] for path in paths])
        failed = sum(path[2] for path in paths)
        if failed:
            warnings.warn(f"{type(self).__name__}: {failed} of {scores.size} fits along the "
                          f"cross-validation path did not converge within max_iter = {max_iter} steps; "
                          f"increase max_iter or tol",
                          ConvergenceWarning, stacklevel=5)
        self.alphas_ = alphas
        return scores, coefs

    def _fold_problem(self, X, target):
        """The smooth part on the training samples of a fold."""
        return self._problem(X, target)


@fill
class WeightSharingRegressionCV(CrossValidation, WeightSharingRegression):
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
    %(path_parameters)s
    n_jobs : int, default=None
        The number of folds solved in parallel (joblib); ``None`` is 1.

    Attributes
    ----------
    alpha_ : float
        The chosen ``alpha``: the least mean of ``mse_path_`` over the folds
        (the largest ``alpha`` among equal means).
    mse_path_ : ndarray of shape (n_alphas, n_folds)
        The mean squared error on the test samples of every fold, for every
        ``alpha``.
    alphas_ : ndarray of shape (n_alphas,)
        The grid, from the largest ``alpha``.
    coef_ : ndarray of shape (n_features,)
        The coefficients :math:`w` refitted on all the data at ``alpha_``.
    intercept_ : float
        The intercept :math:`b` (0.0 without ``fit_intercept``).
    %(fitted_attributes)s

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

    def fit(self, X, y):
        """Choose ``alpha_`` by cross-validation, then fit the coefficients and the intercept there.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            The samples, split into the folds (``cv``).
        y : array_like of shape (n_samples,)
            Their targets.

        Returns
        -------
        self : WeightSharingRegressionCV
            The estimator, refitted on all the data at ``alpha_``.
        """
        return self._fit(X, y)

    def _path_score(self):
        """Minus the mean squared error on the test samples."""
        return negative_mean_squared_error

    def _set_path_scores(self, scores):
        """``mse_path_``: the errors, (n_alphas, n_folds)."""
        self.mse_path_ = -scores.T


@fill
class WeightSharingClassifierCV(CrossValidation, WeightSharingClassifier):
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
    %(path_parameters)s
    scoring : str or callable, default=None
        The score to maximise, as for :class:`~sklearn.model_selection.GridSearchCV`:
        a name (see :func:`sklearn.metrics.get_scorer_names`), a callable
        ``scorer(estimator, X, y)`` or ``None``, the accuracy (the
        estimator's :meth:`score`).
    n_jobs : int, default=None
        The number of folds solved in parallel (joblib); ``None`` is 1.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two class labels.
    alpha_ : float
        The chosen ``alpha``: the best mean of ``scores_`` over the folds
        (the largest ``alpha`` among equal means).
    scores_ : ndarray of shape (n_folds, n_alphas)
        The score on the test samples of every fold, for every ``alpha``
        (the layout of :class:`~sklearn.linear_model.LogisticRegressionCV`'s
        ``scores_``, without its dict).
    alphas_ : ndarray of shape (n_alphas,)
        The grid, from the largest ``alpha``.
    coef_ : ndarray of shape (1, n_features)
        The coefficients :math:`w` refitted on all the data at ``alpha_``.
    intercept_ : ndarray of shape (1,)
        The intercept :math:`b` (0.0 without ``fit_intercept``).
    %(fitted_attributes)s

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

    def __init__(self, *, alphas=30, eps=1e-3, alpha_l1=0.0, fit_intercept=True, tol=1e-6, max_iter=MAX_ITER,
                 cv=None, scoring=None, n_jobs=None):
        super().__init__(alphas=alphas, eps=eps, alpha_l1=alpha_l1, fit_intercept=fit_intercept, tol=tol,
                         max_iter=max_iter, cv=cv, n_jobs=n_jobs)
        self.scoring = scoring

    def fit(self, X, y):
        """Choose ``alpha_`` by cross-validation, then fit the log-odds there.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            The samples, split into the folds (``cv``; stratified unless it says otherwise).
        y : array_like of shape (n_samples,)
            Their classes, of which there must be two, and two in every training set.

        Returns
        -------
        self : WeightSharingClassifierCV
            The estimator, refitted on all the data at ``alpha_``.

        Raises
        ------
        ValueError
            ``y`` not binary (multiclass, continuous), of one class only, or
            of one class only in a training set of the folds.
        """
        return self._fit(X, y)

    def _path_score(self):
        """``scoring`` applied to the classifier of a solution."""
        params = {"alpha_l1": self.alpha_l1, "fit_intercept": self.fit_intercept}
        scorer = check_scoring(WeightSharingClassifier(**params), scoring=self.scoring)
        return ClassifierScore(scorer, params, self.classes_)

    def _set_path_scores(self, scores):
        """``scores_``: the scores, (n_folds, n_alphas)."""
        self.scores_ = scores

    def _fold_problem(self, X, t):
        """The loss on the training samples of a fold, which must hold both classes."""
        positives = float(t.sum())
        if self.fit_intercept and not 0.0 < positives < t.size:
            raise ValueError("a training set of the cross-validation holds samples of one class only; "
                             "use fewer folds (cv) or stratified ones")
        return self._problem(X, t)

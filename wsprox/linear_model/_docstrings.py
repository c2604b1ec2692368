r"""The parts of the estimators' docstrings that several estimators share, and :func:`fill`, which puts them in.

A docstring names a part by ``%(name)s`` on a line of its own, indented as
the class docstring (four spaces); :func:`fill` replaces it by the part,
every line indented the same.
"""
from __future__ import annotations

__all__ = ["PARTS", "fill"]

#: ``{name: text}``: the parameters and attributes documented alike by several estimators.
PARTS = {
    # The options of WeightSharingRegression and WeightSharingClassifier.
    "parameters": r"""alpha : float, default=1.0
    Weight-sharing strength :math:`\alpha \ge 0`.
alpha_l1 : float, default=0.0
    L1 strength :math:`\alpha_{\ell_1} \ge 0`.
fit_intercept : bool, default=True
    Fit :math:`b`; ``False`` fixes it at 0.
tol : float, default=1e-6
    Tolerance on the exact optimality measure (see :mod:`wsprox.linear_model`).
max_iter : int, default=10000
    The most FISTA steps; a :class:`~sklearn.exceptions.ConvergenceWarning`
    says when they did not suffice.""",
    # The options of the CV estimators, up to ``cv``.
    "path_parameters": r"""alphas : int or array_like of shape (n_alphas,), default=30
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
    is 5 folds, an int that many (``StratifiedKFold`` for the classifier,
    ``KFold`` for the regression), or a splitter or an iterable of
    ``(train, test)`` index arrays.""",
    # The attributes of every fitted estimator, after coef_ and intercept_.
    "fitted_attributes": r"""labels_ : ndarray of int64, of the shape of ``coef_``
    The cluster of every coefficient: equal coefficients share a label,
    labels ``0..n_clusters_-1`` by increasing value.
n_clusters_ : int
    The number of distinct coefficient values.
n_iter_ : int
    FISTA steps taken by the fit of ``coef_``.
optimality_ : float
    The exact optimality measure at ``coef_``.
n_features_in_ : int
    Number of features seen by :meth:`fit`.
feature_names_in_ : ndarray of str
    Their names, when ``X`` has string column names.""",
}


def fill(cls):
    """Put the :data:`PARTS` in the docstring of the class ``cls``; returns ``cls``.

    Examples
    --------
    >>> @fill
    ... class Model:
    ...     '''A model.
    ...
    ...     Attributes
    ...     ----------
    ...     %(fitted_attributes)s
    ...     '''
    >>> print(Model.__doc__.splitlines()[4])
        labels_ : ndarray of int64, of the shape of ``coef_``
    """
    if cls.__doc__ is not None:                          # None under python -OO
        cls.__doc__ = cls.__doc__ % {name: part.replace("\n", "\n    ") for name, part in PARTS.items()}
    return cls

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

scikit-learn is an optional dependency: ``import wsprox`` never imports it,
``import wsprox.linear_model`` does (the ``sklearn`` extra: ``pip install -e
".[sklearn]"`` in a checkout).

The modules, one concept each: :mod:`~wsprox.linear_model._problems` (the
losses and their gradients), :mod:`~wsprox.linear_model._estimators`
(:class:`WeightSharingRegression`, :class:`WeightSharingClassifier`),
:mod:`~wsprox.linear_model._path` (the grid of ``alpha`` and its
warm-started path on a fold), :mod:`~wsprox.linear_model._cv` (the CV
estimators) and :mod:`~wsprox.linear_model._docstrings` (the parts of
their docstrings that they share); everything public is here.
"""
from __future__ import annotations

# First: the check that scikit-learn is installed, whose error names the extra that
# installs it; the modules import scikit-learn after it.
from .._extras import require

require("sklearn", extra="sklearn", feature="wsprox.linear_model")

from ._cv import WeightSharingClassifierCV, WeightSharingRegressionCV
from ._estimators import WeightSharingClassifier, WeightSharingRegression

__all__ = ["WeightSharingClassifier", "WeightSharingClassifierCV", "WeightSharingRegression",
           "WeightSharingRegressionCV"]

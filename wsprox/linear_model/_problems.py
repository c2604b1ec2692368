r"""The smooth parts handed to the solver: the losses, minimised over the intercept, and their gradients.

Each is a callable ``w -> (f(w), grad f(w))`` of the coefficients alone, as
:func:`wsprox.optimize.minimize_composite` takes it, with ``n_features`` and
``intercept(w)``, the optimal intercept for ``w``.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import expit

__all__ = ["Intercept", "LeastSquares", "Logistic"]


class LeastSquares:
    r"""``w -> (f(w), grad f(w))`` for :math:`f(w) = \min_b \frac{1}{2n}\|y - Xw - b\|^2`.

    The intercept is eliminated by centring ``X`` and ``y`` (``b = 0``
    without ``fit_intercept``); :meth:`intercept` gives the optimal ``b``
    for ``w``.

    Examples
    --------
    >>> import numpy as np
    >>> loss = LeastSquares(np.array([[1.0], [3.0]]), np.array([1.0, 5.0]), fit_intercept=True)
    >>> loss(np.array([1.0]))                  # the residuals of w = 1 at the best b: -1 and 1
    (0.5, array([-1.]))
    >>> loss.intercept(np.array([1.0]))
    1.0
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


class Intercept:
    r"""The unpenalised intercept of the logistic loss, for given scores ``z``.

    ``b(z)`` minimises :math:`\sum_i \log(1 + e^{z_i + b}) - t_i (z_i + b)`,
    the root of :math:`\sum_i \sigma(z_i + b) = \sum_i t_i`, which lies in
    :math:`[\operatorname{logit}(\bar t) - \max z, \operatorname{logit}(\bar t) - \min z]`
    (:math:`\sigma` is increasing). Newton's method from the previous root,
    bisecting whenever a step leaves the bracket, until the step or the
    equation's residual is at the level of rounding.

    Examples
    --------
    >>> import numpy as np
    >>> intercept = Intercept(np.array([1.0, 0.0, 0.0, 0.0]))
    >>> round(intercept(np.zeros(4)), 6)       # logit(1/4)
    -1.098612
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


class Logistic:
    r"""``w -> (f(w), grad f(w))`` for the mean logistic loss, minimised over the intercept.

    The intercept is that of :class:`Intercept` (0 without
    ``fit_intercept``); ``t`` holds the targets coded 0.0 and 1.0;
    :meth:`intercept` gives the optimal intercept for ``w``.

    Examples
    --------
    >>> import numpy as np
    >>> loss = Logistic(np.array([[1.0], [-1.0]]), np.array([1.0, 0.0]), fit_intercept=False)
    >>> f, g = loss(np.zeros(1))
    >>> round(f, 6), g                         # log 2, and the gradient toward the positive sample
    (0.693147, array([-0.5]))
    """

    def __init__(self, X, t, *, fit_intercept):
        self.n_samples, self.n_features = X.shape
        self.X, self.t = X, t
        self.offset = Intercept(t) if fit_intercept else None

    def __call__(self, w):
        z = self.X @ w
        if self.offset is not None:
            z = z + self.offset(z)
        f = float(np.mean(np.logaddexp(0.0, z) - self.t * z))
        return f, self.X.T @ (expit(z) - self.t) / self.n_samples

    def intercept(self, w):
        return self.offset(self.X @ w) if self.offset is not None else 0.0

r"""The CPU baselines of ``python -m wsprox.bench``: SciPy's isotonic regression and torchsort's soft rank.

The third baseline, the authors' imminent collisions in PyTorch, is
:mod:`wsprox.bench.authors`.
"""
import numpy as np

__all__ = ["scipy_prox", "torchsort_prox"]


def scipy_prox(w, lam):
    """The SciPy pipeline: argsort, shift, isotonic regression, un-sort.

    Examples
    --------
    >>> import numpy as np, wsprox
    >>> w = np.array([0.0, 1.0, 10.0])
    >>> bool(np.allclose(scipy_prox(w, 2.0), wsprox.prox(w, 2.0)))
    True
    """
    from scipy.optimize import isotonic_regression

    d = w.size
    order = np.argsort(w)
    z = w[order].astype(np.float64)
    if d > 1:
        z += lam * (d + 1 - 2 * np.arange(1, d + 1)) / (d - 1)
    out = np.empty(d)
    out[order] = isotonic_regression(z).x
    return out


def torchsort_prox(w, lam):
    r"""The prox through torchsort's L2 soft rank (Blondel et al., 2020).

    The identity :math:`\operatorname{prox}(w) = w + b - a\,\mathrm{soft\_rank}(w; a)`,
    :math:`a = 2\lambda/(d-1)`, :math:`b = \lambda(d+1)/(d-1)`.

    Examples
    --------
    >>> import importlib.util, numpy as np, wsprox
    >>> w = np.array([0.0, 1.0, 10.0])
    >>> if importlib.util.find_spec("torchsort"):  # an optional baseline
    ...     assert np.allclose(torchsort_prox(w, 2.0), wsprox.prox(w, 2.0), atol=1e-6)
    """
    import torch
    import torchsort

    d = w.size
    a = 2 * lam / (d - 1)
    b = lam * (d + 1) / (d - 1)
    t = torch.as_tensor(np.asarray(w, dtype=np.float64)).reshape(1, d)
    rank = torchsort.soft_rank(t, regularization_strength=a, regularization="l2")
    return (t + b - a * rank).numpy().reshape(d)

r"""Beta-lasso, a baseline of the paper's comparisons.

The other baselines are options of the other modules: the subgradient
method is ``loss + s * penalty(w)`` (:func:`wsprox.torch.penalty`), the
partial prox step is ``rho`` of :class:`wsprox.torch.WeightSharingProx`, and
retraining with the sharing frozen is :func:`wsprox.torch.tie_`.
"""
from __future__ import annotations

import torch

from .._validation import check_penalty_weight
from ._checks import check_own_memory, check_tensor

__all__ = ["beta_lasso_"]


def beta_lasso_(tensor: torch.Tensor, lam: float, beta: float, *, lr: float) -> torch.Tensor:
    r"""Beta-lasso's regularisation step, in place: call it right after ``optimizer.step()``.

    Neyshabur, "Towards learning convolutions from scratch" (NeurIPS 2020),
    Algorithm 1: with learning rate :math:`\eta`, every step is

    .. math::

        w \leftarrow w - \eta\,\bigl(\nabla L(w) + \lambda \operatorname{sign}(w)\bigr),
        \qquad w_i \leftarrow 0 \text{ where } |w_i| < \beta\lambda.

    After the optimizer's :math:`w - \eta \nabla L(w)`, this function does
    the rest: the sign step :math:`w \leftarrow w - \eta\lambda
    \operatorname{sign}(w)`, then the hard threshold at :math:`\beta\lambda`
    (not scaled by :math:`\eta`: with :math:`\beta > \eta` it removes far
    more than the lasso's soft threshold would).

    Parameters
    ----------
    tensor : torch.Tensor
        Floating point, any device, no two entries sharing memory; a
        parameter that requires grad is fine.
    lam : float
        :math:`\lambda`, finite and ``>= 0``.
    beta : float
        :math:`\beta`, finite and ``>= 0``.
    lr : float
        :math:`\eta`, the learning rate of the step just taken, finite and ``>= 0``.

    Returns
    -------
    torch.Tensor
        ``tensor`` itself, after the sign step and the hard threshold.

    Raises
    ------
    TypeError
        Not a dense floating-point tensor; a weight that is not a real number.
    ValueError
        A negative or non-finite weight; an expanded or self-overlapping tensor.

    Examples
    --------
    >>> import torch, wsprox.torch
    >>> w = torch.tensor([0.5, -0.25, 0.05, -2.0])
    >>> wsprox.torch.beta_lasso_(w, 0.1, 2.0, lr=0.5)    # sign step 0.05, then |w| < 0.2 -> 0
    tensor([ 0.4500, -0.2000,  0.0000, -1.9500])
    """
    check_tensor(tensor)
    if not tensor.is_floating_point():
        raise TypeError(f"tensor must be floating point, got {tensor.dtype}")
    check_own_memory(tensor, "tensor")
    lam, beta, lr = (check_penalty_weight(v, name) for v, name in ((lam, "lam"), (beta, "beta"), (lr, "lr")))
    with torch.no_grad():
        w = tensor.detach()
        w.sub_(torch.sign(w), alpha=lr * lam)
        w.masked_fill_(w.abs() < beta * lam, 0.0)
    return tensor


r"""PyTorch integration: proximal weight-sharing steps in a training loop.

Proximal SGD for :math:`L(w) + \sum_p s_p R(w_p)` alternates an optimizer step
on the loss with the prox of every regularised parameter tensor :math:`w_p`
(each tensor one vector):

.. math::

    w_p \leftarrow \operatorname{prox}_{\eta s_p R}\bigl(w_p - \eta \nabla_p L\bigr),

where :math:`\eta` is the learning rate. :class:`WeightSharingProx` does the
second half in one call after ``optimizer.step()``; :func:`prox_` is the
in-place prox of one tensor, :func:`prox` the differentiable prox (autograd
backpropagates through it, exactly; ``torch.compile``, :func:`torch.func.grad`
and :func:`torch.func.vmap` see one operator, ``torch.ops.wsprox.prox``),
:func:`penalty` the differentiable :math:`R` (for the subgradient baseline
``loss + s * penalty(w)``), and
:func:`clusters`, :func:`tie_` and :func:`sharing_stats` read and freeze the
sharing found. The baselines of the paper's comparisons are here too: the
subgradient method (``loss + s * penalty(w)``, :func:`penalty`), the
partial prox step (``rho`` of :class:`WeightSharingProx`), beta-lasso
(:func:`beta_lasso_`), and retraining with the sharing frozen (:func:`tie_`).

Every entry takes float16, bfloat16, float32 and float64 tensors: half
precision is computed in float32 and returned (or written) in its own dtype.
The axis of the slices is ``dim=``, as in torch (``axis=`` is an alias).

PyTorch is an optional dependency: ``import wsprox`` never imports it,
``import wsprox.torch`` does (the ``torch`` extra: ``pip install -e ".[torch]"``
in a checkout).

Everything public is here; the modules hold one concept each:
``functional`` (:func:`prox`, :func:`prox_`, :func:`penalty`),
:mod:`~wsprox.torch.ops` (the operator behind :func:`prox`: its autograd
formula, fake implementation and batching rule), ``optim``
(:class:`WeightSharingProx`), ``sharing`` (:func:`clusters`, :func:`tie_`,
:func:`sharing_stats`) and ``baselines`` (:func:`beta_lasso_`).
"""
# First: _checks imports torch through wsprox._extras.require, whose error names the extra
# that installs it; the other modules import torch after it.
from ._checks import FLOAT_DTYPES, METHODS
from .baselines import beta_lasso_
from .functional import penalty, prox, prox_
from .optim import GROUP_OPTIONS, WeightSharingProx
from .sharing import SharingStats, clusters, sharing_stats, tie_

__all__ = ["FLOAT_DTYPES", "GROUP_OPTIONS", "METHODS", "SharingStats", "WeightSharingProx", "beta_lasso_",
           "clusters", "penalty", "prox", "prox_", "sharing_stats", "tie_"]

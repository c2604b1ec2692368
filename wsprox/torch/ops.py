r"""The prox as the PyTorch operator ``torch.ops.wsprox.prox``: autograd, ``torch.compile``, ``torch.func``.

:func:`wsprox.torch.prox` checks its arguments and calls this operator
(through :class:`Prox`, below), registered with
:func:`torch.library.custom_op` as ``wsprox::prox``::

    wsprox::prox(Tensor tensor, Tensor lam, Tensor l1, str method, int? dim, bool check_finite)
        -> (Tensor x, Tensor labels, Tensor sign)

It returns the prox ``x`` (``tensor``'s shape and dtype, contiguous), the
cluster of every entry (int64, numbered ``0..K-1`` by increasing value in
every vector; ``dim`` as in :func:`wsprox.torch.prox`, already normalised)
and the sign of the prox before rounding to half precision (int8); ``lam``
and ``l1`` are 0-d tensors. Everything :func:`~wsprox.torch.prox` does before
calling it reads only types, shapes and constants, and everything that needs
values (checking ``lam`` and ``l1``, finding NaN) happens inside it, so that
``torch.compile(..., fullgraph=True)`` traces the prox as one node. The
registrations:

* the implementation: the machinery of :func:`wsprox.prox` (its
  ``prox_labels``), on the tensor's device (the CPU kernels, or the CUDA
  backend for a CUDA tensor);
* the fake implementation: empty tensors of the output shapes and dtypes
  (``torch.compile`` traces with them);
* the autograd formula: the backward pass is
  :meth:`wsprox.derivatives.Linearization.vjp` from the saved labels and
  signs, :math:`O(d)` scatter-adds, with ``lam > 0`` and ``l1 > 0`` as
  flags on the device (nothing read back); it is made of differentiable
  torch operations, so double backward works: the Hessian-vector product
  of ``(prox(w) ** 2).sum()`` is :math:`2 J v`;
* the batching rule of :func:`torch.func.vmap`: a batch of slices
  (``dim`` given) becomes more rows, a batch of whole vectors (``dim=None``)
  one row per example, one call either way; a batched ``lam`` or ``l1``
  makes one call per example. A NaN is then reported at its index in the
  batch (for ``dim=None``: the example, then the flat index within it).

:func:`wsprox.torch.prox` applies :class:`Prox`, an
:class:`torch.autograd.Function` whose forward pass is the operator and
whose autograd formula and batching rule are the operator's:
``torch.func.grad`` refuses the autograd formula of a custom operator
(pytorch/pytorch#168393), not that of a Function with ``setup_context``.
``torch.compile`` of ``torch.func.grad`` through the prox still fails there
(inside ``torch.compile`` the operator's formula is used); ``torch.compile``
of ordinary autograd and of ``torch.func.vmap``, and ``torch.func.grad``
without ``torch.compile``, work. ``torch.func.jacrev`` batches the backward
pass: it works for ``dim=None``, and with ``dim`` given meets
``torch.moveaxis`` (in ``wsprox._rows``), which has no batching rule.

Examples
--------
>>> import torch, wsprox.torch
>>> x, labels, sign = torch.ops.wsprox.prox(torch.tensor([0.0, 1.0, 10.0]), torch.tensor(2.0),
...                                         torch.tensor(0.0), "auto", None, True)
>>> x, labels, sign
(tensor([1.5000, 1.5000, 8.0000]), tensor([0, 0, 1]), tensor([1, 1, 1], dtype=torch.int8))
"""
import functools
import math

import torch

from .._prox import prox_labels
from .._rows import from_rows, to_rows
from ..derivatives import linearize
from ._checks import names_non_finite, weight_value, work_dtype

__all__ = ["Prox", "prox"]


@torch.library.custom_op(
    "wsprox::prox", mutates_args=(),
    schema="(Tensor tensor, Tensor lam, Tensor l1, str method, int? dim, bool check_finite)"
           " -> (Tensor, Tensor, Tensor)",
)
def prox(tensor, lam, l1, method, dim, check_finite):
    """The prox, the labels of its clusters and its signs: the operator ``wsprox::prox``.

    The arguments are those of :func:`wsprox.torch.prox` as it passes them
    on: ``lam`` and ``l1`` 0-d tensors (their values are checked here),
    ``dim`` normalised. Autograd, ``torch.compile`` and ``torch.func`` see
    this operator; the module docstring has an example.
    """
    lam_value, l1_value = weight_value(lam, "lam"), weight_value(l1, "l1")
    # NumPy cannot view negative or half tensors; autograd records nothing here.
    work = tensor.detach().resolve_neg().to(work_dtype(tensor.dtype))
    with names_non_finite(tensor, "tensor"):
        x, labels = prox_labels(work, lam_value, l1=l1_value, method=method, axis=dim,
                                check_finite=check_finite)
    # Contiguous, as the fake implementation says (a prox along dim 0 comes back as a transposed view).
    contiguous = torch.contiguous_format
    return (x.to(tensor.dtype, memory_format=contiguous), labels.contiguous(),
            torch.sign(x).to(torch.int8, memory_format=contiguous))


@prox.register_fake
def _prox_fake(tensor, lam, l1, method, dim, check_finite):
    return (tensor.new_empty(tensor.shape), tensor.new_empty(tensor.shape, dtype=torch.int64),
            tensor.new_empty(tensor.shape, dtype=torch.int8))


def _setup_context(ctx, inputs, output):
    """Save what the backward pass needs: the labels and signs (the output's), and ``lam`` and ``l1``."""
    tensor, lam, l1, _, dim, _ = inputs
    _, labels, sign = output
    ctx.mark_non_differentiable(labels, sign)
    ctx.save_for_backward(labels, sign, lam, l1)
    ctx.dim, ctx.dtype = dim, tensor.dtype


def _backward(ctx, grad, _labels_grad, _sign_grad):
    """The gradients of ``tensor``, ``lam`` and ``l1`` asked for: ``Linearization.vjp`` of ``grad``."""
    labels, sign, lam, l1 = ctx.saved_tensors
    g = to_rows(grad.to(work_dtype(ctx.dtype)), ctx.dim, xp=torch)
    # Only lam > 0 and l1 > 0 matter: flags on the device, read by torch.where, never by Python.
    # A float weight lives on the host: copied to a CUDA device without waiting for it (a copy
    # to the host must wait, or the host could read it before it lands).
    flags = [w.detach().to(g.device, non_blocking=g.is_cuda) for w in (lam, l1)]
    lin = linearize(to_rows(labels, ctx.dim, xp=torch), to_rows(sign, ctx.dim, xp=torch).to(g.dtype),
                    flags[0], l1=flags[1], xp=torch)
    grad_w, grad_lam, grad_l1 = lin.vjp(g)
    needed = ctx.needs_input_grad
    return (from_rows(grad_w, labels.shape, ctx.dim, xp=torch).to(ctx.dtype) if needed[0] else None,
            grad_lam.to(lam.device, lam.dtype) if needed[1] else None,
            grad_l1.to(l1.device, l1.dtype) if needed[2] else None,
            None, None, None)


def _batched(call, info, in_dims, tensor, lam, l1, method, dim, check_finite):
    # The batching rule of the operator and of Prox, which call is (torch calls it only when
    # some argument is batched).
    tensor_dim, lam_dim, l1_dim = in_dims[:3]
    if lam_dim is not None or l1_dim is not None:
        # A weight per example: one prox per example.
        outputs = [call(_select(tensor, tensor_dim, i), _select(lam, lam_dim, i), _select(l1, l1_dim, i),
                        method, dim, check_finite) for i in range(info.batch_size)]
        return tuple(torch.stack(parts) for parts in zip(*outputs)), (0, 0, 0)
    batch = tensor.movedim(tensor_dim, 0)
    if dim is not None:
        # The slices of every example are more rows of one batch.
        return call(batch, lam, l1, method, dim + 1, check_finite), (0, 0, 0)
    # Every example one vector: one row each.
    rows = batch.reshape(batch.shape[0], math.prod(batch.shape[1:]))
    outputs = call(rows, lam, l1, method, 1, check_finite)
    return tuple(out.reshape(batch.shape) for out in outputs), (0, 0, 0)


def _select(value, dim, i):
    # Example i of a batched argument; an unbatched one as it is.
    return value if dim is None else value.select(dim, i)


prox.register_autograd(_backward, setup_context=_setup_context)
prox.register_vmap(functools.partial(_batched, prox))


class Prox(torch.autograd.Function):
    """The operator as a :class:`torch.autograd.Function`: what :func:`wsprox.torch.prox` applies.

    Its forward pass is the operator (which autograd does not record there),
    its ``setup_context``, ``backward`` and ``vmap`` are the operator's
    registrations: the same formulas, in the form that :mod:`torch.func`
    accepts (module docstring). Under ``vmap`` a batch is one ``Prox`` of
    more rows, and its backward pass one pass over them. ``torch.compile``
    traces it into the graph, the operator one node of it.

    Examples
    --------
    >>> import torch, wsprox.torch
    >>> w = torch.tensor([0.0, 1.0, 10.0], requires_grad=True)
    >>> x, labels, sign = Prox.apply(w, torch.tensor(2.0), torch.tensor(0.0), "auto", None, True)
    >>> x, labels.requires_grad
    (tensor([1.5000, 1.5000, 8.0000], grad_fn=<ProxBackward>), False)
    """

    @staticmethod
    def forward(tensor, lam, l1, method, dim, check_finite):
        """The operator ``wsprox::prox``: the prox, its labels and its signs."""
        return prox(tensor, lam, l1, method, dim, check_finite)

    setup_context = staticmethod(_setup_context)
    backward = staticmethod(_backward)

    @staticmethod
    def vmap(info, in_dims, *args):
        """The batching rule: one ``Prox`` of more rows (module docstring)."""
        return _batched(Prox.apply, info, in_dims, *args)

r"""The differentiable prox, the prox in place, and the differentiable penalty :math:`R`.

:func:`prox` is the prox for autograd, ``torch.compile`` and ``torch.func``
(the operator of :mod:`wsprox.torch.ops` behind checks that trace without a
graph break); :func:`prox_` writes the prox into a tensor's storage outside
autograd, as an optimizer's update does; :func:`penalty` is :math:`R` with
its exact gradient, for the subgradient baseline ``loss + s * penalty(w)``.
"""
from __future__ import annotations

import torch

from .._prox import prox as _prox
from ..regularizer import gap_weights, sorted_penalty, sorted_weights
from ..warm import ProxState
from . import ops
from ._checks import (
    check_bool,
    check_float_tensor,
    check_method,
    check_prox_tensor,
    check_tensor,
    names_non_finite,
    resolve_dim,
    weight_tensor,
    work_dtype,
)

__all__ = ["penalty", "prox", "prox_"]


def prox(tensor: torch.Tensor, lam: float | torch.Tensor, *, l1: float | torch.Tensor = 0.0,
         method: str = "auto", dim: int | None = None, axis: int | None = None,
         check_finite: bool = True) -> torch.Tensor:
    r"""The prox of :math:`\lambda R + \ell_1\|\cdot\|_1`, differentiable: THE entry for autograd.

    The same operator as :func:`wsprox.prox` (which refuses a tensor that
    requires grad while autograd records), as the PyTorch operator
    ``torch.ops.wsprox.prox`` (:mod:`wsprox.torch.ops`), whose backward pass
    is the exact vector-Jacobian product (:meth:`wsprox.ProxResult.vjp`),
    computed with torch operations on the tensor's device. It works under
    ``torch.compile`` (one node of the graph, ``fullgraph=True`` included),
    :func:`torch.func.grad` and :func:`torch.func.vmap`.

    Parameters
    ----------
    tensor : torch.Tensor
        float16, bfloat16, float32 or float64, dense, on the CPU or a CUDA
        device; any strides. Never modified.
    lam : float or torch.Tensor
        Weight of the weight-sharing penalty, finite and ``>= 0``; a
        one-element tensor gets a gradient when it requires grad.
    l1 : float or torch.Tensor, optional
        Weight of the L1 penalty, finite and ``>= 0``; as ``lam``.
    method : str, optional
        The collision algorithm, as in :func:`wsprox.prox`.
    dim : int or None, optional
        ``None`` (default): the whole tensor is one vector; an integer: every
        1-D slice along that dimension separately.
    axis : int or None, optional
        An alias of ``dim``.
    check_finite : bool, optional
        As in :func:`wsprox.prox`: ``True`` (default) raises a ValueError
        for NaN or infinity (on CUDA, one wait for the device); ``False``
        neither raises nor, on CUDA, waits for the device or reads anything
        back (a one-element ``lam`` or ``l1`` tensor is still read with
        ``.item()``; a float is read on the host), and NaN or infinity
        anywhere in ``tensor`` makes every entry of the prox NaN (the
        gradients are then meaningless).

    Returns
    -------
    torch.Tensor
        The prox, a new contiguous tensor of ``tensor``'s shape, dtype and
        device.

    Raises
    ------
    TypeError
        Not a dense tensor of those dtypes on the CPU or CUDA, ``lam`` or
        ``l1`` neither a real number nor a one-element real tensor, both
        ``dim`` and ``axis`` given, ``check_finite`` not a bool.
    ValueError
        The errors of :func:`wsprox.prox` (NaN or infinity unless
        ``check_finite=False``, negative weights, an unknown method, a
        dimension out of range).

    Notes
    -----
    The gradients are exact (:mod:`wsprox.derivatives`): the gradient of
    ``tensor`` is the incoming gradient averaged over every cluster of the
    prox (0 on the cluster that ``l1 > 0`` thresholds to 0); ``lam`` and
    ``l1`` get the incoming gradient's products with
    :math:`\partial x/\partial\lambda` (each cluster's mean velocity) and
    :math:`\partial x/\partial\ell_1 = -\operatorname{sign}(x)`. At ties and
    kinks they are the element of the generalised Jacobian that the clusters
    found give. The backward pass is made of differentiable torch
    operations, so double backward works (the Hessian of
    ``(prox(w) ** 2).sum()`` is :math:`2J`). The forward pass costs one
    :func:`wsprox.prox_result` without its counts (half precision is proxed
    in float32 and rounded once); the backward pass :math:`O(d)`
    scatter-adds over the saved labels (int64) and signs (int8).

    Under ``torch.compile`` the checks of the types, ``dim``, ``method`` and
    ``check_finite`` run while tracing (with ``fullgraph=True`` their error
    comes wrapped in torch's, which quotes it); those of the values, ``lam``
    and ``l1`` tensors and NaN, run in the operator, and raise as they do
    eagerly. Under :func:`torch.func.vmap`, the batch of a ``dim``-wise prox
    becomes more rows and that of whole vectors one row per example, in one
    call; a batched ``lam`` or ``l1`` makes one call per example. What does
    not work yet (``torch.compile`` of ``torch.func.grad``, and
    ``jacrev`` with ``dim`` given) is listed in :mod:`wsprox.torch.ops`.

    Examples
    --------
    >>> import torch, wsprox.torch
    >>> w = torch.tensor([0.0, 1.0, 10.0], requires_grad=True)
    >>> lam = torch.tensor(2.0, requires_grad=True)
    >>> x = wsprox.torch.prox(w, lam)
    >>> x
    tensor([1.5000, 1.5000, 8.0000], grad_fn=<ProxBackward>)
    >>> x[0].backward()                      # x_0 is the mean of w_0 and w_1, plus lam / 2
    >>> w.grad, lam.grad
    (tensor([0.5000, 0.5000, 0.0000]), tensor(0.5000))

    The same gradient with :func:`torch.func.grad`, and a batch of vectors,
    each proxed as one, with :func:`torch.func.vmap`:

    >>> torch.func.grad(lambda v: wsprox.torch.prox(v, 2.0)[0])(w.detach())
    tensor([0.5000, 0.5000, 0.0000])
    >>> batch = torch.tensor([[0.0, 1.0, 10.0], [0.0, 5.0, 6.0]])
    >>> torch.func.vmap(lambda v: wsprox.torch.prox(v, 2.0))(batch)
    tensor([[1.5000, 1.5000, 8.0000],
            [2.0000, 4.5000, 4.5000]])
    """
    check_float_tensor(tensor)
    dim = resolve_dim(dim, axis, tensor.ndim)
    x, _, _ = ops.Prox.apply(tensor, weight_tensor(lam, "lam"), weight_tensor(l1, "l1"), check_method(method),
                             dim, check_bool(check_finite, "check_finite"))
    return x


def prox_(tensor: torch.Tensor, lam: float, *, l1: float = 0.0, method: str = "auto", dim: int | None = None,
          axis: int | None = None, warm: ProxState | None = None, check_finite: bool = True) -> torch.Tensor:
    r"""Replace ``tensor`` by its prox of :math:`\lambda R + \ell_1\|\cdot\|_1`, in place.

    The same operator as :func:`wsprox.prox`, written into the tensor's own
    storage and outside autograd (like an optimizer's update; :func:`prox` is
    the differentiable one).

    Parameters
    ----------
    tensor : torch.Tensor
        float16, bfloat16, float32 or float64, on the CPU or a CUDA device,
        no two entries sharing memory; a parameter that requires grad is
        fine. Its dtype is kept (half precision is proxed in float32 and
        rounded once).
    lam : float
        Weight of the weight-sharing penalty, finite and ``>= 0``.
    l1 : float, optional
        Weight of the L1 penalty, finite and ``>= 0``.
    method : str, optional
        The collision algorithm, as in :func:`wsprox.prox`.
    dim : int or None, optional
        ``None`` (default): the whole tensor is one vector; an integer: every
        1-D slice along that dimension separately.
    axis : int or None, optional
        An alias of ``dim``.
    warm : wsprox.ProxState, optional
        Warm start for repeated proxes of this tensor, as in
        :func:`wsprox.prox` (CPU tensors only).
    check_finite : bool, optional
        As in :func:`wsprox.prox`: ``False`` neither raises for NaN or
        infinity nor, on CUDA, waits for the device (a training step that
        never synchronises); NaN or infinity anywhere in the tensor then
        makes every entry NaN.

    Returns
    -------
    torch.Tensor
        ``tensor`` itself.

    Raises
    ------
    TypeError
        Not a dense tensor, a dtype other than float16, bfloat16, float32
        and float64, a device other than CPU/CUDA, both ``dim`` and ``axis``.
    ValueError
        An expanded tensor (a stride 0) or one whose entries overlap in
        memory (they cannot take different values); NaN or infinity in the
        tensor, bad ``lam``, ``l1``, ``method``, ``dim`` or ``warm`` (the
        errors of :func:`wsprox.prox`; not NaN or infinity with
        ``check_finite=False``). Nothing is written then.

    Notes
    -----
    A contiguous float32 or float64 CPU tensor is handed to the CPU kernels
    as a zero-copy NumPy view, both input and output; a non-contiguous one, a
    half-precision one, or a negative view (``tensor.is_neg()``, e.g. the
    ``.imag`` of a conjugated complex tensor, whose storage holds the negated
    values) is proxed in a contiguous copy of its values (float32 for half
    precision) and copied back through the view. CUDA tensors go to
    ``backend="cuda"`` through ``__cuda_array_interface__``, without a trip
    through host memory. The autograd version counter is bumped, so a graph
    that saved the old values refuses to backpropagate through them. Cost:
    that of :func:`wsprox.prox`, :math:`O(d \log d)` per vector.

    Examples
    --------
    >>> import torch, wsprox.torch
    >>> w = torch.tensor([0.0, 1.0, 10.0])
    >>> wsprox.torch.prox_(w, 2.0)
    tensor([1.5000, 1.5000, 8.0000])
    >>> w                                    # changed in place, still float32
    tensor([1.5000, 1.5000, 8.0000])
    >>> wsprox.torch.prox_(torch.tensor([[0.0, 1.0], [4.0, 6.0]], dtype=torch.bfloat16), 1.0, dim=1)
    tensor([[0.5000, 0.5000],
            [5.0000, 5.0000]], dtype=torch.bfloat16)
    """
    check_prox_tensor(tensor)
    axis = resolve_dim(dim, axis, tensor.ndim)
    with torch.no_grad(), names_non_finite(tensor, "tensor"):
        target = tensor.detach()
        dtype = work_dtype(target.dtype)
        in_place = target.is_contiguous() and not target.is_neg() and target.dtype == dtype
        work = target if in_place else target.resolve_neg().to(dtype, memory_format=torch.contiguous_format)
        if work.is_cuda:
            _prox(work, lam, l1=l1, method=method, backend="cuda", axis=axis, out=work, warm=warm,
                  check_finite=check_finite)
        else:
            view = work.numpy()
            _prox(view, lam, l1=l1, method=method, axis=axis, out=view, warm=warm, check_finite=check_finite)
        if in_place:
            # PyTorch did not see the write: tell autograd the values changed.
            torch.autograd.graph.increment_version(target)
        else:
            target.copy_(work)
    return tensor



def penalty(tensor: torch.Tensor, *, dim: int | None = None, axis: int | None = None) -> torch.Tensor:
    r"""The weight-sharing penalty :math:`R` of a tensor, differentiable.

    .. math::

        R(w) = \frac{1}{d-1}\sum_{i>j}|w_i - w_j| = \sum_{k=1}^d c_k\, x_k,
        \qquad x = \operatorname{sort}(w),\quad c_k = \frac{2k-d-1}{d-1}.

    Parameters
    ----------
    tensor : torch.Tensor
        Floating point, any device; not checked for NaN.
    dim : int or None, optional
        ``None`` (default): the whole tensor is one vector (a 0-d result); an
        integer: the penalty of every 1-D slice along that dimension.
    axis : int or None, optional
        An alias of ``dim``.

    Returns
    -------
    torch.Tensor
        The penalty in the tensor's dtype, with a gradient: at distinct
        entries :math:`\partial R/\partial w_i = c_{\operatorname{rank}(i)}`
        exactly, which is :func:`wsprox.subgradient`; at ties the gradient is
        the element of the subdifferential that :func:`torch.sort`'s order picks.

    Raises
    ------
    TypeError
        Not a dense floating-point tensor; both ``dim`` and ``axis``.
    ValueError
        ``dim`` out of range.

    Notes
    -----
    One sort, :math:`O(d \log d)`, then the gap form of
    :func:`wsprox.penalty` (:func:`wsprox.regularizer.sorted_penalty`): within a
    few units of roundoff of the exact value on every finite input, in the
    tensor's dtype (float16 and bfloat16 are summed in float32); ``inf`` only
    where the exact penalty exceeds the dtype's largest value. The backward
    pass is a scatter of the :math:`c_k`, :math:`O(d)`. Zero for :math:`d \le 1`.

    Examples
    --------
    >>> import torch, wsprox.torch
    >>> w = torch.tensor([3.0, 0.0, 1.0], requires_grad=True)
    >>> r = wsprox.torch.penalty(w)      # (3 + 2 + 1) / 2
    >>> r.backward()
    >>> r.detach(), w.grad
    (tensor(3.), tensor([ 1., -1.,  0.]))
    """
    check_tensor(tensor)
    if not tensor.is_floating_point():
        raise TypeError(f"tensor must be floating point to differentiate R, got {tensor.dtype}")
    axis = resolve_dim(dim, axis, tensor.ndim)
    rows = tensor.reshape(-1) if axis is None else tensor.movedim(axis, -1)
    return _SortedPenalty.apply(torch.sort(rows, dim=-1).values)


class _SortedPenalty(torch.autograd.Function):
    """:func:`penalty` of rows sorted ascending; the gradient is :math:`c_k` exactly."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x):
        work = x if x.dtype in (torch.float32, torch.float64) else x.float()
        weights = torch.as_tensor(gap_weights(x.shape[-1]), dtype=work.dtype, device=x.device)
        return sorted_penalty(work, weights, torch).to(x.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.d = inputs[0].shape[-1]

    @staticmethod
    def backward(ctx, grad):
        c = torch.as_tensor(sorted_weights(ctx.d), dtype=grad.dtype, device=grad.device)
        return grad.unsqueeze(-1) * c


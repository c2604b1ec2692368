r"""PyTorch integration: proximal weight-sharing steps in a training loop.

Proximal SGD for :math:`L(w) + \sum_p s_p R(w_p)` alternates an optimizer step
on the loss with the prox of every regularised parameter tensor :math:`w_p`
(each tensor one vector):

.. math::

    w_p \leftarrow \operatorname{prox}_{\eta s_p R}\bigl(w_p - \eta \nabla_p L\bigr),

where :math:`\eta` is the learning rate. :class:`WeightSharingProx` does the
second half in one call after ``optimizer.step()``; :func:`prox_` is the
in-place prox of one tensor, :func:`prox` the differentiable prox (autograd
backpropagates through it, exactly), :func:`penalty` the differentiable
:math:`R` (for the subgradient baseline ``loss + s * penalty(w)``), and
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
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ._extras import require
from ._prox import prox as _prox
from ._prox import prox_labels
from ._rows import from_rows, to_rows
from ._validation import check_penalty_weight, normalize_axis
from .cpu import SOLVERS
from .cpu.backend import non_finite_message
from .derivatives import linearize
from .regularizer import gap_weights, sorted_penalty, sorted_weights
from .warm import ProxState

torch = require("torch", extra="torch", feature="wsprox.torch")

__all__ = ["SharingStats", "WeightSharingProx", "beta_lasso_", "clusters", "penalty", "prox", "prox_",
           "sharing_stats", "tie_"]

#: Options a parameter group of :class:`WeightSharingProx` may set for itself.
GROUP_OPTIONS = ("strength", "l1", "axis", "method", "rho", "check_finite")

#: The values ``method=`` accepts: ``"auto"`` and the collision algorithms
#: (the same names on every backend).
METHODS = ("auto", *SOLVERS)

#: The dtypes of the tensors that :func:`prox`, :func:`prox_` and
#: :class:`WeightSharingProx` take; the half-precision ones are computed in float32.
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _work_dtype(dtype):
    # The dtype the prox of a tensor of dtype is computed in.
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def _dim(dim, axis, ndim=None):
    # dim=, or its alias axis=, not both; normalised (named as the caller wrote it) when ndim is given.
    if dim is not None and axis is not None:
        raise TypeError(f"pass dim= or its alias axis=, not both (got dim={dim!r}, axis={axis!r})")
    value, name = (axis, "axis") if dim is None else (dim, "dim")
    return value if ndim is None else normalize_axis(value, ndim, name)


@contextmanager
def _names_non_finite(tensor, name):
    # A NaN or infinity found by the prox is reported at its index in tensor, under the caller's name.
    try:
        yield
    except ValueError:
        values = tensor.detach()
        bad = ~torch.isfinite(values.reshape(-1))
        if not bad.any():
            raise
        first = int(bad.nonzero()[0])
        raise ValueError(non_finite_message(name, tuple(values.shape), first,
                                            float(values.reshape(-1)[first]))) from None


def _check_tensor(tensor, name="tensor"):
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.layout != torch.strided:
        raise TypeError(f"{name} must be a dense (strided) tensor, got layout {tensor.layout}")


def _check_float_tensor(tensor, name="tensor"):
    _check_tensor(tensor, name)
    if tensor.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be float16, bfloat16, float32 or float64, got {tensor.dtype}; "
            "convert it first (e.g. tensor.float())"
        )
    if tensor.device.type not in ("cpu", "cuda"):
        raise TypeError(f"{name} is on device {tensor.device}; wsprox supports CPU and CUDA tensors")


def _check_prox_tensor(tensor, name="tensor"):
    _check_float_tensor(tensor, name)
    _check_own_memory(tensor, name)


def _check_own_memory(tensor, name):
    # An in-place update gives every entry its own value: no two entries may share memory.
    if tensor.numel() <= 1:
        return
    dims = sorted((stride, size, k) for k, (size, stride) in enumerate(zip(tensor.shape, tensor.stride()))
                  if size > 1)
    stride, size, k = dims[0]
    if stride == 0:
        raise ValueError(
            f"{name} is expanded: its {size} entries along dimension {k} share memory (stride 0), "
            "so they cannot take different values in place; pass a copy (.clone())"
        )
    # Each stride beyond the reach of the smaller ones proves the entries distinct (contiguous
    # tensors and their views); otherwise count the distinct offsets.
    reach = 0
    for stride, size, _ in dims:
        if stride <= reach:
            break
        reach += stride * (size - 1)
    else:
        return
    offsets = torch.zeros(1, dtype=torch.int64)
    for stride, size, _ in dims:
        offsets = (offsets[:, None] + stride * torch.arange(size)).reshape(-1)
    if torch.unique(offsets).numel() < offsets.numel():
        raise ValueError(
            f"{name} has overlapping memory (shape {tuple(tensor.shape)}, strides {tensor.stride()}): "
            "some entries share memory, so they cannot take different values in place; "
            "pass a copy (.clone())"
        )


def prox(tensor: torch.Tensor, lam: float | torch.Tensor, *, l1: float | torch.Tensor = 0.0, method: str = "auto",
         dim: int | None = None, axis: int | None = None, check_finite: bool = True) -> torch.Tensor:
    r"""The prox of :math:`\lambda R + \ell_1\|\cdot\|_1`, differentiable: THE entry for autograd.

    The same operator as :func:`wsprox.prox` (which refuses a tensor that
    requires grad while autograd records), as a :class:`torch.autograd.Function`
    whose backward pass is the exact vector-Jacobian product
    (:meth:`wsprox.ProxResult.vjp`), computed with torch operations on the
    tensor's device.

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
        ``.item()``), and NaN or infinity anywhere in ``tensor`` makes every
        entry of the prox NaN (the gradients are then meaningless).

    Returns
    -------
    torch.Tensor
        The prox, a new tensor of ``tensor``'s shape, dtype and device.

    Raises
    ------
    TypeError
        Not a dense tensor of those dtypes on the CPU or CUDA, ``lam`` or
        ``l1`` neither a real number nor a one-element real tensor, both
        ``dim`` and ``axis`` given.
    ValueError
        The errors of :func:`wsprox.prox` (NaN or infinity unless
        ``check_finite=False``, negative weights, an unknown method, a
        dimension out of range).

    Notes
    -----
    The gradients are exact (:mod:`wsprox.derivatives`): the gradient of
    ``tensor`` is the incoming gradient averaged over every cluster of the
    prox (0 on the cluster that ``l1 > 0`` thresholds to 0); ``lam`` and ``l1`` get the incoming
    gradient's products with :math:`\partial x/\partial\lambda` (each
    cluster's mean velocity) and :math:`\partial x/\partial\ell_1 =
    -\operatorname{sign}(x)`. At ties and kinks they are the element of the
    generalised Jacobian that the clusters found give. The forward pass
    costs one :func:`wsprox.prox_result` without its counts (half
    precision is proxed in float32 and rounded once); the backward pass :math:`O(d)` scatter-adds
    over the saved labels (int64) and signs (int8).

    Examples
    --------
    >>> import torch, wsprox.torch
    >>> w = torch.tensor([0.0, 1.0, 10.0], requires_grad=True)
    >>> lam = torch.tensor(2.0, requires_grad=True)
    >>> x = wsprox.torch.prox(w, lam)
    >>> x
    tensor([1.5000, 1.5000, 8.0000], grad_fn=<_ProxBackward>)
    >>> x[0].backward()                      # x_0 is the mean of w_0 and w_1, plus lam / 2
    >>> w.grad, lam.grad
    (tensor([0.5000, 0.5000, 0.0000]), tensor(0.5000))
    """
    _check_float_tensor(tensor)
    axis = _dim(dim, axis, tensor.ndim)
    lam_value, l1_value = _weight(lam, "lam"), _weight(l1, "l1")
    with _names_non_finite(tensor, "tensor"):
        return _Prox.apply(tensor, lam, l1, lam_value, l1_value, method, axis, check_finite)


def _weight(value, name):
    # lam or l1 as a float, checked; a tensor must be one real number.
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_complex() or value.dtype == torch.bool:
            raise TypeError(f"{name} must be a real scalar or a one-element real tensor, "
                            f"got a {value.dtype} tensor of shape {tuple(value.shape)}")
        value = value.detach().item()
    return check_penalty_weight(value, name)


class _Prox(torch.autograd.Function):
    """:func:`prox`; the backward pass is :meth:`wsprox.derivatives.Linearization.vjp`."""

    @staticmethod
    def forward(ctx, tensor, lam, l1, lam_value, l1_value, method, axis, check_finite):
        # Autograd records nothing here; NumPy cannot view negative or half tensors.
        work = tensor.detach().resolve_neg().to(_work_dtype(tensor.dtype))
        x, labels = prox_labels(work, lam_value, l1=l1_value, method=method, axis=axis, check_finite=check_finite)
        ctx.save_for_backward(labels, torch.sign(x).to(torch.int8))
        ctx.lam, ctx.l1, ctx.axis, ctx.dtype = lam_value, l1_value, axis, tensor.dtype
        ctx.weights = [(w.shape, w.dtype) if isinstance(w, torch.Tensor) else None for w in (lam, l1)]
        return x.to(tensor.dtype)

    @staticmethod
    def backward(ctx, grad):
        labels, sign = ctx.saved_tensors
        g = to_rows(grad.to(_work_dtype(ctx.dtype)), ctx.axis, xp=torch)
        lin = linearize(to_rows(labels, ctx.axis, xp=torch), to_rows(sign, ctx.axis, xp=torch).to(g.dtype),
                        ctx.lam, l1=ctx.l1, xp=torch)
        grad_w, grad_lam, grad_l1 = lin.vjp(g)
        grads = [from_rows(grad_w, labels.shape, ctx.axis, xp=torch).to(ctx.dtype) if ctx.needs_input_grad[0] else None]
        for weight, total, needed in zip(ctx.weights, (grad_lam, grad_l1), ctx.needs_input_grad[1:3]):
            grads.append(total.reshape(weight[0]).to(weight[1]) if needed else None)
        return (*grads, None, None, None, None, None)


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
    _check_prox_tensor(tensor)
    axis = _dim(dim, axis, tensor.ndim)
    with torch.no_grad(), _names_non_finite(tensor, "tensor"):
        target = tensor.detach()
        dtype = _work_dtype(target.dtype)
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


class WeightSharingProx(torch.optim.Optimizer):
    r"""Proximal weight-sharing steps for the parameters of a model.

    Call :meth:`step` right after ``optimizer.step()``: every parameter
    :math:`w` (each tensor one vector, or one vector per slice with ``axis``)
    becomes :math:`\operatorname{prox}_{\eta s R + \eta \ell_1 \|\cdot\|_1}(w)`,
    where :math:`\eta` is the current learning rate of the optimizer's
    parameter group that holds :math:`w`, so that together they make a
    proximal SGD step on ``loss + s * R(w) + l1 * ||w||_1``. With
    ``rho > 0`` each weight moves only a :math:`1 - \rho` fraction of its prox
    displacement (the authors' option, Shakerinava et al. 2024):

    .. math::

        w \leftarrow w + (1 - \rho)\,\bigl(\operatorname{prox}(w) - w\bigr),

    so the weights of a cluster of the exact prox move toward their shared
    value without reaching it (they become equal only with ``rho = 0``).

    A :class:`torch.optim.Optimizer` whose step is the prox: ``param_groups``,
    :meth:`add_param_group`, :meth:`state_dict`, :meth:`load_state_dict`,
    ``zero_grad`` and the hooks are those of every optimizer.

    Parameters
    ----------
    params : iterable of torch.Tensor or of dict
        The regularised tensors (float16, bfloat16, float32 or float64,
        dense, on the CPU or a CUDA device, no two entries sharing memory), or
        parameter groups as for an optimizer: dicts with the key ``"params"``
        (a tensor or an iterable of tensors) and optionally their own
        ``"strength"``, ``"l1"``, ``"axis"`` (or its alias ``"dim"``),
        ``"method"``, ``"rho"``, ``"check_finite"``.
    strength : float
        :math:`s`, the weight of the penalty :math:`R` (finite, ``>= 0``);
        the default for groups that do not set it.
    l1 : float, optional
        Weight of an L1 penalty (finite, ``>= 0``); a group default.
    dim : int or None, optional
        ``None`` (default) proxes each tensor as one vector, as in the paper;
        an integer proxes every 1-D slice along that dimension. A group
        default (kept in the groups as ``"axis"``).
    axis : int or None, optional
        An alias of ``dim``.
    method : str, optional
        The collision algorithm, as in :func:`wsprox.prox`: ``"auto"`` or a
        name of :data:`METHODS`. A group default.
    rho : float, optional
        In ``[0, 1)``: the fraction of the prox displacement not taken
        (formula above); ``0`` (default) is the plain prox. A group default.
    check_finite : bool, optional
        As in :func:`prox_`: ``True`` (default) raises a ValueError naming
        the parameter that holds NaN or infinity (on CUDA, one wait for the
        device per parameter); ``False`` makes a step on CUDA parameters
        wait for nothing (a NaN or infinity then makes its whole parameter
        NaN). A group default; sharded parameters (``process_group``) are
        always checked.
    scale_by_lr : bool, optional
        ``True`` (default): multiply ``strength`` and ``l1`` by the learning
        rate, read from ``optimizer`` at every step (so schedulers are
        followed). ``False``: use them as the prox weights directly.
    optimizer : torch.optim.Optimizer, optional
        The optimizer that updates these parameters; required when
        ``scale_by_lr`` and used only for the learning rates.
    process_group : torch.distributed.ProcessGroup, optional
        Every parameter is this rank's shard of one vector sharded over the
        ranks of this group (FSDP2's DTensor parameters: their local
        tensors, in rank order), and is proxed with
        :func:`wsprox.distributed.prox_`, exactly and without gathering the
        vector; every rank must then call :meth:`step`, and ``axis`` must be
        None. Default: each tensor is a whole vector of its own.

    Attributes
    ----------
    param_groups : list of dict
        One dict per group with keys ``"params"``, ``"strength"``, ``"l1"``,
        ``"axis"``, ``"method"``, ``"rho"``, ``"check_finite"``; change ``"strength"`` here to schedule it
        (every :meth:`step` checks the options again).
    state : dict
        ``state[p]["warm"]``: the warm start (:class:`wsprox.ProxState`) of
        CPU parameter ``p``, made by its first prox. It keeps ``p``'s order
        from one step to the next, so that the next prox repairs the order
        instead of sorting afresh (the same exact result, faster when the
        steps are small). CUDA parameters have none.
    scale_by_lr : bool
        As given: whether the weights are multiplied by the learning rates.
    optimizer : torch.optim.Optimizer or None
        As given: where the learning rates are read.

    Raises
    ------
    TypeError
        ``params`` a single tensor or a dict, a group that is not a dict, a
        parameter that is not a dense float16/bfloat16/float32/float64 CPU or
        CUDA tensor, a bad option type, or both ``dim`` and ``axis``.
    ValueError
        No parameters, a parameter listed twice in a group or in two groups,
        an expanded or self-overlapping parameter, an unknown group key, a
        negative or non-finite weight, an axis out of range for a parameter
        of its group, an unknown method, ``rho`` outside ``[0, 1)``, ``scale_by_lr`` without an
        optimizer, or a parameter the optimizer does not hold.

    Examples
    --------
    >>> import torch, wsprox.torch
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Linear(8, 1)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> wsp = wsprox.torch.WeightSharingProx([model.weight], strength=2.0, optimizer=opt)
    >>> x, y = torch.randn(64, 8), torch.randn(64, 1)
    >>> for _ in range(50):
    ...     opt.zero_grad()
    ...     torch.nn.functional.mse_loss(model(x), y).backward()
    ...     opt.step()
    ...     wsp.step()
    >>> wsprox.torch.sharing_stats(model.weight).n_distinct < 8   # weights now shared
    True
    >>> wsp.state[model.weight]["warm"].reused      # the last prox repaired the previous order
    True

    With ``rho``, a fraction of the way to the prox:

    >>> w = torch.tensor([0.0, 1.0, 10.0])
    >>> _ = wsprox.torch.WeightSharingProx([w], 2.0, rho=0.5, scale_by_lr=False).step()
    >>> w                                    # the prox is [1.5, 1.5, 8.0]: half of the way there
    tensor([0.7500, 1.2500, 9.0000])
    """

    def __init__(self, params: Iterable[torch.Tensor] | Iterable[dict[str, Any]], strength: float, *,
                 l1: float = 0.0, dim: int | None = None, axis: int | None = None, method: str = "auto",
                 rho: float = 0.0, check_finite: bool = True, scale_by_lr: bool = True,
                 optimizer: torch.optim.Optimizer | None = None, process_group: Any = None) -> None:
        if not isinstance(scale_by_lr, bool):
            raise TypeError(f"scale_by_lr must be a bool, got {type(scale_by_lr).__name__}")
        if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if scale_by_lr and optimizer is None:
            raise ValueError(
                "scale_by_lr=True multiplies the strength by the optimizer's learning rate: "
                "pass optimizer=, or scale_by_lr=False to use the strength as the prox weight"
            )
        if isinstance(params, dict):
            raise TypeError("params must be an iterable of tensors or of dicts, got a dict; wrap it in a list")
        if process_group is not None:
            import torch.distributed as dist

            if not isinstance(process_group, dist.ProcessGroup):
                raise TypeError(f"process_group must be a torch.distributed.ProcessGroup, "
                                f"got {type(process_group).__name__}")
        self.scale_by_lr = scale_by_lr
        self.optimizer = optimizer
        self.process_group = process_group
        defaults = _check_options({"strength": strength, "l1": l1, "axis": _dim(dim, axis), "method": method,
                                   "rho": rho, "check_finite": check_finite}, ())
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, validated as at construction.

        Parameters
        ----------
        param_group : dict
            The key ``"params"`` (a tensor or an iterable of tensors) and
            optionally ``"strength"``, ``"l1"``, ``"axis"`` (or its alias
            ``"dim"``), ``"method"``, ``"rho"``, ``"check_finite"``; the others
            are the constructor's.

        Raises
        ------
        TypeError, ValueError
            As the constructor; nothing changes then.

        Examples
        --------
        >>> import torch, wsprox.torch
        >>> w, b = torch.zeros(4), torch.zeros(2)
        >>> wsp = wsprox.torch.WeightSharingProx([w], 1.0, scale_by_lr=False)
        >>> wsp.add_param_group({"params": b, "l1": 0.1})
        >>> wsp.param_groups[1]["strength"], wsp.param_groups[1]["l1"]
        (1.0, 0.1)
        >>> wsp.add_param_group({"params": [torch.ones(3), b]})
        Traceback (most recent call last):
        ...
        ValueError: some parameters appear in more than one parameter group
        """
        g = len(self.param_groups)
        if not isinstance(param_group, dict):
            raise TypeError(f"group {g} must be a dict with key 'params', got {type(param_group).__name__} "
                            "(params must be all tensors or all dicts)")
        if "params" not in param_group:
            raise ValueError(f"group {g} has no 'params' key")
        if "dim" in param_group:
            if "axis" in param_group:
                raise TypeError(f"group {g} sets both 'dim' and its alias 'axis'")
            param_group = {("axis" if key == "dim" else key): value for key, value in param_group.items()}
        unknown = set(param_group) - {"params", *GROUP_OPTIONS}
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)} in group {g}; "
                             f"valid options are {', '.join(GROUP_OPTIONS)}")
        params = param_group["params"]
        if isinstance(params, set):
            raise TypeError(f"the params of group {g} are a set, whose order changes between runs; "
                            "use a list")
        params = [params] if isinstance(params, torch.Tensor) else list(params)
        first = {}
        for i, p in enumerate(params):
            _check_prox_tensor(p, f"parameter {i} of group {g}")
            j = first.setdefault(id(p), i)
            if j != i:
                raise ValueError(f"parameter {i} of group {g} is listed twice (as parameter {j} too)")
        options = _check_options({**self.defaults, **param_group}, params, g)
        if self.process_group is not None and options["axis"] is not None:
            raise ValueError(f"group {g}: with process_group every parameter is one sharded vector; "
                             f"axis must be None, got {options['axis']}")
        self._learning_rates(params, g)   # the optimizer must hold every parameter
        super().add_param_group({"params": params, **options})

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Apply the prox to every parameter, in place (after ``optimizer.step()``).

        The learning rates are read from the optimizer now, so a scheduler's
        changes are followed, and the groups' options are checked again
        (nothing changes if one is bad). Example in the class docstring.

        Parameters
        ----------
        closure : callable, optional
            As for any optimizer: called (with gradients enabled) before the
            prox, and its result returned.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        updates = []
        for g, group in enumerate(self.param_groups):
            options = _check_options(group, group["params"], g)
            for i, (p, lr) in enumerate(zip(group["params"], self._learning_rates(group["params"], g))):
                updates.append((p, options["strength"] * lr, options["l1"] * lr, options, (i, g)))
        names = self._names()
        for p, lam, l1, options, where in updates:
            if lam or l1:
                before = p.detach().clone() if options["rho"] else None
                if self.process_group is not None:
                    _prox_shard_(p, lam, l1, self.process_group)
                else:
                    warm = self.state[p].setdefault("warm", ProxState()) if p.device.type == "cpu" else None
                    name = names.get(id(p))
                    with _names_non_finite(p, f"parameter {where[0]} of group {where[1]}"
                                              + (f" ({name!r})" if name else "")):
                        prox_(p, lam, l1=l1, method=options["method"], axis=options["axis"], warm=warm,
                              check_finite=options["check_finite"])
                if before is not None:
                    with torch.no_grad():
                        p.lerp_(before, options["rho"])     # prox + rho (w - prox)
        return loss

    def _names(self):
        # The parameters' names where the optimizer knows them (built from named_parameters()).
        groups = self.optimizer.param_groups if self.optimizer is not None else ()
        return {id(p): name for group in groups
                for p, name in zip(group["params"], group.get("param_names", ()))}

    def _learning_rates(self, params, g):
        # The learning rate of each parameter of group g (1 when not scaled).
        if not self.scale_by_lr:
            return [1.0] * len(params)
        lr_of = {id(p): group["lr"] for group in self.optimizer.param_groups for p in group["params"]}
        rates = []
        for i, p in enumerate(params):
            if id(p) not in lr_of:
                raise ValueError(f"parameter {i} of group {g} is not in any param group of the optimizer")
            rates.append(check_penalty_weight(float(lr_of[id(p)]), "the optimizer's lr"))
        return rates

    def state_dict(self) -> dict[str, Any]:
        """The options of the groups, for checkpointing, as an optimizer's.

        ``"param_groups"`` holds every group's options and its parameters by
        position (indices numbered across groups); ``"state"`` is empty: the
        warm starts are caches that a cold start rebuilds (with the same
        proxes), and without them ``torch.load`` needs no
        ``weights_only=False``.

        Examples
        --------
        >>> import io, torch, wsprox.torch
        >>> w, b = torch.zeros(4), torch.zeros(2)
        >>> wsp = wsprox.torch.WeightSharingProx(
        ...     [{"params": [w]}, {"params": [b], "strength": 0.5}], 2.0, scale_by_lr=False)
        >>> state = wsp.state_dict()
        >>> state["param_groups"][1]  # doctest: +NORMALIZE_WHITESPACE
        {'strength': 0.5, 'l1': 0.0, 'axis': None, 'method': 'auto', 'rho': 0.0, 'check_finite': True,
         'params': [1]}
        >>> buffer = io.BytesIO()
        >>> torch.save(state, buffer)
        >>> _ = buffer.seek(0)
        >>> fresh = wsprox.torch.WeightSharingProx([{"params": [w]}, {"params": [b]}], 1.0,
        ...                                        scale_by_lr=False)
        >>> fresh.load_state_dict(torch.load(buffer))
        >>> fresh.param_groups[0]["strength"], fresh.param_groups[1]["strength"]
        (2.0, 0.5)
        """
        packed = super().state_dict()
        packed["state"] = {}
        return packed

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the options saved by :meth:`state_dict` (example there).

        The groups must match this object's in number and size, and their
        options are validated as in :meth:`add_param_group`, before anything
        changes (a group saved before ``"check_finite"`` existed keeps this
        object's). The warm starts start cold.

        Raises
        ------
        ValueError, TypeError
            A malformed state dict, groups that do not match, or a bad option.
        """
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError("state_dict must be a dict with keys 'state' and 'param_groups'")
        saved = state_dict["param_groups"]
        if not isinstance(saved, (list, tuple)) or len(saved) != len(self.param_groups):
            raise ValueError(
                f"state_dict has {len(saved) if isinstance(saved, (list, tuple)) else 'no list of'} "
                f"param groups, this object has {len(self.param_groups)}"
            )
        groups = []
        for g, (group, own) in enumerate(zip(saved, self.param_groups)):
            if isinstance(group, dict) and "check_finite" not in group:
                group = {**group, "check_finite": own["check_finite"]}
            if not isinstance(group, dict) or set(group) != {"params", *GROUP_OPTIONS}:
                raise ValueError(f"group {g} of the state_dict must be a dict with keys params, "
                                 f"{', '.join(GROUP_OPTIONS)}")
            indices, n = group["params"], len(own["params"])
            if not (isinstance(indices, (list, tuple)) and len(indices) == n
                    and all(isinstance(i, int) for i in indices)):
                raise ValueError(f"group {g} of the state_dict must list its {n} parameter(s) by index, "
                                 f"got {indices!r}")
            groups.append({"params": indices, **_check_options(group, own["params"], g)})
        super().load_state_dict({"state": {}, "param_groups": groups})

    def __getstate__(self):
        # The base class pickles (and copies) only defaults, state and param_groups.
        return {**super().__getstate__(), "scale_by_lr": self.scale_by_lr, "optimizer": self.optimizer,
                "process_group": self.process_group}

    def __setstate__(self, state):
        super().__setstate__(state)
        # The base class adds a "differentiable" default, an option of torch's own optimizers that
        # this one has not (it would land in every group added later).
        self.defaults.pop("differentiable", None)


def _prox_shard_(p, lam, l1, process_group):
    # This rank's shard of a vector sharded over the group (a DTensor's local tensor, as FSDP2
    # holds it, or the tensor itself), proxed in place by wsprox.distributed.
    from .distributed import prox_ as prox_sharded_

    local = p.to_local() if hasattr(p, "to_local") else p
    with torch.no_grad():
        flat = local.detach().reshape(-1)
        prox_sharded_(flat, lam, l1=l1, group=process_group)
        if flat.data_ptr() != local.data_ptr() or not local.is_contiguous():
            local.detach().copy_(flat.view_as(local))


def _check_options(options, params, group=None):
    # The options of a group (or the defaults, group=None) for these parameters, validated and
    # normalised; a new dict.
    of = "" if group is None else f" of group {group}"
    checked = {
        "strength": check_penalty_weight(options["strength"], f"strength{of}"),
        "l1": check_penalty_weight(options["l1"], f"l1{of}"),
        "axis": options["axis"],
        "method": options["method"],
        "rho": options["rho"],
        "check_finite": options["check_finite"],
    }
    rho = checked["rho"]
    if isinstance(rho, bool) or not isinstance(rho, (int, float)):
        raise TypeError(f"rho{of} must be a real number, got {type(rho).__name__}")
    if not 0 <= rho < 1:
        raise ValueError(f"rho{of} must be in [0, 1), got {rho!r}")
    checked["rho"] = float(rho)
    if not isinstance(checked["check_finite"], bool):
        raise TypeError(f"check_finite{of} must be a bool, got {type(checked['check_finite']).__name__}")
    if not isinstance(checked["method"], str) or checked["method"] not in METHODS:
        raise ValueError(f"unknown method {checked['method']!r}{of}; "
                         f"valid choices are {', '.join(map(repr, METHODS))}")
    for i, p in enumerate(params):
        try:
            normalize_axis(checked["axis"], p.ndim)
        except (TypeError, ValueError) as err:
            raise type(err)(f"parameter {i}{of}: {err}") from None
    return checked


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
    _check_tensor(tensor)
    if not tensor.is_floating_point():
        raise TypeError(f"tensor must be floating point to differentiate R, got {tensor.dtype}")
    axis = _dim(dim, axis, tensor.ndim)
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


def clusters(tensor: torch.Tensor) -> torch.Tensor:
    """The cluster (shared value) of every entry of a tensor.

    Parameters
    ----------
    tensor : torch.Tensor
        Real values (bool, integer or floating), any shape and device.

    Returns
    -------
    torch.Tensor of int64
        Of ``tensor``'s shape: entries of equal value share a label, and the
        labels ``0..K-1`` number the ``K`` distinct values in increasing order.

    Notes
    -----
    One sort, :math:`O(d \\log d)`. ``-0.0`` and ``0.0`` are equal.

    Examples
    --------
    >>> import torch, wsprox.torch
    >>> wsprox.torch.clusters(torch.tensor([[0.5, -1.0], [0.5, 2.0]]))
    tensor([[1, 0],
            [1, 2]])
    """
    _check_tensor(tensor)
    if tensor.is_complex():
        raise TypeError(f"tensor must hold real values, got {tensor.dtype}")
    return torch.unique(tensor.detach(), sorted=True, return_inverse=True)[1]


def tie_(tensor: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    r"""Set every cluster of ``tensor`` to its mean, in place.

    After training with the prox, ``tie_(w, clusters(w))`` after each
    optimizer step retrains with the sharing found frozen: the projection of
    the update onto the weights that share values as ``labels`` says.

    Parameters
    ----------
    tensor : torch.Tensor
        Floating point, no two entries sharing memory; its dtype and storage
        are kept.
    labels : torch.Tensor of integers
        Of ``tensor``'s shape and device, values ``>= 0`` (any size): entries
        with the same label form one cluster (as :func:`clusters` returns).

    Returns
    -------
    torch.Tensor
        ``tensor`` itself.

    Raises
    ------
    TypeError
        ``tensor`` not floating point, ``labels`` not an integer tensor.
    ValueError
        ``labels`` of another shape or device, or negative; an expanded or
        self-overlapping ``tensor``.

    Notes
    -----
    Each mean is taken in float64 as :math:`(m + h) + h` with :math:`m` the
    cluster's minimum and :math:`h = \sum (w/2 - m/2)/|G|`, half its distance
    to the mean: no step overflows whatever the magnitudes (the mean of
    ``[1e308, 1e308, -1e308]`` is ``3.3e307``), and a cluster of equal values
    keeps its value exactly, so ``tie_(w, clusters(w))`` leaves ``w``
    unchanged.
    The labels are renumbered by a sort (:func:`torch.unique`), then
    :math:`O(d)` scatter operations: :math:`O(d \log d)` time and
    :math:`O(d)` memory whatever the label values.

    Examples
    --------
    >>> import torch, wsprox.torch
    >>> w = torch.tensor([1.0, 2.0, 10.0, 4.0])
    >>> wsprox.torch.tie_(w, torch.tensor([0, 0, 1, 0]))
    tensor([ 2.3333,  2.3333, 10.0000,  2.3333])

    Retraining with the sharing frozen: the clusters of the trained weights,
    then ``tie_`` after every optimizer step.

    >>> _ = torch.manual_seed(0)
    >>> layer = torch.nn.Linear(6, 1)
    >>> with torch.no_grad():
    ...     _ = wsprox.torch.prox_(layer.weight, 0.5)          # stands for training with the prox
    >>> labels = wsprox.torch.clusters(layer.weight)
    >>> opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    >>> x, y = torch.randn(32, 6), torch.randn(32, 1)
    >>> for _ in range(20):
    ...     opt.zero_grad()
    ...     torch.nn.functional.mse_loss(layer(x), y).backward()
    ...     opt.step()
    ...     _ = wsprox.torch.tie_(layer.weight, labels)
    >>> bool((wsprox.torch.clusters(layer.weight) == labels).all())   # the same sharing
    True
    """
    _check_tensor(tensor)
    _check_tensor(labels, "labels")
    if not tensor.is_floating_point():
        raise TypeError(f"tensor must be floating point, got {tensor.dtype}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"labels must be an integer tensor, got {labels.dtype}")
    if labels.shape != tensor.shape:
        raise ValueError(f"labels has shape {tuple(labels.shape)}, tensor has {tuple(tensor.shape)}")
    if labels.device != tensor.device:
        raise ValueError(f"labels is on {labels.device}, tensor on {tensor.device}")
    _check_own_memory(tensor, "tensor")
    if tensor.numel() == 0:
        return tensor
    if int(labels.min()) < 0:
        raise ValueError("labels must be non-negative")
    with torch.no_grad():
        w = tensor.detach().reshape(-1).double()
        # The clusters numbered 0..k-1, whatever the label values.
        _, cluster, counts = torch.unique(labels.reshape(-1), return_inverse=True, return_counts=True)
        k = counts.numel()
        low = w.new_zeros(k).scatter_reduce_(0, cluster, w, reduce="amin", include_self=False)
        # Half the distances to the minimum, each divided by its cluster's size: no sum overflows.
        half = (w * 0.5 - low[cluster] * 0.5) / counts[cluster]
        half_gap = half.new_zeros(k).index_add_(0, cluster, half)
        means = (low + half_gap) + half_gap
        tensor.detach().copy_(means[cluster].reshape(tensor.shape))
    return tensor


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
        ``tensor`` itself.

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
    _check_tensor(tensor)
    if not tensor.is_floating_point():
        raise TypeError(f"tensor must be floating point, got {tensor.dtype}")
    _check_own_memory(tensor, "tensor")
    lam, beta, lr = (check_penalty_weight(v, name) for v, name in ((lam, "lam"), (beta, "beta"), (lr, "lr")))
    with torch.no_grad():
        w = tensor.detach()
        w.sub_(torch.sign(w), alpha=lr * lam)
        w.masked_fill_(w.abs() < beta * lam, 0.0)
    return tensor


@dataclass(frozen=True)
class SharingStats:
    r"""How much a tensor's weights are shared.

    Attributes
    ----------
    n_distinct : int
        :math:`K`, the number of distinct values.
    zero_fraction : float
        The fraction of entries equal to zero.
    compression_ratio : float
        Bits of the dense tensor over bits of its shared encoding, a codebook
        of :math:`K` values plus a :math:`\lceil\log_2 K\rceil`-bit index per
        entry: :math:`\dfrac{n b}{K b + n \lceil \log_2 K \rceil}` for
        :math:`n` entries of :math:`b` bits (32 for float32). Above 1 when
        sharing saves memory, below 1 when every value differs.

    Examples
    --------
    >>> import torch
    >>> from wsprox.torch import sharing_stats
    >>> sharing_stats(torch.tensor([0.0, 0.0, 1.5, 1.5]))
    SharingStats(n_distinct=2, zero_fraction=0.5, compression_ratio=1.8823529411764706)
    """

    n_distinct: int
    zero_fraction: float
    compression_ratio: float


def sharing_stats(tensor: torch.Tensor) -> SharingStats:
    r"""The weight sharing of a tensor: distinct values, zeros, compression.

    Parameters
    ----------
    tensor : torch.Tensor
        Non-empty, real values, any shape and device.

    Returns
    -------
    SharingStats
        ``n_distinct``, ``zero_fraction`` and ``compression_ratio`` (defined
        in :class:`SharingStats`).

    Raises
    ------
    TypeError
        Not a dense real tensor.
    ValueError
        An empty tensor.

    Examples
    --------
    >>> import torch, wsprox.torch
    >>> w = torch.tensor([0.0, 0.0, 1.5, 0.0]).repeat(4)   # 16 float32 entries
    >>> wsprox.torch.sharing_stats(w)    # 16*32 bits vs 2*32 bits + 16 one-bit indices
    SharingStats(n_distinct=2, zero_fraction=0.75, compression_ratio=6.4)
    """
    _check_tensor(tensor)
    if tensor.is_complex():
        raise TypeError(f"tensor must hold real values, got {tensor.dtype}")
    n = tensor.numel()
    if n == 0:
        raise ValueError("tensor is empty: no sharing to measure")
    k = int(torch.unique(tensor.detach()).numel())
    bits = tensor.element_size() * 8
    index_bits = math.ceil(math.log2(k))
    return SharingStats(
        n_distinct=k,
        zero_fraction=int(torch.count_nonzero(tensor.detach() == 0)) / n,
        compression_ratio=n * bits / (k * bits + n * index_bits),
    )

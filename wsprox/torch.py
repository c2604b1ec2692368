r"""PyTorch integration: proximal weight-sharing steps in a training loop.

Proximal SGD for :math:`L(w) + \sum_p s_p R(w_p)` alternates an optimizer step
on the loss with the prox of every regularised parameter tensor :math:`w_p`
(each tensor one vector):

.. math::

    w_p \leftarrow \operatorname{prox}_{\eta s_p R}\bigl(w_p - \eta \nabla_p L\bigr),

where :math:`\eta` is the learning rate. :class:`WeightSharingProx` does the
second half in one call after ``optimizer.step()``; :func:`prox_` is the
in-place prox of one tensor, :func:`penalty` the differentiable :math:`R` (for
the subgradient baseline ``loss + s * penalty(w)``), and :func:`clusters`,
:func:`tie_` and :func:`sharing_stats` read and freeze the sharing found.

PyTorch is an optional dependency: ``import wsprox`` never imports it,
``import wsprox.torch`` does (``pip install "wsprox[torch]"``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._prox import prox as _prox
from ._validation import check_penalty_weight, normalize_axis
from .penalty import sorted_weights

__all__ = ["SharingStats", "WeightSharingProx", "clusters", "penalty", "prox_", "sharing_stats", "tie_"]

#: Options a parameter group of :class:`WeightSharingProx` may set for itself.
GROUP_OPTIONS = ("strength", "l1", "axis")


def _check_tensor(tensor, name="tensor"):
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.layout != torch.strided:
        raise TypeError(f"{name} must be a dense (strided) tensor, got layout {tensor.layout}")


def _check_prox_tensor(tensor, name="tensor"):
    _check_tensor(tensor, name)
    if tensor.dtype not in (torch.float32, torch.float64):
        raise TypeError(
            f"{name} must be float32 or float64 for an in-place prox, got {tensor.dtype}; "
            "convert it first (e.g. tensor.float())"
        )
    if tensor.device.type not in ("cpu", "cuda"):
        raise TypeError(f"{name} is on device {tensor.device}; wsprox supports CPU and CUDA tensors")


def prox_(tensor, lam, *, l1=0.0, method="auto", axis=None):
    r"""Replace ``tensor`` by its prox of :math:`\lambda R + \ell_1\|\cdot\|_1`, in place.

    The same operator as :func:`wsprox.prox`, written into the tensor's own
    storage and outside autograd (like an optimizer's update).

    Parameters
    ----------
    tensor : torch.Tensor
        float32 or float64, on the CPU or a CUDA device; a parameter that
        requires grad is fine. Its dtype is kept.
    lam : float
        Weight of the weight-sharing penalty, finite and ``>= 0``.
    l1 : float, optional
        Weight of the L1 penalty, finite and ``>= 0``.
    method : str, optional
        The collision algorithm, as in :func:`wsprox.prox`.
    axis : int or None, optional
        ``None`` (default): the whole tensor is one vector; an integer: every
        1-D slice along that axis separately.

    Returns
    -------
    torch.Tensor
        ``tensor`` itself.

    Raises
    ------
    TypeError
        Not a dense tensor, a dtype other than float32/float64 (an in-place
        prox cannot change the dtype), or a device other than CPU/CUDA.
    ValueError
        NaN or infinity in the tensor, bad ``lam``, ``l1``, ``method`` or
        ``axis`` (the errors of :func:`wsprox.prox`).

    Notes
    -----
    A contiguous CPU tensor is handed to the CPU kernels as a zero-copy NumPy
    view, both input and output; a non-contiguous one is proxed in a
    contiguous copy and copied back. CUDA tensors go to ``backend="cuda"``
    through ``__cuda_array_interface__``, without a trip through host memory.
    The autograd version counter is bumped, so a graph that saved the old
    values refuses to backpropagate through them. Cost: that of
    :func:`wsprox.prox`, :math:`O(d \log d)` per vector.

    Examples
    --------
    >>> import torch, wsprox.torch
    >>> w = torch.tensor([0.0, 1.0, 10.0])
    >>> wsprox.torch.prox_(w, 2.0)
    tensor([1.5000, 1.5000, 8.0000])
    >>> w                                    # changed in place, still float32
    tensor([1.5000, 1.5000, 8.0000])
    """
    _check_prox_tensor(tensor)
    with torch.no_grad():
        target = tensor.detach()
        work = target if target.is_contiguous() else target.contiguous()
        if work.is_cuda:
            _prox(work, lam, l1=l1, method=method, backend="cuda", axis=axis, out=work)
        else:
            view = work.numpy()
            _prox(view, lam, l1=l1, method=method, axis=axis, out=view)
        if work is target:
            # PyTorch did not see the write: tell autograd the values changed.
            torch.autograd.graph.increment_version(target)
        else:
            target.copy_(work)
    return tensor


class WeightSharingProx:
    r"""Proximal weight-sharing steps for the parameters of a model.

    Call :meth:`step` right after ``optimizer.step()``: every parameter
    :math:`w` (each tensor one vector, or one vector per slice with ``axis``)
    becomes :math:`\operatorname{prox}_{\eta s R + \eta \ell_1 \|\cdot\|_1}(w)`,
    where :math:`\eta` is the current learning rate of the optimizer's
    parameter group that holds :math:`w`, so that together they make a
    proximal SGD step on ``loss + s * R(w) + l1 * ||w||_1``.

    Parameters
    ----------
    params : iterable of torch.Tensor or of dict
        The regularised tensors (float32 or float64), or parameter groups as
        for an optimizer: dicts with the key ``"params"`` (an iterable of
        tensors) and optionally their own ``"strength"``, ``"l1"``, ``"axis"``.
    strength : float
        :math:`s`, the weight of the penalty :math:`R` (finite, ``>= 0``);
        the default for groups that do not set it.
    l1 : float, optional
        Weight of an L1 penalty (finite, ``>= 0``); a group default.
    scale_by_lr : bool, optional
        ``True`` (default): multiply ``strength`` and ``l1`` by the learning
        rate, read from ``optimizer`` at every step (so schedulers are
        followed). ``False``: use them as the prox weights directly.
    optimizer : torch.optim.Optimizer, optional
        The optimizer that updates these parameters; required when
        ``scale_by_lr`` and used only for the learning rates.
    axis : int or None, optional
        ``None`` (default) proxes each tensor as one vector, as in the paper;
        an integer proxes every 1-D slice along that axis. A group default.
    method : str, optional
        The collision algorithm, as in :func:`wsprox.prox`.

    Attributes
    ----------
    param_groups : list of dict
        One dict per group with keys ``"params"``, ``"strength"``, ``"l1"``,
        ``"axis"``; change ``"strength"`` here to schedule it.

    Raises
    ------
    TypeError
        ``params`` a single tensor, mixing tensors and dicts, a parameter
        that is not a float32/float64 tensor, or a bad option type.
    ValueError
        No parameters, a parameter in two groups, an unknown group key, a
        negative or non-finite weight, an axis out of range, ``scale_by_lr``
        without an optimizer, or a parameter the optimizer does not hold.

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
    """

    def __init__(self, params, strength, *, l1=0.0, scale_by_lr=True, optimizer=None, axis=None,
                 method="auto"):
        if not isinstance(scale_by_lr, bool):
            raise TypeError(f"scale_by_lr must be a bool, got {type(scale_by_lr).__name__}")
        if scale_by_lr and optimizer is None:
            raise ValueError(
                "scale_by_lr=True multiplies the strength by the optimizer's learning rate: "
                "pass optimizer=, or scale_by_lr=False to use the strength as the prox weight"
            )
        if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        self.scale_by_lr = scale_by_lr
        self.optimizer = optimizer
        self.method = _check_method(method)
        defaults = {"strength": strength, "l1": l1, "axis": axis}
        self.param_groups = []
        for group in _as_groups(params):
            unknown = set(group) - {"params", *GROUP_OPTIONS}
            if unknown:
                raise ValueError(
                    f"unknown parameter group option(s) {sorted(unknown)}; "
                    f"valid options are {', '.join(GROUP_OPTIONS)}"
                )
            group = {**defaults, **group, "params": _as_params(group["params"])}
            _check_options(group, group["params"])
            self.param_groups.append(group)
        seen = set()
        for g, group in enumerate(self.param_groups):
            for p in group["params"]:
                if id(p) in seen:
                    raise ValueError(f"a parameter of group {g} appears in more than one group")
                seen.add(id(p))
        self._learning_rates()  # every parameter must be in the optimizer

    def step(self):
        """Apply the prox to every parameter, in place (after ``optimizer.step()``).

        The learning rates are read from the optimizer now, so a scheduler's
        changes are followed. Example in the class docstring.
        """
        lrs = self._learning_rates()
        for group, lr in zip(self.param_groups, lrs):
            strength = check_penalty_weight(group["strength"], "strength")
            l1 = check_penalty_weight(group["l1"], "l1")
            for p, eta in zip(group["params"], lr):
                if strength * eta or l1 * eta:
                    prox_(p, strength * eta, l1=l1 * eta, method=self.method, axis=group["axis"])

    def _learning_rates(self):
        # Per group, the learning rate of each parameter (1 when not scaled).
        if not self.scale_by_lr:
            return [[1.0] * len(group["params"]) for group in self.param_groups]
        lr_of = {id(p): opt_group["lr"] for opt_group in self.optimizer.param_groups
                 for p in opt_group["params"]}
        rates = []
        for g, group in enumerate(self.param_groups):
            rates.append([])
            for i, p in enumerate(group["params"]):
                if id(p) not in lr_of:
                    raise ValueError(f"parameter {i} of group {g} is not in any param group of the optimizer")
                rates[-1].append(check_penalty_weight(float(lr_of[id(p)]), "the optimizer's lr"))
        return rates

    def state_dict(self):
        """The options, for checkpointing: a dict of plain Python values.

        Parameters are recorded by position (``"params"`` holds indices
        numbered across groups), as in an optimizer's state dict.

        Examples
        --------
        >>> import torch, wsprox.torch
        >>> w, b = torch.zeros(4), torch.zeros(2)
        >>> wsp = wsprox.torch.WeightSharingProx(
        ...     [{"params": [w]}, {"params": [b], "strength": 0.5}], 2.0, scale_by_lr=False)
        >>> state = wsp.state_dict()
        >>> state["param_groups"][1]
        {'strength': 0.5, 'l1': 0.0, 'axis': None, 'params': [1]}
        >>> fresh = wsprox.torch.WeightSharingProx([{"params": [w]}, {"params": [b]}], 1.0,
        ...                                        scale_by_lr=False)
        >>> fresh.load_state_dict(state)
        >>> fresh.param_groups[0]["strength"], fresh.param_groups[1]["strength"]
        (2.0, 0.5)
        """
        groups, start = [], 0
        for group in self.param_groups:
            n = len(group["params"])
            groups.append({**{k: group[k] for k in GROUP_OPTIONS}, "params": list(range(start, start + n))})
            start += n
        return {"scale_by_lr": self.scale_by_lr, "method": self.method, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore the options saved by :meth:`state_dict` (example there).

        The groups must match this object's in number and size; every option
        is validated before anything changes.

        Raises
        ------
        ValueError, TypeError
            A malformed state dict, groups that do not match, or a bad option.
        """
        if not isinstance(state_dict, dict) or set(state_dict) != {"scale_by_lr", "method", "param_groups"}:
            raise ValueError("state_dict must be a dict with keys 'scale_by_lr', 'method', 'param_groups'")
        saved = state_dict["param_groups"]
        if not isinstance(saved, (list, tuple)) or len(saved) != len(self.param_groups):
            raise ValueError(
                f"state_dict has {len(saved) if isinstance(saved, (list, tuple)) else 'no list of'} "
                f"param groups, this object has {len(self.param_groups)}"
            )
        scale_by_lr = state_dict["scale_by_lr"]
        if not isinstance(scale_by_lr, bool):
            raise TypeError(f"scale_by_lr must be a bool, got {type(scale_by_lr).__name__}")
        if scale_by_lr and self.optimizer is None:
            raise ValueError("state_dict has scale_by_lr=True but this object has no optimizer")
        method = _check_method(state_dict["method"])
        options = []
        for g, (group, old) in enumerate(zip(saved, self.param_groups)):
            if not isinstance(group, dict) or set(group) != {"params", *GROUP_OPTIONS}:
                raise ValueError(f"param group {g} of the state_dict must have keys params, "
                                 f"{', '.join(GROUP_OPTIONS)}")
            if len(group["params"]) != len(old["params"]):
                raise ValueError(f"param group {g} of the state_dict has {len(group['params'])} "
                                 f"parameters, this object's has {len(old['params'])}")
            new = {k: group[k] for k in GROUP_OPTIONS}
            _check_options(new, old["params"])
            options.append(new)
        self.scale_by_lr, self.method = scale_by_lr, method
        for group, new in zip(self.param_groups, options):
            group.update(new)

    def __repr__(self):
        groups = ", ".join(
            f"[{len(g['params'])} params, strength={g['strength']}, l1={g['l1']}, axis={g['axis']}]"
            for g in self.param_groups
        )
        return f"WeightSharingProx({groups}, scale_by_lr={self.scale_by_lr}, method={self.method!r})"


def _check_method(method):
    # The name itself is checked by wsprox.prox, which knows every backend's methods.
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, got {type(method).__name__}")
    return method


def _as_groups(params):
    if isinstance(params, torch.Tensor):
        raise TypeError("params must be an iterable of tensors or of dicts, got a single tensor; "
                        "wrap it in a list")
    if isinstance(params, dict):
        raise TypeError("params must be an iterable of tensors or of dicts, got a dict; wrap it in a list")
    items = list(params)
    if not items:
        raise ValueError("params is empty: give at least one tensor to regularise")
    if all(isinstance(item, dict) for item in items):
        for g, item in enumerate(items):
            if "params" not in item:
                raise ValueError(f"parameter group {g} has no 'params' key")
        return items
    if any(isinstance(item, dict) for item in items):
        raise TypeError("params must be all tensors or all dicts (parameter groups), not a mix")
    return [{"params": items}]


def _as_params(params):
    params = [params] if isinstance(params, torch.Tensor) else list(params)
    for i, p in enumerate(params):
        _check_prox_tensor(p, f"parameter {i}")
    return params


def _check_options(group, params):
    # Validates the options of a group in place (normalised values).
    group["strength"] = check_penalty_weight(group["strength"], "strength")
    group["l1"] = check_penalty_weight(group["l1"], "l1")
    for p in params:
        normalize_axis(group["axis"], p.ndim)


def penalty(tensor, *, axis=None):
    r"""The weight-sharing penalty :math:`R` of a tensor, differentiable.

    .. math::

        R(w) = \frac{1}{d-1}\sum_{i>j}|w_i - w_j| = \sum_{k=1}^d c_k\, x_k,
        \qquad x = \operatorname{sort}(w),\quad c_k = \frac{2k-d-1}{d-1}.

    Parameters
    ----------
    tensor : torch.Tensor
        Floating point, any device; not checked for NaN.
    axis : int or None, optional
        ``None`` (default): the whole tensor is one vector (a 0-d result); an
        integer: the penalty of every 1-D slice along that axis.

    Returns
    -------
    torch.Tensor
        The penalty in the tensor's dtype, with a gradient: at distinct
        entries :math:`\partial R/\partial w_i = c_{\operatorname{rank}(i)}`,
        which is :func:`wsprox.subgradient`; at ties the gradient is the
        element of the subdifferential that :func:`torch.sort`'s order picks.

    Raises
    ------
    TypeError
        Not a dense floating-point tensor.
    ValueError
        ``axis`` out of range.

    Notes
    -----
    One sort and one dot product, :math:`O(d \log d)`; the backward pass is a
    scatter, :math:`O(d)`. Zero for :math:`d \le 1`.

    Examples
    --------
    >>> import torch, wsprox.torch
    >>> w = torch.tensor([3.0, 0.0, 1.0], requires_grad=True)
    >>> r = wsprox.torch.penalty(w)      # (3 + 2 + 1) / 2
    >>> r.backward()
    >>> r, w.grad
    (tensor(3., grad_fn=<DotBackward0>), tensor([ 1., -1.,  0.]))
    """
    _check_tensor(tensor)
    if not tensor.is_floating_point():
        raise TypeError(f"tensor must be floating point to differentiate R, got {tensor.dtype}")
    axis = normalize_axis(axis, tensor.ndim)
    rows = tensor.reshape(-1) if axis is None else tensor.movedim(axis, -1)
    c = torch.as_tensor(sorted_weights(rows.shape[-1]), dtype=tensor.dtype, device=tensor.device)
    return torch.sort(rows, dim=-1).values @ c


def clusters(tensor):
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


def tie_(tensor, labels):
    r"""Set every cluster of ``tensor`` to its mean, in place.

    After training with the prox, ``tie_(w, clusters(w))`` after each
    optimizer step retrains with the sharing found frozen: the projection of
    the update onto the weights that share values as ``labels`` says.

    Parameters
    ----------
    tensor : torch.Tensor
        Floating point; its dtype and storage are kept.
    labels : torch.Tensor of integers
        Of ``tensor``'s shape and device, values ``>= 0``: entries with the
        same label form one cluster (as :func:`clusters` returns).

    Returns
    -------
    torch.Tensor
        ``tensor`` itself.

    Raises
    ------
    TypeError
        ``tensor`` not floating point, ``labels`` not an integer tensor.
    ValueError
        ``labels`` of another shape or device, or negative.

    Notes
    -----
    Each mean is taken in float64 as :math:`m + \operatorname{mean}(w - m)`
    with :math:`m` the cluster's minimum, so a cluster of equal values keeps
    its value exactly and ``tie_(w, clusters(w))`` leaves ``w`` unchanged.
    :math:`O(d)` scatter operations.

    Examples
    --------
    >>> import torch, wsprox.torch
    >>> w = torch.tensor([1.0, 2.0, 10.0, 4.0])
    >>> wsprox.torch.tie_(w, torch.tensor([0, 0, 1, 0]))
    tensor([ 2.3333,  2.3333, 10.0000,  2.3333])
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
    if tensor.numel() == 0:
        return tensor
    flat = labels.reshape(-1).long()
    if int(flat.min()) < 0:
        raise ValueError("labels must be non-negative")
    with torch.no_grad():
        w = tensor.detach().reshape(-1).double()
        k = int(flat.max()) + 1
        low = w.new_zeros(k).scatter_reduce_(0, flat, w, reduce="amin", include_self=False)
        shift = w - low[flat]
        means = low + shift.new_zeros(k).index_add_(0, flat, shift) / torch.bincount(flat, minlength=k)
        tensor.detach().copy_(means[flat].reshape(tensor.shape))
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
    """

    n_distinct: int
    zero_fraction: float
    compression_ratio: float


def sharing_stats(tensor):
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

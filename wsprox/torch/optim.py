"""Proximal weight-sharing steps for the parameters of a model: :class:`WeightSharingProx`."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from .._validation import check_penalty_weight, normalize_axis
from ..warm import ProxState
from ._checks import check_bool, check_method, check_prox_tensor, names_non_finite, resolve_dim
from .functional import prox_

__all__ = ["GROUP_OPTIONS", "WeightSharingProx"]

#: Options a parameter group of :class:`WeightSharingProx` may set for itself.
GROUP_OPTIONS = ("strength", "l1", "axis", "method", "rho", "check_finite")


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
        name of :data:`~wsprox.torch.METHODS`. A group default.
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
            raise TypeError("params must be an iterable of tensors or of dicts, got a dict; "
                            "wrap it in a list")
        if process_group is not None:
            import torch.distributed as dist

            if not isinstance(process_group, dist.ProcessGroup):
                raise TypeError(f"process_group must be a torch.distributed.ProcessGroup, "
                                f"got {type(process_group).__name__}")
        self.scale_by_lr = scale_by_lr
        self.optimizer = optimizer
        self.process_group = process_group
        defaults = _check_options({"strength": strength, "l1": l1, "axis": resolve_dim(dim, axis),
                                   "method": method, "rho": rho, "check_finite": check_finite}, ())
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
            check_prox_tensor(p, f"parameter {i} of group {g}")
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
                    with names_non_finite(p, f"parameter {where[0]} of group {where[1]}"
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
    from ..distributed import prox_ as prox_sharded_

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
    check_bool(checked["check_finite"], f"check_finite{of}")
    check_method(checked["method"], of)
    for i, p in enumerate(params):
        try:
            normalize_axis(checked["axis"], p.ndim)
        except (TypeError, ValueError) as err:
            raise type(err)(f"parameter {i}{of}: {err}") from None
    return checked


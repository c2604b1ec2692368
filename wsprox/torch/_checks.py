"""The checks every entry of :mod:`wsprox.torch` shares: tensors, dtypes, ``dim``, weights, methods.

The checks that the differentiable :func:`~wsprox.torch.prox` makes before
its operator runs read only types, shapes, dtypes and Python constants, so
that ``torch.compile`` traces them without a graph break; the checks that
need values (a ``lam`` tensor, NaN in the input) run in the operator
(:mod:`wsprox.torch.ops`).
"""
from __future__ import annotations

from contextlib import contextmanager

from .._backend import METHODS as _SOLVERS
from .._extras import require
from .._validation import check_penalty_weight, normalize_axis
from ..core.validation import non_finite_message

torch = require("torch", extra="torch", feature="wsprox.torch")

#: The values ``method=`` accepts: ``"auto"`` and the collision algorithms
#: (the same names on every backend).
METHODS = ("auto", *_SOLVERS)

#: The dtypes of the tensors that :func:`~wsprox.torch.prox`, :func:`~wsprox.torch.prox_` and
#: :class:`~wsprox.torch.WeightSharingProx` take; the half-precision ones are computed in float32.
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def work_dtype(dtype):
    """The dtype the prox of a tensor of ``dtype`` is computed in: float32 for half precision.

    Examples
    --------
    >>> work_dtype(torch.bfloat16), work_dtype(torch.float64)
    (torch.float32, torch.float64)
    """
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def resolve_dim(dim, axis, ndim=None):
    """``dim=``, or its alias ``axis=``, not both; normalised when ``ndim`` is given (the
    errors name the argument as the caller wrote it).

    Examples
    --------
    >>> resolve_dim(None, -1, 3), resolve_dim(None, None, 3)
    (2, None)
    >>> resolve_dim(5, None, 2)
    Traceback (most recent call last):
    ...
    ValueError: dim 5 is out of bounds for an array of dimension 2
    """
    if dim is not None and axis is not None:
        raise TypeError(f"pass dim= or its alias axis=, not both (got dim={dim!r}, axis={axis!r})")
    value, name = (axis, "axis") if dim is None else (dim, "dim")
    return value if ndim is None else normalize_axis(value, ndim, name)


def check_method(method, of=""):
    """``method`` if it is ``"auto"`` or a collision algorithm (:data:`METHODS`), else a ValueError.

    Examples
    --------
    >>> check_method("bogus", " of group 0")
    Traceback (most recent call last):
    ...
    ValueError: unknown method 'bogus' of group 0; valid choices are 'auto', 'pava', 'end_collisions',
    'imminent_collisions', 'search_collisions'
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"unknown method {method!r}{of}; valid choices are {', '.join(map(repr, METHODS))}")
    return method


def check_bool(value, name):
    """``value`` if it is a bool, else a TypeError naming it."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def weight_tensor(value, name):
    """``lam`` or ``l1`` as the 0-d tensor the operator takes; its value is checked there.

    A one-element real tensor is reshaped (autograd carries its gradient back
    to its own shape); a real number becomes a float64 CPU tensor, read on
    the host without waiting for a device. Of a tensor or a float only the
    type and shape are read here, so that ``torch.compile`` traces this
    without a graph break, a float as a symbol included.

    Examples
    --------
    >>> weight_tensor(2, "lam"), weight_tensor(torch.tensor([0.5]), "l1")
    (tensor(2., dtype=torch.float64), tensor(0.5000))
    >>> weight_tensor(torch.ones(2), "lam")
    Traceback (most recent call last):
    ...
    TypeError: lam must be a real scalar or a one-element real tensor,
    got a torch.float32 tensor of shape (2,)
    """
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_complex() or value.dtype == torch.bool:
            raise TypeError(f"{name} must be a real scalar or a one-element real tensor, "
                            f"got a {value.dtype} tensor of shape {tuple(value.shape)}")
        return value.reshape(())
    if not isinstance(value, float):
        value = check_penalty_weight(value, name)   # other numbers (ints, NumPy), or the TypeError
    return torch.tensor(value, dtype=torch.float64)


def weight_value(value, name):
    """The float in a one-element tensor of :func:`weight_tensor`, checked as :func:`wsprox.prox` does.

    Examples
    --------
    >>> weight_value(torch.tensor(-1.0), "lam")
    Traceback (most recent call last):
    ...
    ValueError: lam must be non-negative, got -1.0
    """
    return check_penalty_weight(value.item(), name)


@contextmanager
def names_non_finite(tensor, name):
    """Report a NaN or infinity that the prox finds at its index in ``tensor``, under the caller's ``name``.

    Examples
    --------
    >>> from wsprox import prox
    >>> t = torch.tensor([[0.0, 1.0], [2.0, float("nan")]])
    >>> with names_non_finite(t, "weight"):
    ...     prox(t.numpy().reshape(-1), 1.0)
    Traceback (most recent call last):
    ...
    ValueError: weight contains NaN at index (1, 1); all entries must be finite
    """
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


def check_tensor(tensor, name="tensor"):
    """A TypeError unless ``tensor`` is a dense (strided) :class:`torch.Tensor`."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.layout != torch.strided:
        raise TypeError(f"{name} must be a dense (strided) tensor, got layout {tensor.layout}")


def check_float_tensor(tensor, name="tensor"):
    """:func:`check_tensor`, of a dtype of :data:`FLOAT_DTYPES`, on the CPU or a CUDA device.

    Examples
    --------
    >>> check_float_tensor(torch.arange(3))
    Traceback (most recent call last):
    ...
    TypeError: tensor must be float16, bfloat16, float32 or float64, got torch.int64;
    convert it first (e.g. tensor.float())
    """
    check_tensor(tensor, name)
    if tensor.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be float16, bfloat16, float32 or float64, got {tensor.dtype}; "
            "convert it first (e.g. tensor.float())"
        )
    if tensor.device.type not in ("cpu", "cuda"):
        raise TypeError(f"{name} is on device {tensor.device}; wsprox supports CPU and CUDA tensors")


def check_prox_tensor(tensor, name="tensor"):
    """:func:`check_float_tensor` for a tensor proxed in place: :func:`check_own_memory` too."""
    check_float_tensor(tensor, name)
    check_own_memory(tensor, name)


def check_own_memory(tensor, name):
    r"""A ValueError unless every entry of ``tensor`` has its own memory (an in-place update
    gives every entry its own value).

    Notes
    -----
    Each stride beyond the reach of the smaller ones proves the entries
    distinct (contiguous tensors and their views): :math:`O(\text{ndim})`;
    otherwise the distinct offsets are counted, :math:`O(d \log d)`.

    Examples
    --------
    >>> check_own_memory(torch.zeros(3).expand(2, 3), "w")
    Traceback (most recent call last):
    ...
    ValueError: w is expanded: its 2 entries along dimension 0 share memory (stride 0),
    so they cannot take different values in place; pass a copy (.clone())
    """
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

r"""The weight sharing of a tensor: its clusters, tying them, and how much is shared.

:func:`clusters` labels the distinct values of a tensor, :func:`tie_` sets
every cluster to its mean (to retrain with the sharing that the prox found
frozen), and :func:`sharing_stats` counts the distinct values and zeros and
the memory a shared encoding saves (:class:`SharingStats`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._checks import check_own_memory, check_tensor

__all__ = ["SharingStats", "clusters", "sharing_stats", "tie_"]


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
    check_tensor(tensor)
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
        ``tensor`` itself, every cluster at its mean.

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
    check_tensor(tensor)
    check_tensor(labels, "labels")
    if not tensor.is_floating_point():
        raise TypeError(f"tensor must be floating point, got {tensor.dtype}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"labels must be an integer tensor, got {labels.dtype}")
    if labels.shape != tensor.shape:
        raise ValueError(f"labels has shape {tuple(labels.shape)}, tensor has {tuple(tensor.shape)}")
    if labels.device != tensor.device:
        raise ValueError(f"labels is on {labels.device}, tensor on {tensor.device}")
    check_own_memory(tensor, "tensor")
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
    check_tensor(tensor)
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

r"""The authors' imminent collisions, in plain PyTorch operations: a baseline.

Shakerinava et al. (2024) compute the prox on a GPU with imminent
collisions written as tensor operations, one row at a time:

.. code-block:: text

    x = sort(w); v_k = lam (d + 1 - 2k) / (d - 1); m = 1     # positions, velocities, masses
    repeat:
        z = x + v                                           # the groups' positions at time 1
        new group where z_left < z_right                    # the others have collided
        ids = cumsum(new group flags)
        x, v, m = scatter-add of x m, v m and m by ids; x /= m, v /= m
    until no group merged
    prox = z of each particle's group, un-sorted (soft-thresholded by l1)

Every round is a handful of whole-tensor operations and one read of the
group count on the host; a group can absorb a single neighbour per round, so
the rounds number up to ``d`` (:func:`wsprox.worstcase.growing_cluster`).
It runs wherever PyTorch does (CPU or CUDA tensors), in the tensor's dtype.
``python -m wsprox.bench`` times it as the method ``authors``: on the
device beside ``wsprox.prox`` on CUDA, and on the CPU as a reference.
"""
__all__ = ["authors_prox", "collide"]


def collide(x, lam):
    """Imminent collisions of the sorted 1-D tensor ``x``: every particle's position at time 1, and the rounds.

    Parameters
    ----------
    x : torch.Tensor
        A 1-D floating tensor sorted ascending (CPU or CUDA).
    lam : float
        The weight of the penalty, ``>= 0``.

    Returns
    -------
    z : torch.Tensor
        The isotonic regression of ``x + v``: the value of every particle's
        group, in ``x``'s order, dtype and device.
    rounds : int
        The rounds run, the last one merging nothing (as
        ``wsprox.prox_result(..., method="imminent_collisions").rounds``).

    Examples
    --------
    >>> import torch
    >>> z, rounds = collide(torch.tensor([0.0, 1.0, 10.0], dtype=torch.float64), 2.0)
    >>> z.tolist(), rounds
    ([1.5, 1.5, 8.0], 2)
    """
    import torch

    d = x.numel()
    v = torch.arange(d - 1, -d, -2, dtype=x.dtype, device=x.device) * (lam / max(d - 1, 1))
    m = torch.ones(d, dtype=torch.int64, device=x.device)
    z = x + v
    rounds = 0
    while True:
        rounds += 1
        new = torch.ones(z.numel(), dtype=torch.int64, device=x.device)
        new[1:] = z[:-1] < z[1:]
        ids = torch.cumsum(new, 0) - 1
        n = int(ids[-1]) + 1
        if n == z.numel():
            return torch.repeat_interleave(z, m, output_size=d), rounds
        mass = m.to(x.dtype)
        total = torch.zeros(n, dtype=torch.int64, device=x.device).index_add_(0, ids, m)
        weight = total.to(x.dtype)
        x = torch.zeros(n, dtype=x.dtype, device=x.device).index_add_(0, ids, x * mass) / weight
        v = torch.zeros(n, dtype=x.dtype, device=x.device).index_add_(0, ids, v * mass) / weight
        m = total
        z = x + v


def authors_prox(w, lam, *, l1=0.0):
    """The prox of the 1-D tensor ``w`` by the authors' imminent collisions (:func:`collide`).

    Parameters
    ----------
    w : torch.Tensor
        A 1-D floating tensor (CPU or CUDA), finite.
    lam : float
        The weight of the weight-sharing penalty, ``>= 0``.
    l1 : float, optional
        The weight of the L1 penalty, ``>= 0``: the result is soft-thresholded by it.

    Returns
    -------
    torch.Tensor
        The prox, of ``w``'s shape, dtype and device.

    Examples
    --------
    >>> import torch
    >>> authors_prox(torch.tensor([10.0, 0.0, 1.0], dtype=torch.float64), 2.0).tolist()
    [8.0, 1.5, 1.5]
    >>> authors_prox(torch.tensor([10.0, 0.0, 1.0], dtype=torch.float64), 2.0, l1=2.0).tolist()
    [6.0, 0.0, 0.0]
    """
    import torch

    x, order = torch.sort(w)
    z, _ = collide(x, lam)
    if l1:
        z = torch.sign(z) * torch.clamp(z.abs() - l1, min=0)
    return torch.empty_like(w).scatter_(0, order, z)

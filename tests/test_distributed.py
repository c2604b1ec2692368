"""wsprox.distributed.prox_ on 2 and 4 gloo processes of this machine equals wsprox.prox of the whole vector.

Process start-up dominates, so each test spawns one group and runs all its cases there; a
case fails in the worker (AssertionError with the case's name), which the spawn re-raises.
"""
import multiprocessing

import numpy as np
import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
mp = pytest.importorskip("torch.multiprocessing")

if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)


def _cases(world, rng, dtypes=(np.float64, np.float32)):
    """(name, full vector, lam, l1, shard lengths): random, tied, worst-case, uneven, empty."""
    from wsprox.worstcase import FAMILIES

    def cuts(d, kind):
        if kind == "even":
            return [d // world + (r < d % world) for r in range(world)]
        if kind == "first_empty":
            return [0] + [d // (world - 1) + (r < d % (world - 1)) for r in range(world - 1)]
        if kind == "one_holds_all":
            return [d if r == world - 1 else 0 for r in range(world)]
        points = np.sort(rng.integers(0, d + 1, size=world - 1))
        return np.diff(np.concatenate([[0], points, [d]])).tolist()

    for dtype in dtypes:
        for d, lam, l1, kind in ((300, 0.5, 0.0, "even"), (257, 3.0, 0.2, "random"),
                                 (200, 40.0, 0.0, "first_empty"), (150, 0.01, 0.05, "one_holds_all")):
            yield f"normal {d} {lam} {l1} {kind} {dtype.__name__}", \
                rng.normal(size=d).astype(dtype), lam, l1, cuts(d, kind)
        ties = rng.integers(-3, 4, size=240).astype(dtype)
        for lam in (0.0, 0.5, 8.0, 1e3):
            yield f"ties {lam} {dtype.__name__}", ties, lam, 0.1, cuts(240, "random")
        for name, family in FAMILIES.items():
            w, lam = family(129, dtype=dtype)
            yield f"{name} {dtype.__name__}", w, lam, 0.0, cuts(129, "random")
    for d in (0, 1, world - 1, world + 1):
        yield f"tiny d={d}", rng.normal(size=d), 1.0, 0.0, cuts(d, "random")


def _worker(rank, world, init_file):
    import wsprox
    import wsprox.distributed as wd

    dist.init_process_group("gloo", init_method="file://" + init_file, rank=rank, world_size=world)
    try:
        # Window 1: every merge that moves a block grows its windows, on the float64 cases.
        for window, dtypes in ((wd.WINDOW, (np.float64, np.float32)), (1, (np.float64,))):
            wd.WINDOW = window
            for name, w, lam, l1, lengths in _cases(world, np.random.default_rng(7), dtypes):
                start = sum(lengths[:rank])
                shard = torch.from_numpy(w[start:start + lengths[rank]].copy())
                assert wd.prox_(shard, lam, l1=l1) is shard
                expected = wsprox.prox(w, lam, l1=l1)[start:start + lengths[rank]]
                scale = float(np.abs(w).max(initial=0.0)) + lam
                tol = 8 * np.finfo(w.dtype).eps * scale
                got = shard.numpy()
                assert got.dtype == w.dtype, name
                np.testing.assert_allclose(got, expected, rtol=0, atol=tol,
                                           err_msg=f"rank {rank} of {world}, window {window}: {name}")
        _check_errors(rank, world, wd)
        _check_weight_sharing_prox(rank, world)
    finally:
        dist.destroy_process_group()


def _check_weight_sharing_prox(rank, world):
    # WeightSharingProx with a process group: every parameter is this rank's shard (FSDP2 shards
    # the rows), and the step is the exact prox of the whole tensor, here with rho.
    import wsprox
    import wsprox.torch as wt

    w = np.random.default_rng(3).normal(size=(7, 5))
    rows = np.array_split(np.arange(7), world)[rank]
    shard = torch.nn.Parameter(torch.from_numpy(w[rows].copy()))
    wt.WeightSharingProx([shard], 0.8, rho=0.25, scale_by_lr=False, process_group=dist.group.WORLD).step()
    expected = w + 0.75 * (wsprox.prox(w, 0.8) - w)
    np.testing.assert_allclose(shard.detach().numpy(), expected[rows], rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="axis must be None"):
        wt.WeightSharingProx([shard], 0.8, axis=0, scale_by_lr=False, process_group=dist.group.WORLD)


def _check_errors(rank, world, wd):
    # Data errors are found on one rank and raised on all (no rank waits forever).
    shard = torch.zeros(3, dtype=torch.float64)
    if rank == world - 1:
        shard[1] = float("nan")
    with pytest.raises(ValueError, match=rf"ranks \[{world - 1}\] hold NaN"):
        wd.prox_(shard, 1.0)
    assert torch.isnan(shard).sum() == (rank == world - 1)    # left as it was
    if world > 1:
        with pytest.raises(ValueError, match="same lam and l1"):
            wd.prox_(torch.zeros(2), 1.0 + rank)
    with pytest.raises(TypeError, match="1-D floating"):
        wd.prox_(torch.zeros(2, dtype=torch.int64), 1.0)


def _spawn(world, tmp_path):
    # A fork server that has imported torch and wsprox starts the workers in a fraction
    # of a second each (spawn imports them anew in every process; fork is unsafe with threads).
    multiprocessing.get_context("forkserver").set_forkserver_preload(
        ["torch.distributed", "wsprox.distributed", __name__])
    mp.start_processes(_worker, args=(world, str(tmp_path / "init")), nprocs=world, join=True,
                       start_method="forkserver")


@pytest.mark.parametrize("world", [2, 4])
def test_equals_prox_of_whole_vector(world, tmp_path):
    _spawn(world, tmp_path)


def test_one_process_group(tmp_path):
    # P = 1: no merge round; and the splitters of a group of one are none.
    _worker(0, 1, str(tmp_path / "init"))




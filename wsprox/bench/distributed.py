"""Benchmark: the sharded prox (:func:`wsprox.distributed.prox_`) against gather-prox-scatter.

``python -m wsprox.bench.distributed [--ranks 2 4] [--sizes 100000 1000000] [--repeats 3]``
starts ``P`` gloo processes on this machine for each ``P`` and times, on a
random normal vector of ``d`` entries in even float64 shards (``lam = 1``),

* ``sharded``: :func:`wsprox.distributed.prox_`, the sample sort, per-rank
  PAVA and merge tree;
* ``gather``: ``dist.gather`` of the shards to rank 0, :func:`wsprox.prox` of
  the whole vector there, ``dist.scatter`` back (``O(d)`` memory on rank 0).

It prints the median wall time of each over ``--repeats`` calls (after one
warm-up call), as seen by rank 0 after a barrier, and checks that both give
the same prox. Processes share the machine's cores: on a machine with fewer
cores than ranks the times include their contention.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

__all__ = ["gather_prox_scatter", "main"]


def gather_prox_scatter(shard, lam, *, l1=0.0):
    """The baseline: gather the (equal) shards on rank 0, prox there, scatter back, in place.

    Examples
    --------
    >>> import os, tempfile
    >>> import torch, torch.distributed as dist
    >>> from wsprox.bench.distributed import gather_prox_scatter
    >>> dist.init_process_group("gloo", init_method="file://" + os.path.join(tempfile.mkdtemp(), "i"),
    ...                         rank=0, world_size=1)
    >>> gather_prox_scatter(torch.tensor([0.0, 1.0, 10.0], dtype=torch.float64), 2.0)
    tensor([1.5000, 1.5000, 8.0000], dtype=torch.float64)
    >>> dist.destroy_process_group()
    """
    import torch
    import torch.distributed as dist

    import wsprox

    rank, size = dist.get_rank(), dist.get_world_size()
    parts = [torch.empty_like(shard) for _ in range(size)] if rank == 0 else None
    dist.gather(shard, parts, dst=0)
    if rank == 0:
        x = torch.from_numpy(wsprox.prox(torch.cat(parts).numpy(), lam, l1=l1))
        parts = list(x.split(shard.numel()))
    dist.scatter(shard, parts, src=0)
    return shard


def _worker(rank, size, init_file, sizes, repeats, results):
    import torch
    import torch.distributed as dist

    import wsprox.distributed

    dist.init_process_group("gloo", init_method="file://" + init_file, rank=rank, world_size=size)
    for d in sizes:
        w = np.random.default_rng(d).normal(size=d)
        n = d // size
        mine = w[rank * n:(rank + 1) * n]
        times, outs = {}, {}
        for name, fn in (("sharded", wsprox.distributed.prox_), ("gather", gather_prox_scatter)):
            runs = []
            for k in range(repeats + 1):
                shard = torch.from_numpy(mine.copy())
                dist.barrier()
                t0 = time.perf_counter()
                fn(shard, 1.0)
                dist.barrier()
                if k:
                    runs.append(time.perf_counter() - t0)
            times[name], outs[name] = statistics.median(runs), shard.numpy()
        np.testing.assert_allclose(outs["sharded"], outs["gather"], rtol=1e-12, atol=1e-12)
        if rank == 0:
            results.put((size, n * size, times["sharded"], times["gather"]))
    dist.destroy_process_group()


def main(argv=None):
    """Run the benchmark and print one line per (ranks, d).

    Examples
    --------
    >>> from wsprox.bench.distributed import main
    >>> main(["--ranks", "1", "--sizes", "1000", "--repeats", "1"])  # doctest: +ELLIPSIS
    ranks         d   sharded ms    gather ms
        1      1000 ...
    """
    import torch.multiprocessing as mp

    parser = argparse.ArgumentParser(prog="python -m wsprox.bench.distributed", description=__doc__.split("\n")[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    ctx = mp.get_context("forkserver")   # a server that imports torch and wsprox once
    ctx.set_forkserver_preload(["torch.distributed", "wsprox.distributed", __name__])
    print(f"{'ranks':>5} {'d':>9} {'sharded ms':>12} {'gather ms':>12}")
    for size in args.ranks:
        results = ctx.SimpleQueue()
        with tempfile.TemporaryDirectory() as tmp:
            mp.start_processes(_worker, args=(size, os.path.join(tmp, "init"), args.sizes, args.repeats, results),
                               nprocs=size, start_method="forkserver")
        while not results.empty():
            ranks, d, sharded, gathered = results.get()
            print(f"{ranks:>5} {d:>9} {1e3 * sharded:>12.2f} {1e3 * gathered:>12.2f}")


if __name__ == "__main__":
    main()

"""The goals of ``python -m wsprox.bench``: the ratios that a run ends with, each beside its goal."""

__all__ = ["cpu_goals", "cuda_goals", "size"]


def size(d):
    """``1e+06`` for the powers of ten from ``1e4``, else the digits.

    Examples
    --------
    >>> size(10**6), size(300)
    ('1e+06', '300')
    """
    return f"{d:.0e}" if d >= 10_000 and str(d).strip("0") == "1" else str(d)


def _goal(text, value, op, target):
    met = {"<=": value <= target, ">=": value >= target, ">": value > target}[op]
    return f"[{'met' if met else 'not met'}] {text} (goal {op} {target:g})"


def cpu_goals(records, method, threads, *, load=0):
    """Lines of the CPU goals for ``method``, cold and warm, on normal input.

    From ``d = 1e6``: time over the floor and speed-up over SciPy; up to
    ``d = 1e4``: time over SciPy's; at every size, the warm start's time
    over the cold call's; with ``threads`` (``--threads``): every thread
    count's speed-up over the first (over one thread: never slower, and
    on 16 threads at ``d = 1e7`` at least 5x faster unless ``load`` busy
    processes run beside).

    Examples
    --------
    >>> rec = dict(input="normal", rows=1, d=10, lam=0.01, dtype="float64", threads=None, speedup_over_scipy=4.0)
    >>> for line in cpu_goals([dict(rec, method="pava", median_ms=0.004),
    ...                        dict(rec, method="pava+warm", median_ms=0.002)], "pava", None):
    ...     print(line)
    [met] d=10 float64: 0.25x SciPy's time (goal <= 0.5)
    [met] d=10 float64: warm 0.50x the cold call's time (goal <= 1)
    """
    lines = []
    cold = {_where(r): r["median_ms"] for r in records if r["method"] == method}
    for r in records:
        if r["input"] != "normal" or r["rows"] != 1:
            continue
        at = f"d={size(r['d'])} {r['dtype']}" + (f" @{r['threads']}t" if r["threads"] else "")
        if r["method"] == method and r["d"] >= 10**6 and r["ratio_to_floor"] and r["speedup_over_scipy"]:
            lines.append(_goal(f"{at}: {r['ratio_to_floor']:.2f}x numpy.sort", r["ratio_to_floor"], "<=", 1.5))
            lines.append(_goal(f"{at}: {r['speedup_over_scipy']:.1f}x faster than SciPy",
                               r["speedup_over_scipy"], ">=", 4))
        elif r["method"] == method and r["d"] <= 10**4 and r["speedup_over_scipy"]:
            ratio = 1 / r["speedup_over_scipy"]
            lines.append(_goal(f"{at}: {ratio:.2f}x SciPy's time", ratio, "<=", 0.5 if r["d"] <= 100 else 1))
        if r["method"] == method + "+warm" and _where(r) in cold:
            ratio = r["median_ms"] / cold[_where(r)]
            lines.append(_goal(f"{at}: warm {ratio:.2f}x the cold call's time", ratio, "<=", 1))
    if threads and len(threads) > 1:
        base = {_where(r, threads=False): r["median_ms"] for r in records
                if r["threads"] == threads[0] and r["method"] == method}
        for r in records:
            key = _where(r, threads=False)
            if r["threads"] not in (None, threads[0]) and r["method"] == method and key in base:
                speedup = base[key] / r["median_ms"]
                text = (f"d={size(r['d'])} {r['dtype']} {r['input']}: {r['threads']} threads "
                        f"{speedup:.2f}x faster than {threads[0]}")
                target = 5 if r["threads"] >= 16 and r["d"] == 10**7 and not load else 1
                lines.append(_goal(text, speedup, ">=", target) if threads[0] == 1 else text)
    return lines


def _where(r, *, threads=True):
    """The group of a record (and its thread count)."""
    return (r["input"], r["dtype"], r["rows"], r["d"], r["lam"]) + ((r["threads"],) if threads else ())


def cuda_goals(records):
    """Lines of the CUDA goals, for ``auto`` on every device array kind timed.

    * one row of random normal input, ``d >= 1e6``: at most 3x the floor;
      ``d >= 1e4``: faster than the authors' imminent collisions (PyTorch on
      the device);
    * every worst-case family at ``d = 1e5`` and ``1e6``: at most 10x the floor;
    * the batches 4096 x 1024 and 100000 x 100: at most 2x the floor;
    * ``d = 1e7``: at least 20x faster than this library's CPU path;
    * the batch 16 x 128 a call: at most 0.2 ms synchronised, 0.1 ms back to
      back; one row of ``1e4``: at most 0.2 ms synchronised.

    Examples
    --------
    >>> rec = dict(backend="cuda", input="normal", dtype="float32", array="torch", rows=1, d=10**6, lam=0.01,
    ...            floor="torch.sort")
    >>> for line in cuda_goals([dict(rec, method="auto", median_ms=1.0, ratio_to_floor=2.5),
    ...                         dict(rec, method="authors", median_ms=2.0, ratio_to_floor=5.0)]):
    ...     print(line)
    [met] normal float32 [torch] d=1e+06 lam=0.01: auto 2.50x torch.sort (goal <= 3)
    [met] normal float32 [torch] d=1e+06 lam=0.01: auto 2.00x faster than the authors' imminent collisions (goal > 1)
    """
    group = {}
    for r in records:
        group.setdefault((r["input"], r["dtype"], r["rows"], r["d"], r["lam"]), {})[r["backend"], r["method"]] = r
    lines = []
    for r in records:
        if r["backend"] != "cuda" or r["method"] not in ("auto", "auto+back_to_back"):
            continue
        same = group[r["input"], r["dtype"], r["rows"], r["d"], r["lam"]]
        shape_text = f"{r['rows']}x{r['d']}" if r["rows"] > 1 else f"d={size(r['d'])}"
        at = f"{r['input']} {r['dtype']} [{r['array']}] {shape_text} lam={r['lam']:g}"
        shape, ratio, ms = (r["rows"], r["d"]), r["ratio_to_floor"], r["median_ms"]
        if r["method"] == "auto+back_to_back":
            if shape == (16, 128):
                lines.append(_goal(f"{at}: auto {ms:.3f} ms a call back to back", ms, "<=", 0.1))
            continue
        target = _floor_target(r)
        if ratio is not None and target:
            lines.append(_goal(f"{at}: auto {ratio:.2f}x {r['floor']}", ratio, "<=", target))
        if r["input"] != "normal":
            continue
        authors = same.get(("cuda", "authors"))
        if r["rows"] == 1 and r["d"] >= 10**4 and authors:
            speedup = authors["median_ms"] / ms
            lines.append(_goal(f"{at}: auto {speedup:.2f}x faster than the authors' imminent collisions",
                               speedup, ">", 1))
        cpu = same.get(("cpu", "auto"))
        if shape == (1, 10**7) and cpu:
            speedup = cpu["median_ms"] / ms
            lines.append(_goal(f"{at}: auto {speedup:.1f}x faster than this library's CPU path", speedup, ">=", 20))
        if shape in ((16, 128), (1, 10**4)):
            lines.append(_goal(f"{at}: auto {ms:.3f} ms a call, synchronised", ms, "<=", 0.2))
    return lines


def _floor_target(r):
    """The goal on ``auto``'s time over the floor in the group of ``r``, or None."""
    if r["input"] != "normal":
        return 10 if r["rows"] == 1 and r["d"] in (10**5, 10**6) else None
    if r["rows"] == 1:
        return 3 if r["d"] >= 10**6 else None
    return 2 if (r["rows"], r["d"]) in ((4096, 1024), (100_000, 100)) else None

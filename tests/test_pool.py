"""The worker pool of the CPU passes, and the parallel sort that runs on it."""
import threading

import numpy as np
import pytest

import wsprox
from conftest import assert_ranked
from wsprox.core import pool
from wsprox.cpu import keys
from wsprox.cpu.keys import END, sort_keys
from wsprox.cpu.sort import rank_rows


@pytest.mark.parametrize("threads", [None, 1, 2, 5])
def test_every_task_runs_once(threads):
    seen = []
    pool.run(100, seen.append, threads)
    assert sorted(seen) == list(range(100))


def test_an_exception_reaches_the_caller_after_every_task():
    seen = []

    def body(t):
        seen.append(t)
        if t == 3:
            raise KeyError(t)

    with pytest.raises(KeyError):
        pool.run(20, body, 2)
    assert sorted(seen) == list(range(20))


def test_tasks_may_call_the_pool_and_callers_may_share_it():
    # A task that runs tasks (inline on a worker, on the pool from the caller),
    # from several threads at once: no deadlock, every task once.
    counts = np.zeros((4, 8, 8), dtype=np.int64)

    def inner(c, t, u):
        counts[c, t, u] += 1

    def caller(c):
        pool.run(8, lambda t: pool.run(8, lambda u: inner(c, t, u), 2), 2)

    threads = [threading.Thread(target=caller, args=(c,)) for c in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert np.all(counts == 1)


def test_prox_from_a_pool_task_runs_inline():
    # wsprox.prox called by a task of the pool (here a large, threaded one).
    w = np.random.default_rng(0).standard_normal(300_000)
    expected = wsprox.prox(w, 0.1)
    results = [None] * 3
    pool.run(3, lambda t: results.__setitem__(t, wsprox.prox(w, 0.1)), 2)
    for x in results:
        np.testing.assert_array_equal(x, expected)


@pytest.mark.parametrize("runs", [3, 4, 5, 8])
@pytest.mark.parametrize("d", [9, 140_001])
def test_rows_sorted_as_several_runs_are_merged_back_to_two(runs, d, monkeypatch):
    # As on a machine with `runs` threads: a run each, merged pairwise down to
    # two (or to one, when the merges would leave the two in the spare array).
    monkeypatch.setattr(keys, "get_num_threads", lambda: runs)
    rng = np.random.default_rng(d)
    k = rng.choice(int(END), size=(1, d), replace=False).astype(np.uint64)
    before = k.copy()
    split = sort_keys(k)
    assert 0 < split <= d
    for part in (slice(0, split), slice(split, d)):
        np.testing.assert_array_equal(k[:, part], np.sort(before[:, part], axis=1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("runs", [1, 2, 3, 4, 7])
def test_the_ranking_is_the_same_whatever_the_threads(dtype, runs, monkeypatch):
    rng = np.random.default_rng(7)
    rows = rng.standard_normal((1, 200_003)).astype(dtype)
    rows[:, ::3] = rows[:, 5:6]                                  # ties
    rows[:, 1::7] = np.nextafter(rows[:, 1::7], np.inf)
    reference = [a.copy() for a in rank_rows(rows)]
    monkeypatch.setattr(keys, "get_num_threads", lambda: runs)
    order, x = rank_rows(rows)
    assert_ranked(rows, order, x)
    np.testing.assert_array_equal(order, reference[0])
    np.testing.assert_array_equal(x, reference[1])


def test_a_row_is_sorted_whole_while_the_workers_do_not_keep_up(monkeypatch):
    # Busy machine: the workers ran none of the recent tasks; the sort's runs are one
    # per thread, so it sorts the row whole on the caller rather than wait for them.
    monkeypatch.setattr(pool, "THREADED_MIN", 16)
    monkeypatch.setattr(keys, "get_num_threads", lambda: 4)
    monkeypatch.setattr(keys, "threaded", lambda size: True)
    rng = np.random.default_rng(3)
    row = rng.permutation(1000).astype(np.uint64)[None, :]
    monkeypatch.setattr(pool, "_recent", [1.0])
    assert keys.sort_keys(row.copy()) < 1000            # two halves left to merge
    monkeypatch.setattr(pool, "_recent", [0.1])
    whole = row.copy()
    assert keys.sort_keys(whole) == 1000
    np.testing.assert_array_equal(whole[0], np.arange(1000))


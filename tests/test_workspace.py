"""Work arrays kept between calls: same answers, bounded memory, released on demand."""
import numpy as np
import pytest

import wsprox
from wsprox.core import workspace
from wsprox.reference import prox_exact


def test_reused_memory_gives_the_same_answers_whatever_the_sizes():
    # Larger, smaller, other dtype, batched: every call sees stale contents in
    # the kept arrays, and must not depend on them.
    rng = np.random.default_rng(0)
    wsprox.release_workspace()
    cases = [rng.integers(-4, 4, size=s).astype(float) for s in (300, 40, 300, 7)]
    cases += [rng.standard_normal((3, 50)).astype(np.float32)]
    for w in cases + cases[::-1]:
        x = wsprox.prox_result(w, 0.75, axis=None if w.ndim == 1 else 1).x   # the general pipeline
        rows = w.reshape(-1, w.shape[-1]) if w.ndim > 1 else w[None]
        exact = np.array([[float(v) for v in prox_exact(r, 0.75)] for r in rows])
        np.testing.assert_allclose(x.reshape(exact.shape), exact, rtol=0, atol=1e-5)


def test_the_default_workspace_is_kept_and_released():
    wsprox.release_workspace()
    # prox_result: the general pipeline (wsprox.prox of a small plain vector needs no workspace).
    w = np.random.default_rng(1).standard_normal(5000)
    wsprox.prox_result(w, 0.1)
    held = workspace.default_workspace().nbytes
    assert held >= 4 * 8 * w.size                 # keys, x, order, starts
    wsprox.prox_result(w[:1000], 0.1)
    assert workspace.default_workspace().nbytes == held   # smaller calls fit in it
    wsprox.release_workspace()
    assert workspace.default_workspace().nbytes == 0


def test_the_default_workspace_is_bounded(monkeypatch):
    monkeypatch.setattr(workspace, "DEFAULT_LIMIT", 3 * 8 * 1000)
    wsprox.release_workspace()
    w = np.random.default_rng(2).standard_normal(1000)
    np.testing.assert_array_equal(wsprox.prox_result(w, 0.3).x,
                                  wsprox.prox(w.copy(), 0.3, warm=wsprox.ProxState()))
    assert 0 < workspace.default_workspace().nbytes <= 3 * 8 * 1000
    monkeypatch.undo()
    wsprox.release_workspace()


def test_a_state_has_its_own_workspace():
    state = wsprox.ProxState()
    wsprox.prox_result(np.arange(100.0), 1.0, warm=state)   # the general pipeline
    assert state.workspace is not workspace.default_workspace()
    assert state.workspace.nbytes > 0


@pytest.mark.parametrize("limit", [None, 0])
def test_arrays_fit_their_shape(limit):
    work = workspace.Workspace(limit)
    a = work.array("x", (2, 5), np.float64)
    b = work.array("x", (3, 2), np.float64)
    assert a.shape == (2, 5) and b.shape == (3, 2) and b.flags.c_contiguous
    assert np.shares_memory(a, b) == (limit is None)

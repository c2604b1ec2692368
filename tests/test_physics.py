"""The exact collision trajectories of wsprox.physics."""
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import wsprox
from conftest import lams, vectors
from wsprox.physics import trajectories
from wsprox.reference import prox_exact


def _close(a, b, scale):
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9 * (1.0 + scale))


@given(vectors(max_size=30), lams())
def test_positions_at_one_are_the_prox(w, lam):
    traj = trajectories(w, lam)
    _close(traj.positions(1.0), wsprox.prox(w, lam), np.abs(w).max() + lam)


@given(vectors(max_size=30), lams(), st.floats(0.0, 1.0))
def test_semigroup_positions_at_t_are_prox_of_t_lam(w, lam, t):
    traj = trajectories(w, lam)
    _close(traj.positions(t), wsprox.prox(w, t * lam), np.abs(w).max() + lam)


def test_agrees_with_exact_oracle():
    w = np.random.default_rng(1).integers(-20, 20, size=25).astype(float)
    traj = trajectories(w, 7.0)
    exact = np.array(prox_exact(w, 7), dtype=float)
    _close(traj.positions(1.0), exact, 30.0)


@given(vectors(min_size=2, max_size=30), st.floats(1e-3, 50.0))
def test_clusters_never_split_and_mean_and_order_are_kept(w, lam):
    traj = trajectories(w, lam)
    ts = np.linspace(0.0, 1.0, 9)
    pos = traj.positions(ts)
    _close(pos.mean(axis=1), np.full(ts.size, w.mean()), np.abs(w).max())
    order = np.argsort(w, kind="stable")
    assert np.all(np.diff(pos[:, order], axis=1) >= -1e-9 * (1 + np.abs(w).max() + lam))
    counts = [traj.starts(t).size - 1 for t in ts]
    assert counts == sorted(counts, reverse=True)
    for t0, t1 in itertools.pairwise(ts):  # a boundary present at t1 was present at t0
        assert set(traj.starts(t1)) <= set(traj.starts(t0))


@given(vectors(min_size=2, max_size=30), st.floats(1e-3, 50.0))
def test_events_are_collisions_at_their_times(w, lam):
    traj = trajectories(w, lam)
    assert np.all((traj.times >= 0) & (traj.times <= 1))
    for t, clusters in traj.events:
        pos = traj.positions(t)
        for members in clusters:
            # the particles of a cluster formed at t coincide at t
            _close(pos[members], np.full(members.size, pos[members].mean()), np.abs(w).max() + lam)
            assert np.unique(traj.labels(t)[members]).size == 1


def test_tied_inputs_merge_at_time_zero():
    traj = trajectories([2.0, 0.0, 2.0, 5.0], 0.1)
    assert traj.times[0] == 0.0
    _, clusters = traj.events[0]
    assert [c.tolist() for c in clusters] == [[0, 2]]


def test_cluster_count_at_one_matches_prox_result():
    w = np.random.default_rng(3).normal(size=300)
    for lam in (0.01, 0.1, 1.0):
        traj = trajectories(w, lam)
        assert traj.starts(1.0).size - 1 == wsprox.prox_result(w, lam).n_clusters
        # labels agree up to numbering: both number clusters by increasing value
        np.testing.assert_array_equal(traj.labels(1.0), wsprox.prox_result(w, lam).labels)


def test_one_particle_and_float32_input():
    traj = trajectories(np.float32([2.5]), 3.0)
    assert traj.times.size == 0
    assert traj.positions(1.0).tolist() == [2.5]
    w = np.float32([0.5, -1.0, 2.0, 0.25])
    np.testing.assert_allclose(trajectories(w, 0.7).positions(1.0), wsprox.prox(w, 0.7), atol=1e-6)


def test_two_particles_meet_at_closed_form_time():
    # v = +lam and -lam: they close the gap g at speed 2 lam.
    traj = trajectories([0.0, 3.0], 2.0)
    np.testing.assert_allclose(traj.times, [0.75])
    np.testing.assert_allclose(traj.positions(1.0), [1.5, 1.5])


def test_t_max_extends_the_flow_to_total_collapse():
    w = np.array([0.0, 1.0, 10.0])
    traj = trajectories(w, 2.0, t_max=100.0)
    assert traj.starts(100.0).tolist() == [0, 3]
    np.testing.assert_allclose(traj.positions(100.0), np.full(3, w.mean()))


def test_bad_input():
    with pytest.raises(ValueError, match="lam"):
        trajectories([1.0, 2.0], -1.0)
    with pytest.raises(ValueError, match="NaN"):
        trajectories([1.0, np.nan], 1.0)
    with pytest.raises(ValueError, match="empty"):
        trajectories([], 1.0)
    with pytest.raises(TypeError, match="real"):
        trajectories([1j, 2.0], 1.0)
    with pytest.raises(ValueError, match="t must lie"):
        trajectories([1.0, 2.0], 1.0).positions(1.5)

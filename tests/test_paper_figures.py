"""paper_figures: the cheap pieces on tiny sizes (CI runs ``python -m paper_figures --quick`` itself)."""
import json

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

import wsprox
from paper_figures import FIGURES, figure
from paper_figures.__main__ import main
from paper_figures._inputs import grow
from paper_figures.particles import collapse_threshold
from paper_figures.runtime import scipy_prox


def test_particles_figure_writes_files_and_its_checks_hold(tmp_path, capsys):
    assert main(["--only", "particles", "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"particles.png", "particles.csv", "particles.json"}
    data = json.loads((tmp_path / "particles.json").read_text())
    assert data["checks"]["max |x(1) - prox(w, lam)|"] < 1e-12
    assert data["checks"]["max over t |x(t) - prox(w, t lam)|"] < 1e-12
    assert data["checks"]["clusters at t=1"] == data["checks"]["clusters of prox_result"]
    assert data["events"], "the figure's lam must make particles collide"
    assert "particles.png" in capsys.readouterr().out


@pytest.mark.parametrize("seed", range(5))
def test_collapse_threshold_is_where_all_weights_merge(seed):
    w = np.random.default_rng(seed).normal(size=20)
    lam = collapse_threshold(w)
    assert np.ptp(wsprox.prox(w, lam * (1 + 1e-9))) < 1e-9
    assert np.ptp(wsprox.prox(w, lam * (1 - 1e-3))) > 1e-6


@pytest.mark.parametrize("lam", [0.0, 0.1, 3.0])
def test_scipy_pipeline_is_the_prox(lam):
    w = np.random.default_rng(1).normal(size=50)
    np.testing.assert_allclose(scipy_prox(w, lam), wsprox.prox(w, lam), atol=1e-12)


def test_grow_stops_quadratic_costs_before_the_budget():
    linear = [(100, 0.01), (1000, 0.1)]
    quadratic = [(100, 0.01), (1000, 1.0)]
    assert grow(linear, 10_000, budget=2.0)
    assert not grow(quadratic, 10_000, budget=2.0)
    assert grow([], 10**9, budget=0.0)


def test_every_figure_module_has_the_interface():
    for name in FIGURES:
        module = figure(name)
        assert module.NAME == name and module.SHOWS and callable(module.make)
    with pytest.raises(ValueError, match="unknown figure"):
        figure("nope")


def test_scale_option_and_its_contradiction_with_quick(tmp_path, capsys):
    assert main(["--scale", "quick", "--only", "particles", "--out", str(tmp_path)]) == 0
    assert "(quick scale)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--quick", "--scale", "paper", "--only", "particles", "--out", str(tmp_path)])
    assert "--quick contradicts --scale paper" in capsys.readouterr().err


def _unroll(image, digits):
    # The index of the 8x8 digit that image (12x12) is a circular shift of, or -1.
    from paper_figures.shuffled_pixels import SIDE

    for a in range(SIDE):
        for b in range(SIDE):
            moved = np.roll(image, (-a, -b), axis=(0, 1))
            if np.abs(moved[8:]).max() == 0 and np.abs(moved[:, 8:]).max() == 0:
                hits = np.flatnonzero(np.abs(digits - moved[:8, :8].ravel()).max(axis=1) < 1e-5)
                if hits.size:
                    return int(hits[0])
    return -1


def test_torus_digits_are_shifted_digits_and_test_digits_are_never_trained_on():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    from paper_figures.shuffled_pixels import SCALES, SIDE, torus_digits

    config = SCALES["quick"]
    X_train, y_train, X_test, y_test = torus_digits(config)
    digits, labels = load_digits(return_X_y=True)
    digits = digits.astype(np.float32) / 16.0
    n_train = sum(int(0.6 * np.sum(labels == c)) for c in range(10))
    assert X_train.shape == (config.train_copies * n_train, SIDE * SIDE)
    assert X_test.shape == (config.test_copies * (len(labels) - n_train), SIDE * SIDE)
    assert X_train.dtype == np.float32 and abs(X_train.mean()) < 1e-4 and abs(X_train.std() - 1) < 1e-4
    # undo the normalisation: blank pixels are the minimum, the next value is one unit of ink (1/16)
    zero, ink = np.unique(X_train)[:2]
    train_seen, test_seen = set(), set()
    for X, y, seen in ((X_train, y_train, train_seen), (X_test, y_test, test_seen)):
        for k in np.random.default_rng(0).choice(len(X), 25, replace=False):
            image = ((X[k] - zero) / (ink - zero) / 16).reshape(SIDE, SIDE)
            i = _unroll(image, digits)
            assert i >= 0 and labels[i] == y[k]
            seen.add(i)
    assert not train_seen & test_seen


def test_locality_scores_a_patch_one_and_random_filters_low():
    from paper_figures.shuffled_pixels import SIDE, locality, random_locality, scattered_locality

    patch = np.zeros((SIDE, SIDE))
    patch[4:7, 10:] = 1.0
    patch[4:7, 0] = -2.0                     # the 3x3 patch wraps around the torus
    assert locality(patch[None].reshape(1, -1)) == pytest.approx(1.0)
    assert random_locality(200) < 0.25
    assert scattered_locality(np.tile(patch.ravel(), (50, 1))) < 0.9
    flat = np.full((1, SIDE * SIDE), 0.3)
    assert locality(flat) == 0.0             # no energy off the shared value


def test_the_fc_network_is_invariant_to_the_pixel_order():
    pytest.importorskip("sklearn")
    from dataclasses import replace

    from paper_figures.shuffled_pixels import SCALES, invariance_check, torus_digits

    config = replace(SCALES["quick"], c1=1, c2=2, lr=0.1)
    X, y, _, _ = torus_digits(config)
    perm = np.random.default_rng(5).permutation(X.shape[1])
    diff, scale = invariance_check(X[:1024], y[:1024], perm, config, steps=2)
    assert diff <= 1e-9 * max(scale, 1.0)
    assert invariance_check(X[:1024], y[:1024], np.arange(X.shape[1])[::-1].copy(), config, steps=2)[0] < 1e-9


def test_summed_lam_is_the_authors_when_the_lr_is_matched():
    pytest.importorskip("sklearn")
    from dataclasses import replace

    import torch

    from paper_figures.shuffled_pixels import AUTHORS_LR_SUM, SCALES, cosine_lr_sum, torus_digits, train

    config = replace(SCALES["quick"], epochs=3, lr=None)
    X, y, _, _ = torus_digits(config)
    _, record = train("FC+WS", X[:1100], y[:1100], config, ws_lr=1e-3)
    assert record["steps"] == 3 * 2                      # 1100 // 512 batches per epoch, drop_last
    assert record["summed_lam"]["fc1"] == pytest.approx(1e-3 * AUTHORS_LR_SUM)
    assert record["summed_lam"]["fc2"] == pytest.approx(1e-4 * AUTHORS_LR_SUM)
    assert 0 < record["prox_share"] < 1
    # cosine_lr_sum is what torch's scheduler takes
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7)
    total = 0.0
    for _ in range(7):
        total += 5 * opt.param_groups[0]["lr"]
        opt.step()
        schedule.step()
    assert total == pytest.approx(cosine_lr_sum(0.1, 7, 5))


def _row(model, ws_lr, seed, acc, lam=0.0, pixels="shuffled", loc=0.2):
    return {"model": model, "pixels": pixels, "ws_lr": ws_lr, "seed": seed, "test_accuracy": acc,
            "summed_lam": {"fc1": lam}, "locality": loc, "locality_scattered": 0.2}


@pytest.mark.parametrize("at_matched, elsewhere, verdict", [
    (0.9, 0.5, "reproduced"), (0.5, 0.9, "partial"), (0.5, 0.5, "not reproduced")])
def test_claims_are_judged_at_the_authors_summed_lam(at_matched, elsewhere, verdict):
    from paper_figures.shuffled_pixels import AUTHORS_SUMMED_LAM, claims

    rows = [_row("FC", 0.0, s, 0.6 + 0.01 * s) for s in (0, 1)]
    rows += [_row("CNN", 0.0, s, 0.3, pixels=p) for s in (0, 1) for p in ("original", "shuffled")]
    rows += [_row("FC+WS", 1e-3, s, at_matched, AUTHORS_SUMMED_LAM * 1.1) for s in (0, 1)]
    rows += [_row("FC+WS", 1e-2, s, elsewhere, AUTHORS_SUMMED_LAM * 10) for s in (0, 1)]
    found = {c["claim"]: c for c in claims(rows, (0.0, 1.0), 0.15)}
    assert found["shuffled pixels: FC with weight sharing beats FC"]["verdict"] == verdict
    assert found["the CNN needs the original pixel order (original beats shuffled)"]["verdict"] == "not reproduced"
    assert found["the FC network (with the prox) is invariant to the pixel order"]["verdict"] == "reproduced"
    assert {c["verdict"] for c in found.values()} <= {"reproduced", "not reproduced", "partial"}


def test_paper_scale_is_the_authors_sizes():
    pytest.importorskip("sklearn")
    import torch
    from sklearn.datasets import load_digits

    from paper_figures.shuffled_pixels import AUTHORS_LR_SUM, SCALES, build, cosine_lr_sum

    paper = SCALES["paper"]
    assert (paper.c1, paper.c2, paper.epochs, paper.lr, paper.batch, paper.device) == (32, 64, 200, 0.1, 512, "cuda")
    with torch.device("meta"):
        net = build("FC+WS", paper)
    assert net.fc2.weight.numel() == 42_467_328          # the 42.5M weights of fc2
    labels = load_digits().target
    steps_per_epoch = paper.train_copies * sum(int(0.6 * np.sum(labels == c)) for c in range(10)) // paper.batch
    assert abs(steps_per_epoch * paper.epochs - 14_000) < 1_000     # about the authors' number of steps
    assert cosine_lr_sum(paper.lr, paper.epochs, steps_per_epoch) == pytest.approx(AUTHORS_LR_SUM, rel=0.05)

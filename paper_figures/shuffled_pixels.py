r"""Figure 4, shuffled pixels: the paper's main experiment on the authors' protocol.

The authors' released code (``configs/mnist_torus_14.py``,
``scripts/run_mnist_torus_14.sh``) trains, on 14x14 MNIST digits rolled once
by a random circular shift, a two-layer "FC" network whose head averages
over positions, with :math:`\operatorname{prox}_{\lambda R}` on both hidden
layers, against a circular CNN, on the original and on shuffled pixels.
This module rebuilds that protocol on scikit-learn's 8x8 digits (shipped
inside the package, nothing downloaded) on a 12x12 torus (144 positions):

* data: the first 60% of each class (in the data set's order) train, the
  other 40% test, so test digits are never seen in training; each digit is
  put in the corner of a zero 12x12 image and rolled by a uniformly random
  circular shift, ``train_copies`` (``test_copies``) independent shifts per
  training (test) digit, fixed when the data are built; normalised by the
  training mean and standard deviation;
* ``Net_2FC(c1, c2)``: FC 144 -> 144 c1, BatchNorm, ReLU, dropout 0.4; FC ->
  144 c2, BatchNorm, ReLU, dropout 0.4; viewed as (c2 channels, 144
  positions) and averaged over the positions; FC c2 -> 10;
* ``Net_2CNN(c1, c2)``: circular 3x3 convolutions 1 -> c1 -> c2, each with
  BatchNorm and ReLU, global average pool, FC c2 -> 10;
* the prox (:class:`wsprox.torch.WeightSharingProx`) on ``fc1`` and ``fc2``,
  weights and biases each as one vector, strengths ``ws_lr`` and
  ``ws_lr / 10`` (the authors' ``(1e-3, 1e-4)`` ratio), ``lam = strength *
  current lr``, no L1, ``rho = 0``;
* SGD, momentum 0, weight decay 0, cosine schedule over the epochs (stepped
  per epoch), batch 512 with ``drop_last``; the authors' peak lr 0.1 at
  ``--scale paper``.

The pixel shuffle is one fixed permutation of the 144 pixels. The FC network
is exactly invariant to it (its first layer does not know where pixels are,
and :math:`R` of a vector does not depend on its order): training on
shuffled pixels from an initialisation is training on the original pixels
from the column-permuted initialisation. The module checks this (the same
initialisation permuted, trained a few steps with the prox on both orders,
gives the same outputs to float32 roundoff) and then trains the FC networks
on the shuffled pixels only; the CNN is trained on both orders.

Measured per run: test and train accuracy, the fraction of distinct values of
``fc1`` and ``fc2`` weights (and over training), a locality score of the
first-layer filters (un-shuffled) beside its value for random Gaussian
filters, the prox's share of the training step time, and the summed
:math:`\lambda` of each proxed layer, :math:`\sum_t s\,\eta_t`.

What differs from the authors' setup: 8x8 digits on a 12x12 torus instead of
14x14 MNIST (1,797 digits instead of 70,000; each training digit appears at
``train_copies`` shifts instead of 36,000 digits at one shift each); one
shuffle permutation; the FC networks are trained on one pixel order (they
are invariant to it). At the default and quick scales: widths 2/4 (1/2)
instead of 32/64 and far fewer steps (500 instead of about 14,000), so the
peak learning rate is raised until the learning rates summed over the steps
equal the authors' (:data:`AUTHORS_LR_SUM`, about 703; a peak of about 2.8
at the default scale): then the summed lam of a ``ws_lr`` is the authors'
too. With the authors' 0.1 in 600 steps the plain FC network stayed at
chance (test accuracy 0.11, measured once before this choice; the choice
was made for the plain network, before any weight-sharing run). ``--scale
paper`` uses the authors' widths 32/64, lr 0.1, 200 epochs and about the
authors' number of steps (32 shifts per training digit: 67 steps per epoch,
13,400 steps), on a CUDA device with the prox there (``wsprox.torch`` on CUDA
tensors).

The claims, with verdicts as measured (never tuned): on shuffled pixels FC
with weight sharing beats plain FC and the CNN; the CNN needs the original
pixel order; the FC networks are invariant to the order; weight sharing
learns local filters. A claim is judged at the swept ``ws_lr`` whose summed
lam of ``fc1`` is nearest (in ratio) to the authors' (``1e-3`` times the sum
of their learning rates over about 14,000 cosine steps from 0.1, about 0.7);
"partial" when it holds only at other strengths of the sweep.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass

import numpy as np

from ._common import Report, plt, progress, save_png, write_csv, write_json

NAME = "shuffled_pixels"
SHOWS = ("Net_2FC with and without weight sharing against Net_2CNN on shifted 8x8 digits on a 12x12 torus, "
         "shuffled pixels, the authors' protocol: accuracy vs strength, filters, distinct fraction")

SIDE = 12
POSITIONS = SIDE * SIDE
MODELS = ("FC", "FC+WS", "CNN")
PIXELS = ("original", "shuffled")
LAYERS = ("fc1", "fc2")


def cosine_lr_sum(lr, epochs, steps_per_epoch):
    """Sum of the learning rates of every step: cosine from ``lr`` over ``epochs``, stepped per epoch."""
    return lr * steps_per_epoch * sum((1 + math.cos(math.pi * e / epochs)) / 2 for e in range(epochs))


#: The authors' learning rates summed over their steps: 0.1, cosine over 200 epochs of
#: 36,000 images (60% of MNIST's training set) in batches of 512 with drop_last (70 steps).
AUTHORS_LR_SUM = cosine_lr_sum(0.1, 200, 36_000 // 512)
#: The authors' summed lam of fc1: their ws_lr 1e-3 times :data:`AUTHORS_LR_SUM` (about 0.70).
AUTHORS_SUMMED_LAM = 1e-3 * AUTHORS_LR_SUM


@dataclass(frozen=True)
class Config:
    """One scale of the experiment."""

    c1: int = 2                       # channels of fc1 (fc1 has 144 * c1 units)
    c2: int = 4                       # channels of fc2
    epochs: int = 50
    train_copies: int = 5             # random shifts per training digit
    test_copies: int = 2              # random shifts per test digit
    ws_lrs: tuple = (1e-4, 3e-4, 1e-3, 2e-3, 3e-3)   # fc1's strength; fc2 gets a tenth
    seeds: tuple = (0, 1)
    lr: float | None = None           # peak lr; None: the authors' summed lr (AUTHORS_LR_SUM) in our steps
    batch: int = 512
    dropout: float = 0.4
    device: str = "cpu"


SCALES = {
    "quick": Config(c1=1, c2=2, epochs=6, train_copies=2, test_copies=1, ws_lrs=(1e-3, 3e-3), lr=1.0),
    "default": Config(),
    "paper": Config(c1=32, c2=64, epochs=200, train_copies=32, test_copies=4, lr=0.1, device="cuda"),
}


def torus_digits(config, seed=0):
    """Shifted digits ``(X_train, y_train, X_test, y_test)``; X float32 of shape (n, 144), normalised.

    The first 60% of each class train, the rest test; every copy of a digit
    is rolled by its own uniformly random circular shift.
    """
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    images = images.reshape(-1, 8, 8).astype(np.float32) / 16.0
    train = np.zeros(len(labels), dtype=bool)
    for c in range(10):
        members = np.flatnonzero(labels == c)
        train[members[:int(0.6 * len(members))]] = True
    rng = np.random.default_rng(seed)

    def shifted(which, copies):
        which = np.tile(np.flatnonzero(which), copies)
        canvas = np.zeros((which.size, SIDE, SIDE), dtype=np.float32)
        canvas[:, :8, :8] = images[which]
        for k, (a, b) in enumerate(rng.integers(0, SIDE, size=(which.size, 2))):
            canvas[k] = np.roll(canvas[k], (a, b), axis=(0, 1))
        return canvas.reshape(which.size, POSITIONS), labels[which]

    X_train, y_train = shifted(train, config.train_copies)
    X_test, y_test = shifted(~train, config.test_copies)
    mean, std = X_train.mean(), X_train.std()
    return (X_train - mean) / std, y_train, (X_test - mean) / std, y_test


def build(model, config):
    """``Net_2FC`` (``"FC"``, ``"FC+WS"``) or ``Net_2CNN`` (``"CNN"``), input (n, 144)."""
    from torch import nn

    c1, c2, p = config.c1, config.c2, config.dropout

    class Net2FC(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(POSITIONS, POSITIONS * c1)
            self.fc2 = nn.Linear(POSITIONS * c1, POSITIONS * c2)
            self.body1 = nn.Sequential(nn.BatchNorm1d(POSITIONS * c1), nn.ReLU(), nn.Dropout(p))
            self.body2 = nn.Sequential(nn.BatchNorm1d(POSITIONS * c2), nn.ReLU(), nn.Dropout(p))
            self.head = nn.Linear(c2, 10)

        def forward(self, x):
            x = self.body2(self.fc2(self.body1(self.fc1(x))))
            return self.head(x.view(-1, c2, POSITIONS).mean(-1))

    if model == "CNN":
        def conv(a, b):
            return [nn.Conv2d(a, b, 3, padding=1, padding_mode="circular"), nn.BatchNorm2d(b), nn.ReLU()]
        return nn.Sequential(nn.Unflatten(1, (1, SIDE, SIDE)), *conv(1, c1), *conv(c1, c2),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c2, 10))
    if model in ("FC", "FC+WS"):
        return Net2FC()
    raise ValueError(f"unknown model {model!r}; choose from {', '.join(MODELS)}")


@contextlib.contextmanager
def reproducible(n=1, *, device="cpu"):
    """``n`` torch and Numba threads, whatever the machine has, and torch's deterministic algorithms
    (on the CPU; on a GPU they would need cuBLAS settings, so there they only warn).

    The same thread count splits every reduction the same way, so a run gives
    the same numbers on any machine with the same instruction set (another
    CPU's vector width may still change the last bits, and training amplifies
    them: compare runs by their mean and spread over seeds).
    """
    import numba
    import torch

    before = torch.get_num_threads(), numba.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(n)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    torch.use_deterministic_algorithms(True, warn_only=device != "cpu")
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])
        torch.use_deterministic_algorithms(before[2])


def distinct_fraction(tensor):
    """Distinct values of ``tensor`` over its size."""
    from wsprox.torch import sharing_stats

    return sharing_stats(tensor.detach()).n_distinct / tensor.numel()


def locality(filters, window=3):
    r"""Mean share of a filter's energy inside its best ``window`` x ``window`` torus patch.

    ``filters`` (units, 144) in the original pixel order. Each filter loses its
    median first (the value most of its weights share after the prox), then
    the score of a filter is :math:`\max_p \sum_{q \in \text{patch}(p)} f_q^2
    / \sum_q f_q^2`, averaged over the filters with energy. 1 for a filter
    supported on one patch; ``window**2 / 144`` for a flat one.
    """
    f = np.asarray(filters, dtype=np.float64).reshape(-1, SIDE, SIDE)
    f = f - np.median(f.reshape(len(f), -1), axis=1)[:, None, None]
    energy = f**2
    patch = sum(np.roll(energy, (a, b), axis=(1, 2)) for a in range(window) for b in range(window))
    total = energy.sum(axis=(1, 2))
    keep = total > 0
    return float((patch.reshape(len(f), -1).max(axis=1)[keep] / total[keep]).mean()) if keep.any() else 0.0


def random_locality(units, seed=0):
    """:func:`locality` of ``units`` i.i.d. Gaussian filters: the score of no locality at all."""
    return locality(np.random.default_rng(seed).normal(size=(units, POSITIONS)))


def scattered_locality(filters, seed=0):
    """:func:`locality` of ``filters`` with each filter's pixels randomly permuted.

    The same values, placed at random: the score that sparsity alone gives
    (a filter with few weights off its median scores high wherever they are).
    """
    return locality(np.random.default_rng(seed).permuted(np.asarray(filters), axis=1))


def _proxes(net, ws_lr, opt):
    from wsprox.torch import WeightSharingProx

    groups = [{"params": [layer.weight, layer.bias], "strength": s}
              for layer, s in ((net.fc1, ws_lr), (net.fc2, ws_lr / 10))]
    return WeightSharingProx(groups, ws_lr, optimizer=opt)


def train(model, X, y, config, *, ws_lr=0.0, seed=0, init=None, steps=None, desc="train"):
    """Train one network on (X, y); return it and its record.

    ``init``: a state dict to start from instead of the seed's; ``steps``: stop
    after that many steps (the invariance check). The record holds the summed
    lam per proxed layer, the prox's share of the step time and, for the FC
    networks, the distinct fractions of fc1 and fc2 after every epoch.
    """
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    net = build(model, config).to(config.device)
    if init is not None:
        net.load_state_dict(init)
    per_epoch = len(X) // config.batch
    lr = config.lr or AUTHORS_LR_SUM / cosine_lr_sum(1.0, config.epochs, per_epoch)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.0, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)
    wsp = _proxes(net, ws_lr, opt) if model == "FC+WS" else None
    X = torch.from_numpy(X).to(config.device)
    y = torch.from_numpy(y).to(config.device)
    gen = torch.Generator().manual_seed(seed)
    cuda = config.device.startswith("cuda")
    lr_sum, step_time, prox_time, done = 0.0, 0.0, 0.0, 0
    history = {layer: [] for layer in LAYERS} if model != "CNN" else {}
    net.train()
    for _ in progress(range(config.epochs), desc):
        order = torch.randperm(len(X), generator=gen).to(config.device)
        for batch in order[:len(X) // config.batch * config.batch].split(config.batch):   # drop_last
            start = time.perf_counter()
            opt.zero_grad()
            F.cross_entropy(net(X[batch]), y[batch]).backward()
            opt.step()
            if cuda:
                torch.cuda.synchronize()
            middle = time.perf_counter()
            if wsp is not None:
                wsp.step()
                if cuda:
                    torch.cuda.synchronize()
            end = time.perf_counter()
            step_time += end - start
            prox_time += end - middle
            lr_sum += opt.param_groups[0]["lr"]
            done += 1
            if steps is not None and done == steps:
                return net, {}
        schedule.step()
        for layer, values in history.items():
            values.append(distinct_fraction(getattr(net, layer).weight))
    net.eval()
    summed = ({"fc1": ws_lr * lr_sum, "fc2": ws_lr / 10 * lr_sum} if wsp is not None
              else {"fc1": 0.0, "fc2": 0.0})
    return net, {"peak_lr": lr, "summed_lam": summed, "prox_share": prox_time / step_time if step_time else 0.0,
                 "steps": done, "history": history}


def accuracy(net, X, y, device="cpu"):
    import torch

    with torch.no_grad():
        out = torch.cat([net(torch.from_numpy(chunk).to(device)).argmax(1).cpu()
                         for chunk in np.array_split(X, max(1, len(X) // 2048))])
    return float((out.numpy() == y).mean())


def invariance_check(X, y, perm, config, steps=3):
    """Max |output difference| of Net_2FC+WS trained on shuffled pixels vs original pixels from the permuted init.

    The first layer's columns are permuted (``W'[:, perm^-1] = W``), so that
    ``W' x = W x[perm]``; both are trained ``steps`` steps with the prox, in
    double precision, with the same batches and dropout masks.
    """
    import torch

    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(0)
        init = build("FC+WS", config).state_dict()
        permuted = {k: v.clone() for k, v in init.items()}
        permuted["fc1.weight"] = torch.empty_like(init["fc1.weight"])
        permuted["fc1.weight"][:, perm] = init["fc1.weight"]
        Xs = X[:, perm].astype(np.float64)
        kwargs = {"ws_lr": 3e-2, "seed": 0, "steps": steps}
        a, _ = train("FC+WS", Xs, y, config, init=init, desc="invariance, shuffled", **kwargs)
        b, _ = train("FC+WS", X.astype(np.float64), y, config, init=permuted, desc="invariance, original",
                     **kwargs)
        a.eval()
        b.eval()
        with torch.no_grad():
            test = torch.from_numpy(X[:256].astype(np.float64))
            diff = float((a(test[:, perm]) - b(test)).abs().max())
            scale = float(b(test).abs().max())
    finally:
        torch.set_default_dtype(torch.float32)
    return diff, scale


def run(config):
    """Every run of the experiment: rows of :data:`runs`, first-layer filters, histories, the check."""
    X_train, y_train, X_test, y_test = torus_digits(config)
    perm = np.random.default_rng(12345).permutation(POSITIONS)
    check = invariance_check(X_train[:4 * config.batch], y_train[:4 * config.batch], perm,
                             Config(**{**asdict(config), "device": "cpu", "c1": 1, "c2": 2, "lr": 0.1}))
    plan = [("CNN", pixels, 0.0, seed) for pixels in PIXELS for seed in config.seeds]
    plan += [("FC", "shuffled", 0.0, seed) for seed in config.seeds]
    plan += [("FC+WS", "shuffled", ws_lr, seed) for ws_lr in config.ws_lrs for seed in config.seeds]
    rows, filters, histories = [], {}, {}
    for model, pixels, ws_lr, seed in progress(plan, "shuffled_pixels runs", leave=True):
        cols = perm if pixels == "shuffled" else np.arange(POSITIONS)
        Xtr, Xte = np.ascontiguousarray(X_train[:, cols]), np.ascontiguousarray(X_test[:, cols])
        net, record = train(model, Xtr, y_train, config, ws_lr=ws_lr, seed=seed,
                            desc=f"{model} {pixels} ws_lr={ws_lr:g} seed={seed}")
        row = {"model": model, "pixels": pixels, "ws_lr": ws_lr, "seed": seed,
               "test_accuracy": accuracy(net, Xte, y_test, config.device),
               "train_accuracy": accuracy(net, Xtr, y_train, config.device),
               "peak_lr": record["peak_lr"], "summed_lam": record["summed_lam"], "steps": record["steps"],
               "prox_share": record["prox_share"]}
        if model != "CNN":
            W = net.fc1.weight.detach().cpu().numpy()
            unshuffled = np.empty_like(W)
            unshuffled[:, cols] = W       # input j is original pixel cols[j]
            row["distinct_fraction"] = {layer: h[-1] for layer, h in record["history"].items()}
            row["locality"] = locality(unshuffled)
            row["locality_scattered"] = scattered_locality(unshuffled, seed)
            filters[ws_lr, seed] = unshuffled
            histories[ws_lr, seed] = record["history"]
        rows.append(row)
    return rows, filters, histories, check


def _mean(rows, **match):
    values = [r["test_accuracy"] for r in rows if all(r[k] == v for k, v in match.items())]
    return float(np.mean(values)), float(np.ptp(values)) if len(values) > 1 else 0.0


def matched_ws_lr(rows):
    """The swept ws_lr whose summed lam of fc1 is nearest (in ratio) to the authors'."""
    swept = {r["ws_lr"]: r["summed_lam"]["fc1"] for r in rows if r["model"] == "FC+WS"}
    return min(swept, key=lambda w: abs(math.log(swept[w] / AUTHORS_SUMMED_LAM)))


def claims(rows, check, random_score):
    """The paper's claims on the runs, each with a verdict and its evidence."""
    matched = matched_ws_lr(rows)
    swept = sorted({r["ws_lr"] for r in rows if r["model"] == "FC+WS"})
    ws = {w: _mean(rows, model="FC+WS", ws_lr=w) for w in swept}
    fc, cnn_s, cnn_o = (_mean(rows, model="FC"), _mean(rows, model="CNN", pixels="shuffled"),
                        _mean(rows, model="CNN", pixels="original"))
    loc = {w: float(np.mean([r["locality"] for r in rows if r["model"] == "FC+WS" and r["ws_lr"] == w]))
           for w in swept}
    scattered = {w: float(np.mean([r["locality_scattered"] for r in rows
                                   if r["model"] == "FC+WS" and r["ws_lr"] == w])) for w in swept}
    loc_fc = float(np.mean([r["locality"] for r in rows if r["model"] == "FC"]))

    def beats(a, b):
        # a mean beats b mean by more than both seed ranges
        return a[0] - b[0] > max(a[1], b[1])

    def verdict(holds_at):
        if matched in holds_at:
            return "reproduced"
        return "partial" if holds_at else "not reproduced"

    sweep_text = ", ".join(f"{w:g}: {ws[w][0]:.3f}" for w in swept)
    out = []
    for name, other in (("FC", fc), ("CNN", cnn_s)):
        holds = [w for w in swept if beats(ws[w], other)]
        out.append({"claim": f"shuffled pixels: FC with weight sharing beats {name}", "verdict": verdict(holds),
                    "evidence": f"{name} {other[0]:.3f} (seed range {other[1]:.3f}); FC+WS by ws_lr {sweep_text}; "
                                f"judged at ws_lr {matched:g} (summed lam nearest the authors' "
                                f"{AUTHORS_SUMMED_LAM:.2f}); holds at {holds or 'none'}"})
    out.append({"claim": "the CNN needs the original pixel order (original beats shuffled)",
                "verdict": "reproduced" if beats(cnn_o, cnn_s) else "not reproduced",
                "evidence": f"CNN original {cnn_o[0]:.3f}, shuffled {cnn_s[0]:.3f} (seed ranges "
                            f"{cnn_o[1]:.3f}, {cnn_s[1]:.3f})"})
    diff, scale = check
    out.append({"claim": "the FC network (with the prox) is invariant to the pixel order",
                "verdict": "reproduced" if diff <= 1e-9 * max(scale, 1.0) else "not reproduced",
                "evidence": f"same init permuted, 3 proximal steps in float64 on both orders: max abs output "
                            f"difference {diff:.2e} (outputs up to {scale:.2f})"})
    holds = [w for w in swept if loc[w] > max(loc_fc, random_score, scattered[w]) + 0.05]
    out.append({"claim": "weight sharing learns local first-layer filters", "verdict": verdict(holds),
                "evidence": "locality (energy share of the best 3x3 patch): random filters "
                            f"{random_score:.3f}, FC {loc_fc:.3f}, FC+WS by ws_lr "
                            + ", ".join(f"{w:g}: {loc[w]:.3f} (scattered {scattered[w]:.3f})" for w in swept)
                            + f"; holds (> max(FC, random, scattered) + 0.05) at {holds or 'none'}"})
    return out


def runs_table(rows):
    """The runs as flat rows (one per run, rounded) for a CSV table."""
    table = []
    for r in rows:
        distinct = r.get("distinct_fraction", {})
        table.append({"model": r["model"], "pixels": r["pixels"], "ws_lr": f"{r['ws_lr']:g}", "seed": r["seed"],
                      "test": f"{r['test_accuracy']:.3f}", "train": f"{r['train_accuracy']:.3f}",
                      "summed lam fc1": f"{r['summed_lam']['fc1']:.3g}",
                      "distinct fc1": f"{distinct['fc1']:.4f}" if distinct else "",
                      "distinct fc2": f"{distinct['fc2']:.4f}" if distinct else "",
                      "locality": f"{r['locality']:.3f}" if "locality" in r else "",
                      "prox share": f"{r['prox_share']:.2f}"})
    return table


def write_tables(rows, found, out_dir, report):
    """``shuffled_pixels_runs.csv`` and ``shuffled_pixels_claims.csv``."""
    write_csv(runs_table(rows), out_dir, f"{NAME}_runs", report)
    write_csv(found, out_dir, f"{NAME}_claims", report)


def _figures(rows, filters, histories, config, random_score, out_dir, report):
    swept = sorted({r["ws_lr"] for r in rows if r["model"] == "FC+WS"})
    fig, (ax, ax_loc) = plt.subplots(1, 2, figsize=(11, 4))
    lam = [float(np.mean([r["summed_lam"]["fc1"] for r in rows if r["model"] == "FC+WS" and r["ws_lr"] == w]))
           for w in swept]
    for key, label in (("test_accuracy", "test"), ("train_accuracy", "train")):
        mean = [np.mean([r[key] for r in rows if r["model"] == "FC+WS" and r["ws_lr"] == w]) for w in swept]
        ax.plot(lam, mean, "o-" if label == "test" else "o:", color="C0", label=f"FC+WS, {label}")
    for (model, pixels), colour in ((("FC", "shuffled"), "C1"), (("CNN", "shuffled"), "C2"),
                                    (("CNN", "original"), "C3")):
        ax.axhline(_mean(rows, model=model, pixels=pixels)[0], color=colour, label=f"{model}, {pixels}, test")
    for a in (ax, ax_loc):
        a.axvline(AUTHORS_SUMMED_LAM, color="grey", ls="--", lw=1, label="authors' summed lam")
        a.set_xscale("log")
        a.set_xlabel("summed lam of fc1, sum of ws_lr * lr over the steps")
    ax.set(ylabel="accuracy (mean of seeds)", ylim=(0, 1.02), title="shuffled pixels (CNN: both orders)")
    ax.legend(fontsize=7)
    ax_loc.plot(lam, [np.mean([r["locality"] for r in rows if r["model"] == "FC+WS" and r["ws_lr"] == w])
                      for w in swept], "o-", color="C0", label="FC+WS")
    ax_loc.plot(lam, [np.mean([r["locality_scattered"] for r in rows if r["model"] == "FC+WS" and r["ws_lr"] == w])
                      for w in swept], "x:", color="C0", label="FC+WS, pixels scattered")
    ax_loc.axhline(np.mean([r["locality"] for r in rows if r["model"] == "FC"]), color="C1", label="FC")
    ax_loc.axhline(random_score, color="k", ls=":", label="random filters")
    ax_loc.set(ylabel="locality of fc1 filters (3x3 energy share)", ylim=(0, 1), title="first-layer locality")
    ax_loc.legend(fontsize=7)
    save_png(fig, out_dir, NAME, report, dpi=80)

    # Fixed units (not selected): evenly spaced over fc1, seed 0, every strength.
    keys = [(w, config.seeds[0]) for w in (0.0, *swept)]
    units = np.linspace(0, POSITIONS * config.c1 - 1, 8).astype(int)
    fig, axes = plt.subplots(len(keys), len(units), figsize=(1.3 * len(units) + 1, 1.35 * len(keys)),
                             squeeze=False)
    for row, key in zip(axes, keys):
        W = filters[key][units]
        # centred on the row's median (the value most weights share after the prox), so that
        # the weights off the shared value show; the colour bar gives the values
        centre = float(np.median(W))
        scale = float(np.abs(W - centre).max()) or 1.0
        for ax, f in zip(row, W):
            image = ax.imshow(f.reshape(SIDE, SIDE), cmap="RdBu_r", vmin=centre - scale, vmax=centre + scale)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel("FC" if key[0] == 0 else f"ws_lr\n{key[0]:g}", fontsize=11, rotation=0,
                          ha="right", va="center", labelpad=6)
        fig.colorbar(image, ax=list(row), fraction=0.02, pad=0.01)
    fig.suptitle(f"fc1 units {', '.join(map(str, units))} (fixed, not selected), seed {config.seeds[0]}, "
                 "trained on shuffled pixels, shown un-shuffled; colours centred on each row's median",
                 fontsize=9, y=0.93)
    save_png(fig, out_dir, f"{NAME}_filters", report, dpi=80)

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, layer in zip(axes, LAYERS):
        for k, w in enumerate((0.0, *swept)):
            h = histories[w, config.seeds[0]][layer]
            ax.plot(np.arange(1, len(h) + 1), h, color=plt.cm.viridis(k / len(swept)),
                    label="FC" if w == 0 else f"ws_lr {w:g}")
        ax.set(xlabel="epoch", ylabel=f"distinct {layer} weights / size", yscale="log",
               title=f"{layer}, seed {config.seeds[0]}")
    axes[1].legend(fontsize=7)
    save_png(fig, out_dir, f"{NAME}_distinct", report, dpi=80)


def make(out_dir, *, quick=False, scale=None):
    """Run the experiment at ``scale`` (a key of :data:`SCALES`; ``quick`` picks ``"quick"``)."""
    report = Report(NAME, SHOWS)
    scale = scale or ("quick" if quick else "default")
    config = SCALES[scale]
    threads = 2 if config.device == "cpu" and scale == "default" else 1
    with reproducible(threads if config.device == "cpu" else 16, device=config.device):
        rows, filters, histories, check = run(config)
    random_score = random_locality(POSITIONS * config.c1)
    found = claims(rows, check, random_score)
    _figures(rows, filters, histories, config, random_score, out_dir, report)
    write_tables(rows, found, out_dir, report)
    write_json({"scale": scale, "config": asdict(config), "authors_summed_lam_fc1": AUTHORS_SUMMED_LAM,
                "random_locality": random_score,
                "invariance": {"max_difference": check[0], "output_scale": check[1]},
                "runs": rows, "claims": found,
                "distinct_fraction_per_epoch": {f"ws_lr={w:g}, seed={s}": h for (w, s), h in histories.items()}},
               out_dir, NAME, report)
    for r in rows:
        extra = (f" distinct fc1 {r['distinct_fraction']['fc1']:.4f} fc2 {r['distinct_fraction']['fc2']:.4f}"
                 f" locality {r['locality']:.3f}" if "locality" in r else "")
        report.lines.append(f"{r['model']:>5} {r['pixels']:>8} ws_lr {r['ws_lr']:<7g} seed {r['seed']}: "
                            f"test {r['test_accuracy']:.3f} train {r['train_accuracy']:.3f} "
                            f"summed lam fc1 {r['summed_lam']['fc1']:.3g} prox share {r['prox_share']:.2f}"
                            + extra)
    report.lines.append(f"random filters' locality {random_score:.3f}")
    report.lines += [f"claim: {c['claim']}: {c['verdict']} ({c['evidence']})" for c in found]
    return report

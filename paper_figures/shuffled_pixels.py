r"""Figure 4, shuffled pixels: weight sharing learns convolution-like filters.

The paper's main experiment at CPU scale. Scikit-learn's 8x8 digits (shipped
inside the package, nothing downloaded) are placed on a 12x12 torus and
moved by random circular shifts, the paper's MNIST-on-a-torus setup; test
digits are images never seen in training, at fresh random shifts. A fixed
random permutation shuffles the pixels. Three models are trained on the
original and on the shuffled pixels, with the same seeds:

* ``FC``: a fully connected network, 144 -> hidden -> 10, ReLU, SGD;
* ``FC + weight sharing``: the same, with
  :class:`wsprox.torch.WeightSharingProx` after every optimizer step
  (proximal SGD on ``loss + strength * R(W)`` for the first layer's weights
  and biases, each as one vector);
* ``CNN``: two circular 3x3 convolutions and a global max pool: translation
  equivariant by construction on the original pixels, but its locality prior
  is wrong once the pixels are shuffled.

The paper's claims, checked and recorded with their verdicts: on shuffled
pixels the FC network with weight sharing beats both the plain FC network
and the CNN; the CNN does well on the original pixels only; the FC networks
do not care about the pixel order (an FC layer does not know where pixels
are). The figure also shows the first-layer filters, un-shuffled for
viewing (local, translated blobs are the paper's picture), and the fraction
of distinct first-layer weights during training, and a strength sweep on
the shuffled pixels (test accuracy and distinct weights against the
strength; 0 is the plain FC network), so the trade-off is visible rather
than one hand-picked strength.
"""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, replace

import numpy as np

from ._common import Report, plt, progress, save_png, write_csv, write_json

NAME = "shuffled_pixels"
SHOWS = ("test accuracy of FC, FC + WeightSharingProx and CNN on shifted 8x8 digits on a 12x12 torus, "
         "original vs shuffled pixels; first-layer filters un-shuffled; distinct weights over training")

SIDE = 12
MODELS = ("FC", "FC + weight sharing", "CNN")
PIXELS = ("original", "shuffled")


@dataclass(frozen=True)
class Config:
    """Sizes of one run of the experiment."""

    hidden: int = 576          # 4 "channels" of a 12x12 torus
    channels: int = 32         # CNN channels
    epochs: int = 40
    train_copies: int = 2      # random shifts per training digit
    test_copies: int = 3       # random shifts per test digit
    n_test_digits: int = 360
    strength: float = 5e-3     # WeightSharingProx strength (lam = strength * lr)
    sweep: tuple = (1e-3, 2e-3)  # further strengths tried on the shuffled pixels
    lr: float = 0.05
    batch: int = 64
    seed: int = 0


FULL = Config()
QUICK = Config(hidden=256, channels=8, epochs=15, train_copies=1, test_copies=1, lr=0.1, sweep=(1e-3,))


def torus_digits(config):
    """Shifted digits: ``(X_train, y_train, X_test, y_test)``, X of shape (n, 144), float32.

    Each 8x8 digit is put in the corner of a 12x12 zero image and rolled by a
    uniformly random circular shift (a translation on the torus); train and
    test use disjoint digits.
    """
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    images = images.reshape(-1, 8, 8) / 16.0
    rng = np.random.default_rng(config.seed)
    idx = rng.permutation(len(images))
    test, train = idx[:config.n_test_digits], idx[config.n_test_digits:]

    def shifted(which, copies):
        canvas = np.zeros((copies * which.size, SIDE, SIDE), dtype=np.float32)
        shifts = rng.integers(0, SIDE, size=(canvas.shape[0], 2))
        for k, (i, s) in enumerate(zip(np.tile(which, copies), shifts)):
            canvas[k, :8, :8] = images[i]
            canvas[k] = np.roll(canvas[k], tuple(s), axis=(0, 1))
        return canvas.reshape(len(canvas), -1), np.tile(labels[which], copies)

    return (*shifted(train, config.train_copies), *shifted(test, config.test_copies))


def build(model, config):
    """The network ``model`` (one of :data:`MODELS`), input (n, 144)."""
    from torch import nn

    if model == "CNN":
        c = config.channels
        return nn.Sequential(
            nn.Unflatten(1, (1, SIDE, SIDE)),
            nn.Conv2d(1, c, 3, padding=1, padding_mode="circular"), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1, padding_mode="circular"), nn.ReLU(),
            nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c, 10),
        )
    return nn.Sequential(nn.Linear(SIDE * SIDE, config.hidden), nn.ReLU(), nn.Linear(config.hidden, 10))


@contextlib.contextmanager
def few_threads():
    """One torch and one Numba thread: small models on a shared 2-core machine."""
    import numba
    import torch

    before = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])


def distinct_fraction(tensor):
    """Distinct values of ``tensor`` over its size."""
    from wsprox.torch import sharing_stats

    return sharing_stats(tensor.detach()).n_distinct / tensor.numel()


def train(model, X, y, config, *, desc="train"):
    """Train ``model`` (a name of :data:`MODELS`); return the network and per-epoch history."""
    import torch
    import torch.nn.functional as F

    from wsprox.torch import WeightSharingProx

    torch.manual_seed(config.seed)
    net = build(model, config)
    opt = torch.optim.SGD(net.parameters(), lr=config.lr, momentum=0.9)
    first = net[0] if model != "CNN" else None
    wsp = (WeightSharingProx([first.weight, first.bias], config.strength, optimizer=opt)
           if model == "FC + weight sharing" else None)
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(config.seed)
    history = []
    for epoch in progress(range(config.epochs), desc):
        for batch in torch.randperm(len(X), generator=gen).split(config.batch):
            opt.zero_grad()
            F.cross_entropy(net(X[batch]), y[batch]).backward()
            opt.step()
            if wsp is not None:
                wsp.step()
        if first is not None:
            history.append(distinct_fraction(first.weight))
    return net, history


def accuracy(net, X, y):
    import torch

    with torch.no_grad():
        return float((net(torch.from_numpy(X)).argmax(1).numpy() == y).mean())


def run(config):
    """Train every model on both pixel orders, and the strength sweep on the shuffled ones.

    Returns the accuracy table (rows), the first layers un-shuffled, the
    distinct-weight histories, and the sweep (rows of strength, accuracy and
    final fraction of distinct weights; strength 0 is the plain FC network).
    """
    X_train, y_train, X_test, y_test = torus_digits(config)
    perm = np.random.default_rng(config.seed + 1).permutation(SIDE * SIDE)
    results, filters, histories = [], {}, {}
    with few_threads():
        for pixels in PIXELS:
            cols = perm if pixels == "shuffled" else np.arange(SIDE * SIDE)
            Xtr, Xte = np.ascontiguousarray(X_train[:, cols]), np.ascontiguousarray(X_test[:, cols])
            for model in MODELS:
                net, history = train(model, Xtr, y_train, config, desc=f"{model}, {pixels}")
                row = {"model": model, "pixels": pixels,
                       "test_accuracy": accuracy(net, Xte, y_test),
                       "train_accuracy": accuracy(net, Xtr, y_train)}
                if model != "CNN":
                    W = net[0].weight.detach().numpy()
                    unshuffled = np.empty_like(W)
                    unshuffled[:, cols] = W   # input j of the FC net is original pixel cols[j]
                    filters[(model, pixels)] = unshuffled
                    histories[(model, pixels)] = history
                    row["distinct_weight_fraction"] = history[-1]
                results.append(row)
        sweep = [{"strength": 0.0 if r["model"] == "FC" else config.strength,
                  "test_accuracy": r["test_accuracy"], "distinct_weight_fraction": r["distinct_weight_fraction"]}
                 for r in results if r["pixels"] == "shuffled" and r["model"] != "CNN"]
        for strength in config.sweep:
            net, history = train("FC + weight sharing", Xtr, y_train, replace(config, strength=strength),
                                 desc=f"sweep: strength {strength:g}")
            sweep.append({"strength": strength, "test_accuracy": accuracy(net, Xte, y_test),
                          "distinct_weight_fraction": history[-1]})
    return results, filters, histories, sorted(sweep, key=lambda r: r["strength"])


def claims(results):
    """The paper's claims on the accuracy table, each with its verdict."""
    acc = {(r["model"], r["pixels"]): r["test_accuracy"] for r in results}
    return {
        "shuffled: FC + weight sharing beats FC":
            acc["FC + weight sharing", "shuffled"] > acc["FC", "shuffled"],
        "shuffled: FC + weight sharing beats CNN":
            acc["FC + weight sharing", "shuffled"] > acc["CNN", "shuffled"],
        "CNN: original pixels beat shuffled pixels": acc["CNN", "original"] > acc["CNN", "shuffled"],
    }


def accuracy_table(results):
    """The accuracy table as text: models by rows, pixel orders by columns."""
    acc = {(r["model"], r["pixels"]): r["test_accuracy"] for r in results}
    lines = [f"{'test accuracy':<22}" + "".join(f"{p:>10}" for p in PIXELS)]
    lines += [f"{m:<22}" + "".join(f"{acc[m, p]:>10.3f}" for p in PIXELS) for m in MODELS]
    return lines


def make(out_dir, *, quick=False):
    report = Report(NAME, SHOWS)
    config = QUICK if quick else FULL
    results, filters, histories, sweep = run(config)

    fig, (ax_acc, ax_hist, ax_sweep) = plt.subplots(1, 3, figsize=(17, 4.2))
    width = 0.38
    for k, pixels in enumerate(PIXELS):
        accs = [next(r["test_accuracy"] for r in results if r["model"] == m and r["pixels"] == pixels)
                for m in MODELS]
        ax_acc.bar(np.arange(len(MODELS)) + (k - 0.5) * width, accs, width, label=f"{pixels} pixels")
    ax_acc.set_xticks(np.arange(len(MODELS)), MODELS)
    ax_acc.set(ylabel="test accuracy (shifted, unseen digits)", ylim=(0, 1),
               title="8x8 digits on a 12x12 torus, random circular shifts")
    ax_acc.legend()
    for (model, pixels), history in histories.items():
        ax_hist.plot(np.arange(1, len(history) + 1), history, label=f"{model}, {pixels}")
    ax_hist.set(xlabel="epoch", ylabel="distinct first-layer weights / size", ylim=(0, 1.05),
                title="weight sharing during training")
    ax_hist.legend(fontsize=8)
    strengths = [r["strength"] for r in sweep]
    ax_sweep.plot(strengths, [r["test_accuracy"] for r in sweep], "o-", label="test accuracy")
    ax_sweep.plot(strengths, [r["distinct_weight_fraction"] for r in sweep], "s--",
                  label="distinct first-layer weights / size")
    ax_sweep.set(xlabel="strength (0: plain FC)", ylim=(0, 1.05), title="FC + weight sharing, shuffled pixels")
    ax_sweep.legend(fontsize=8)
    save_png(fig, out_dir, NAME, report)

    shown = [key for key in filters if key[1] == "shuffled"]
    n = 8
    fig, axes = plt.subplots(len(shown), n, figsize=(1.4 * n, 1.6 * len(shown)), squeeze=False)
    for row, key in zip(axes, shown):
        W = filters[key]
        strongest = np.argsort(-np.abs(W).sum(axis=1))[:n]
        for ax, unit in zip(row, strongest):
            f = W[unit].reshape(SIDE, SIDE)
            ax.imshow(f, cmap="RdBu_r", vmin=-np.abs(f).max(), vmax=np.abs(f).max())
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(f"{key[0]}\n(trained shuffled)", fontsize=8)
    fig.suptitle("first-layer filters of the FC nets trained on shuffled pixels, un-shuffled for viewing")
    save_png(fig, out_dir, f"{NAME}_filters", report)

    write_csv(results, out_dir, NAME, report)
    write_csv(sweep, out_dir, f"{NAME}_strength", report)
    write_json({"config": asdict(config),
                "results": results, "claims": claims(results), "strength_sweep": sweep,
                "distinct_fraction_per_epoch": {f"{m}, {p}": h for (m, p), h in histories.items()}},
               out_dir, NAME, report)
    report.lines += accuracy_table(results)
    report.lines += [f"claim {c}: {'holds' if v else 'does NOT hold'}" for c, v in claims(results).items()]
    report.lines.append("strength sweep, shuffled pixels (strength: test accuracy, distinct fraction): " + "; ".join(
        f"{r['strength']:g}: {r['test_accuracy']:.3f}, {r['distinct_weight_fraction']:.3f}" for r in sweep))
    return report

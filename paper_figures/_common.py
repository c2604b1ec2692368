"""What every figure shares: the Agg backend, writing files, the report."""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

__all__ = ["Report", "plt", "progress", "save_png", "write_csv", "write_json"]


@dataclass
class Report:
    """What a figure wrote and what it found, for the printed summary."""

    name: str
    shows: str
    files: list = field(default_factory=list)
    lines: list = field(default_factory=list)


def save_png(fig, out_dir, name, report, *, dpi=120):
    path = Path(out_dir) / f"{name}.png"
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    report.files.append(str(path))


def write_csv(rows, out_dir, name, report):
    """Write a list of dicts (one per row, same keys) as CSV."""
    path = Path(out_dir) / f"{name}.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report.files.append(str(path))


def write_json(data, out_dir, name, report):
    path = Path(out_dir) / f"{name}.json"
    with open(path, "w") as f:
        json.dump(data, f, indent=1, default=_plain)
    report.files.append(str(path))


def _plain(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def progress(iterable, desc, *, leave=False, **kwargs):
    """A tqdm bar that disappears when done (quiet when ``PAPER_FIGURES_QUIET`` is set)."""
    from tqdm.auto import tqdm

    disable = bool(os.environ.get("PAPER_FIGURES_QUIET"))
    return tqdm(iterable, desc=desc, leave=leave, disable=disable, **kwargs)

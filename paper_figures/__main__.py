"""``python -m paper_figures [--quick | --scale {quick,default,paper}] [--out DIR] [--only NAME ...]``."""
import argparse
import inspect
import sys
import time
from pathlib import Path

from wsprox.cpu.parallel import passive_openmp

from . import FIGURES, figure
from ._common import progress

DEFAULT_OUT = Path(__file__).resolve().parent / "out"


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m paper_figures",
        description="Regenerate the figures of the weight-sharing paper and check its claims.",
    )
    parser.add_argument("--quick", action="store_true", help="small versions (minutes, for CI); --scale quick")
    parser.add_argument("--scale", choices=("quick", "default", "paper"), default=None,
                        help="quick: as --quick; default: the full CPU versions; paper: the authors' sizes "
                             "where a figure has them (shuffled_pixels: a CUDA GPU, hours), the full CPU "
                             "versions elsewhere")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--only", action="append", choices=FIGURES, metavar="NAME",
                        help=f"make only this figure (repeatable): {', '.join(FIGURES)}")
    args = parser.parse_args(argv)
    if args.quick and args.scale not in (None, "quick"):
        parser.error(f"--quick contradicts --scale {args.scale}")
    scale = "quick" if args.quick else args.scale or "default"
    quick = scale == "quick"
    passive_openmp()            # the runtime figure times the CPU prox
    args.out.mkdir(parents=True, exist_ok=True)

    names = args.only or list(FIGURES)
    reports = []
    bar = progress(names, "paper figures", leave=True)
    for name in bar:
        bar.set_postfix_str(name)
        start = time.perf_counter()
        make = figure(name).make
        options = {"scale": scale} if "scale" in inspect.signature(make).parameters else {}
        report = make(args.out, quick=quick, **options)
        report.lines.append(f"made in {time.perf_counter() - start:.1f} s")
        reports.append(report)

    print(f"\npaper figures ({scale} scale) in {args.out}:")
    for report in reports:
        print(f"\n[{report.name}] {report.shows}")
        for path in report.files:
            print(f"  {path}")
        for line in report.lines:
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

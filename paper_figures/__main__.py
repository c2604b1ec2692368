"""``python -m paper_figures [--quick] [--out DIR] [--only NAME ...]``."""
import argparse
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
    parser.add_argument("--quick", action="store_true", help="small versions (minutes, for CI)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--only", action="append", choices=FIGURES, metavar="NAME",
                        help=f"make only this figure (repeatable): {', '.join(FIGURES)}")
    args = parser.parse_args(argv)
    passive_openmp()            # the runtime figure times the CPU prox
    args.out.mkdir(parents=True, exist_ok=True)

    names = args.only or list(FIGURES)
    reports = []
    bar = progress(names, "paper figures", leave=True)
    for name in bar:
        bar.set_postfix_str(name)
        start = time.perf_counter()
        report = figure(name).make(args.out, quick=args.quick)
        report.lines.append(f"made in {time.perf_counter() - start:.1f} s")
        reports.append(report)

    mode = "quick" if args.quick else "full"
    print(f"\npaper figures ({mode} mode) in {args.out}:")
    for report in reports:
        print(f"\n[{report.name}] {report.shows}")
        for path in report.files:
            print(f"  {path}")
        for line in report.lines:
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

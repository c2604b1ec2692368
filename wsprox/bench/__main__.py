"""``python -m wsprox.bench``: the benchmark of the prox (see :mod:`wsprox.bench`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

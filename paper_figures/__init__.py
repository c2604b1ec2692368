"""Regenerate the figures of the weight-sharing paper and check its claims.

``python -m paper_figures`` writes, into ``paper_figures/out/``, one PNG per
figure and the numbers behind it (CSV and/or JSON), and prints a summary;
``--quick`` makes small versions (CI runs it), ``--only NAME`` one figure.

===================  ========================================================
``particles``        exact trajectories of a dozen weights under the prox
``runtime``          seconds versus ``d`` for every method, numpy.sort, SciPy
``rounds``           parallel rounds versus ``d`` of the collision algorithms
``shuffled_pixels``  FC + weight sharing versus FC versus CNN, shuffled pixels
``sharing``          distinct weights and penalty of a trained layer vs lam
===================  ========================================================

Every figure module has ``NAME``, ``SHOWS`` (one line) and
``make(out_dir, *, quick) -> Report`` (files written, lines to print).
"""
import importlib

#: The figures, in the order ``python -m paper_figures`` makes them.
FIGURES = ("particles", "runtime", "rounds", "shuffled_pixels", "sharing")


def figure(name):
    """The module of figure ``name`` (imported on demand: torch only when needed)."""
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; choose from {', '.join(FIGURES)}")
    return importlib.import_module(f"{__name__}.{name}")


__all__ = ["FIGURES", "figure"]

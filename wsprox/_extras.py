"""The optional dependencies, and the error that says how to install one.

wsprox installs with NumPy, SciPy and Numba; each integration needs an extra
(``pyproject.toml`` names them for what they enable). Importing an
integration without its extra raises a :class:`ModuleNotFoundError` that names
the extra and the command that installs it from a checkout of the
repository (the package is not on an index).
"""
from __future__ import annotations

import importlib

__all__ = ["EXTRAS", "install_hint", "require"]

#: ``{extra: what it enables}``: every optional dependency group of the project.
EXTRAS = {
    "torch": "wsprox.torch (PyTorch)",
    "jax": "wsprox.jax (JAX, jaxopt)",
    "cuda": "the CUDA backend, backend='cuda' (numba-cuda)",
    "sklearn": "wsprox.linear_model (scikit-learn)",
    "dask": "wsprox.dask (Dask)",
    "reference": "wsprox.reference.prox_cvxpy (cvxpy, SCS)",
    "figures": "python -m paper_figures (matplotlib, scikit-learn, PyTorch)",
    "test": "the test suite",
    "docs": "the documentation",
    "dev": "all of them, with ruff and build",
}


def install_hint(extra: str) -> str:
    """The command that installs ``extra``, run in a checkout of the repository.

    Examples
    --------
    >>> install_hint("cuda")
    'install the "cuda" extra: pip install -e ".[cuda]" in the wsprox checkout'
    """
    return f'install the "{extra}" extra: pip install -e ".[{extra}]" in the wsprox checkout'


def require(module: str, *, extra: str, feature: str):
    """Import ``module``, or raise a ModuleNotFoundError naming ``extra``.

    Parameters
    ----------
    module : str
        The module to import (``"torch"``, ``"numba_cuda"``, ...).
    extra : str
        The extra of wsprox that installs it.
    feature : str
        What needs it, as the user asked for it (``"wsprox.torch"``).

    Examples
    --------
    >>> require("numpy", extra="test", feature="the tests").__name__
    'numpy'
    >>> require("no_such_module", extra="torch", feature="wsprox.torch")   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ModuleNotFoundError: wsprox.torch needs no_such_module, which is not installed; install the "torch" extra: ...
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name is None or not (module == err.name or module.startswith(err.name + ".")):
            raise                                        # installed, but something it imports is not
        raise ModuleNotFoundError(f"{feature} needs {module}, which is not installed; {install_hint(extra)}",
                                  name=module) from None

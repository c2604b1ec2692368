"""wsprox: the exact proximal operator of weight-sharing regularization.

The penalty :math:`R(w) = \\frac{1}{d-1}\\sum_{i>j}|w_i - w_j|` of
Shakerinava, Sohrabi, Ravanbakhsh and Lacoste-Julien (AISTATS 2024) pulls
weights together until they share values; its prox is the collision of
particles and an isotonic regression after a sort.
"""
from ._prox import ProxResult, prox, prox_result
from .certificate import OptimalityCertificate, check_optimality
from .core.workspace import release_workspace
from .regularizer import penalty, subgradient
from .warm import ProxState

# The one place the version is written: pyproject.toml reads it ([tool.setuptools.dynamic]).
__version__ = "0.1.0"

__all__ = [
    "OptimalityCertificate",
    "ProxResult",
    "ProxState",
    "check_optimality",
    "penalty",
    "prox",
    "prox_result",
    "release_workspace",
    "subgradient",
]

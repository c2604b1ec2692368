"""Sphinx configuration of the wsprox documentation.

Build (offline, warnings as errors)::

    pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html

The built pages need no network either: MathJax is served from the build
(``sphinx-mathjax-offline``, in the ``docs`` extra), and a build whose pages
load a script or stylesheet from the network fails (``_offline.py``).

Links into the NumPy, SciPy and Python documentation (intersphinx) need the
network, so they are opt-in: set ``WSPROX_DOCS_INTERSPHINX=1``.
"""
import importlib.util
import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # build from a checkout without installing
sys.path.insert(0, str(DOCS))  # the _offline and _results helpers below

from _offline import warn_about_network_assets
from _results import write_result_includes

import wsprox

project = "wsprox"
author = "wsprox developers"
copyright = "2024-2026, wsprox developers"
version = release = wsprox.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax 3 copied into _static/mathjax/ of the build, instead of a CDN.
    "sphinx-mathjax-offline",
    "numpydoc",
    "matplotlib.sphinxext.plot_directive",
]
if os.environ.get("WSPROX_DOCS_INTERSPHINX"):
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "torch": ("https://pytorch.org/docs/stable", None),
    }

templates_path = ["_templates"]
exclude_patterns = ["_build", "_generated", "results", "Thumbs.db", ".DS_Store"]
default_role = "math"

# API pages: one generated page per public function and class.
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"
autodoc_member_order = "bysource"
# Optional dependencies of documented modules (wsprox.torch, the CUDA backend):
# the real ones when installed, stand-ins otherwise, so the `docs` extra alone builds.
autodoc_mock_imports = [m for m in ("torch", "cupy", "jax", "jaxopt") if importlib.util.find_spec(m) is None]
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# Figures drawn at build time by `.. plot::` (matplotlib's plot directive).
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_rcparams = {"figure.autolayout": True}

html_theme = "pydata_sphinx_theme"
html_title = f"wsprox {release}"
html_theme_options = {
    "navigation_with_keys": False,
    # The top bar in one row down to the width where it folds into a menu (960 px),
    # with _static/wsprox.css: the links start beside the project name, five of them,
    # the rest under "More", and the search field is a button (Ctrl+K still opens it).
    "navbar_align": "left",
    "header_links_before_dropdown": 5,
    "navbar_persistent": ["search-button"],
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
# The left sidebar lists the pages below the current top-level page: only the
# API reference has any, elsewhere it would be an empty column.
html_sidebars = {"*": [], "api": ["sidebar-nav-bs"], "api/**": ["sidebar-nav-bs"]}
html_static_path = ["_static"]
html_css_files = ["wsprox.css"]
html_last_updated_fmt = None


def _skip_metadata_requests(app, what, name, obj, skip, options):
    # scikit-learn generates set_fit_request/set_score_request/... on every
    # estimator (metadata routing): not wsprox's API, and their docstrings are
    # not valid reST.
    return True if name.startswith("set_") and name.endswith("_request") else None


def setup(app):
    # Benchmark tables and paper figures are included when their files exist
    # under docs/results/; otherwise the pages say how to produce them.
    app.connect("builder-inited", lambda app: write_result_includes(DOCS))
    app.connect("autodoc-skip-member", _skip_metadata_requests)
    app.connect("build-finished", warn_about_network_assets)

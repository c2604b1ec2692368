"""Every ``>>>`` example of the documentation pages (``docs/*.rst``) runs and gives its output.

Docstring examples are run by pytest's ``--doctest-modules`` over ``wsprox/``;
this test does the same for the prose pages, so that the docs cannot rot.
Examples of upcoming features are written as plain code blocks (no ``>>>``)
and are not run here; a page whose examples import an optional library
(PyTorch, JAX) is skipped where it is not installed. And every name in the
API reference has a runnable Examples section in its docstring.

The built HTML must work offline: a small page built with the documentation's
configuration (``docs/conf.py``) loads no script or stylesheet from the
network, and its math is rendered by a MathJax that the build ships.
"""
import doctest
import importlib
import inspect
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import wsprox

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(DOCS.glob("*.rst"))
# Pages whose examples are the point of the page: they must have some.
MUST_HAVE_EXAMPLES = {"getting_started.rst", "user_guide.rst", "theory.rst"}


def test_pages_found():
    assert MUST_HAVE_EXAMPLES <= {page.name for page in PAGES}


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_page_examples(page):
    for module in ("torch", "jax"):
        if re.search(rf"^\s*>>> import .*\b{module}\b", page.read_text(), re.MULTILINE):
            pytest.importorskip(module)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testfile(str(page), module_relative=False, optionflags=flags, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {page.name} failed"
    if page.name in MUST_HAVE_EXAMPLES:
        assert result.attempted > 0


def _api_names():
    """The entries of the autosummary tables of docs/api.rst."""
    names, inside = [], False
    for line in (DOCS / "api.rst").read_text().splitlines():
        if line.startswith(".. autosummary::"):
            inside = True
        elif inside and line.strip() and not line.startswith("   "):
            inside = False
        elif inside and line.strip() and not line.strip().startswith(":"):
            names.append(line.strip())
    return names


def _resolve(name):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and not name.startswith(exc.name) and exc.name.split(".")[0] != "wsprox":
            pytest.skip(f"{name} needs {exc.name}, not installed")
        module, _, attr = name.rpartition(".")
        return getattr(importlib.import_module(module), attr)


def _public_objects(module):
    names = getattr(module, "__all__", None) or [
        n for n, obj in vars(module).items()
        if not n.startswith("_") and getattr(obj, "__module__", None) == module.__name__
        and (inspect.isfunction(obj) or inspect.isclass(obj))
    ]
    return {f"{module.__name__}.{n}": getattr(module, n) for n in names}


def test_api_page_lists_the_package_api():
    listed = set(_api_names())
    assert {f"wsprox.{name}" for name in wsprox.__all__} <= listed


#: Modules whose internals the API page documents for contributors: their functions need
#: no example (an example is there where it teaches, not to fill a rule).
INTERNALS = ("wsprox.core", "wsprox.cpu", "wsprox.cuda", "wsprox.bench")


@pytest.mark.parametrize("name", [n for n in _api_names() if not n.startswith(INTERNALS)])
def test_every_user_facing_name_has_an_example(name):
    obj = _resolve(name)
    objects = _public_objects(obj) if inspect.ismodule(obj) else {name: obj}
    assert objects, f"{name} documents nothing"
    # Functions and classes of wsprox itself: data (registries, constants) and
    # names re-exported from Numba are documented where they are defined.
    objects = {n: o for n, o in objects.items()
               if (inspect.isfunction(o) or inspect.isclass(o))
               and (getattr(o, "__module__", "") or "").startswith("wsprox")}
    missing = [n for n, o in objects.items()
               if not re.search(r"^\s*Examples\n\s*-+\n(.*\n)*?\s*>>> ", inspect.getdoc(o) or "", re.MULTILINE)]
    assert not missing, f"no runnable Examples section in the docstring of {', '.join(missing)}"


# -- The built pages work offline ---------------------------------------------------------

OFFLINE_PAGE = r"""
Offline check
=============

Inline math :math:`R(w) = \frac{1}{d-1} \sum_{i > j} |w_i - w_j|` and a display:

.. math::

   \operatorname{prox}_{\lambda R}(w) = \arg\min_x \tfrac12 \|x - w\|^2 + \lambda R(x).
"""
NETWORK = ("http://", "https://", "//")


class _ScriptsAndLinks(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []  # (tag, url)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        url = attrs.get("src") if tag == "script" else attrs.get("href") if tag == "link" else None
        if url:
            self.urls.append((tag, url))


def _scripts_and_links(page):
    parser = _ScriptsAndLinks()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.urls


@pytest.fixture(scope="module")
def offline_build(tmp_path_factory):
    """A one-page HTML build with docs/conf.py (its extensions, theme and checks), as in CI:
    warnings are errors."""
    for module in ("sphinx", "pydata_sphinx_theme", "numpydoc", "matplotlib"):
        pytest.importorskip(module)  # the `docs` extra
    root = tmp_path_factory.mktemp("docs_offline")
    (root / "src").mkdir()
    (root / "src" / "index.rst").write_text(OFFLINE_PAGE)
    out = root / "html"
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
           "-c", str(DOCS), "-d", str(root / "doctrees"), str(root / "src"), str(out)]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (
        "the docs build failed (is the `docs` extra installed? pip install -e \".[docs]\")\n"
        + proc.stdout[-3000:] + proc.stderr[-3000:])
    return out


def test_built_pages_load_nothing_from_the_network(offline_build):
    pages = sorted(offline_build.glob("*.html"))
    assert offline_build / "index.html" in pages
    remote = [f"{page.name}: <{tag}> {url}" for page in pages
              for tag, url in _scripts_and_links(page) if url.lower().startswith(NETWORK)]
    assert not remote, "built pages load from the network:\n" + "\n".join(remote)


def test_math_is_rendered_by_a_mathjax_the_build_ships(offline_build):
    page = offline_build / "index.html"
    mathjax = [url for tag, url in _scripts_and_links(page) if tag == "script" and "mathjax" in url.lower()]
    assert mathjax, "the page with math loads no MathJax"
    for url in mathjax:
        assert not url.lower().startswith(NETWORK)
        assert (page.parent / url.split("?")[0]).is_file(), f"{url} is not in the build"
    assert r"\frac{1}{d-1}" in page.read_text(encoding="utf-8")  # the TeX, left for MathJax


def test_docs_build_flags_network_assets(tmp_path):
    """The check that docs/conf.py runs at the end of every build (a warning, an error under
    -W) finds scripts and stylesheets from the network, and local ones the build lacks."""
    pytest.importorskip("sphinx")
    sys.path.insert(0, str(DOCS))
    try:
        from _offline import asset_problems
    finally:
        sys.path.remove(str(DOCS))
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "here.js").write_text("")
    (tmp_path / "_static" / "template.html").write_text('<script src="https://example.org/x.js"></script>')
    (tmp_path / "ok.html").write_text(
        '<link rel="stylesheet" href="_static/here.js?digest=1"><script src="_static/here.js"></script>'
        '<link rel="next" href="elsewhere.html">')
    (tmp_path / "bad.html").write_text(
        '<script src="https://cdn.example.org/mathjax.js"></script>'
        '<link rel="stylesheet" href="//fonts.example.org/font.css">'
        '<link rel="stylesheet" href="HTTP://example.org/x.css">'
        '<script src="_static/missing.js"></script>')
    problems = asset_problems(tmp_path)
    assert {page for page, _ in problems} == {"bad.html"}
    assert len(problems) == 4

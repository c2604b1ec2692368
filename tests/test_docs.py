"""Every ``>>>`` example of the documentation pages (``docs/*.rst``) runs and gives its output.

Docstring examples are run by pytest's ``--doctest-modules`` over ``wsprox/``;
this test does the same for the prose pages, so that the docs cannot rot.
Examples of upcoming features are written as plain code blocks (no ``>>>``)
and are not run here; a page whose examples import an optional library
(PyTorch, JAX) is skipped where it is not installed. And every name in the
API reference has a runnable Examples section in its docstring.
"""
import doctest
import importlib
import inspect
import re
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


@pytest.mark.parametrize("name", _api_names())
def test_every_documented_name_has_an_example(name):
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

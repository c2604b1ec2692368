"""Every ``>>>`` example of the documentation pages (``docs/*.rst``) runs and gives its output.

Docstring examples are run by pytest's ``--doctest-modules`` over ``wsprox/``;
this test does the same for the prose pages, so that the docs cannot rot.
Examples of optional or upcoming features are written as plain code blocks
(no ``>>>``) and are not run here.
"""
import doctest
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(DOCS.glob("*.rst"))
# Pages whose examples are the point of the page: they must have some.
MUST_HAVE_EXAMPLES = {"getting_started.rst", "user_guide.rst", "theory.rst"}


def test_pages_found():
    assert MUST_HAVE_EXAMPLES <= {page.name for page in PAGES}


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_page_examples(page):
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testfile(str(page), module_relative=False, optionflags=flags, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {page.name} failed"
    if page.name in MUST_HAVE_EXAMPLES:
        assert result.attempted > 0

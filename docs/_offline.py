"""Check that the built HTML pages work without a network.

At the end of an HTML build, every page is read back and a warning (an error
under ``-W``) names each ``<script src=...>`` or ``<link href=...>`` that
points at the network (``http://``, ``https://`` or ``//``), and each local
script or stylesheet that the build did not write.
"""
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sphinx.util import logging

logger = logging.getLogger(__name__)

NETWORK_PREFIXES = ("http://", "https://", "//")
# <link rel=...> values whose target the browser loads with the page.
LOADED_RELS = {"stylesheet", "preload", "modulepreload", "icon", "shortcut"}


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = []  # (tag, url, loaded with the page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.found.append((tag, attrs["src"], True))
        elif tag == "link" and attrs.get("href"):
            rels = set((attrs.get("rel") or "").lower().split())
            self.found.append((tag, attrs["href"], bool(rels & LOADED_RELS)))


def page_assets(page):
    """The ``(tag, url, loaded)`` of every script and link element of an HTML file."""
    parser = _Assets()
    parser.feed(Path(page).read_text(encoding="utf-8"))
    return parser.found


def pages(outdir):
    """The HTML pages of a build: its ``.html`` files, less those under ``_static/`` and
    the like (the theme ships templates there)."""
    outdir = Path(outdir)
    return [page for page in sorted(outdir.rglob("*.html"))
            if not page.relative_to(outdir).parts[0].startswith("_")]


def asset_problems(outdir):
    """Every ``(page, problem)`` of the pages of the HTML build in ``outdir``."""
    outdir = Path(outdir)
    problems = []
    for page in pages(outdir):
        name = page.relative_to(outdir).as_posix()
        for tag, url, loaded in page_assets(page):
            if url.lower().startswith(NETWORK_PREFIXES):
                problems.append((name, f"<{tag}> loads {url} from the network"))
            elif loaded and not urlsplit(url).scheme:
                target = page.parent / unquote(urlsplit(url).path)
                if not target.is_file():
                    problems.append((name, f"<{tag}> loads {url}, which the build did not write"))
    return problems


def warn_about_network_assets(app, exc):
    """``build-finished`` handler: warn about every problem of :func:`asset_problems`."""
    if exc is not None or app.builder.format != "html":
        return
    for page, problem in asset_problems(app.outdir):
        logger.warning("%s: %s (the pages must work offline)", page, problem,
                       type="wsprox", subtype="offline")

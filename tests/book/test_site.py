"""The site builds with warnings as errors, at the smoke profile, and has what it should.

The build (one per test run, shared with test_browser.py) is the ``site`` fixture of
conftest.py. A build that fails makes every test here fail; nothing is skipped.
"""

from __future__ import annotations

import html
import inspect
import re

from conftest import KERNEL_NOTICE, ROOT, toc_docnames

ROOT_BOOK = ROOT / "book"
COLAB = "https://colab.research.google.com/github/nc-perturbation/executable-paper/blob/main/"


def _page(site, docname: str) -> str:
    path = site.html / f"{docname}.html"
    assert path.is_file(), f"{docname} was not built ({path} is missing)"
    return path.read_text(encoding="utf-8")


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _contains_words(haystack: str, needle: str) -> bool:
    """True when the words of ``needle`` appear, in order and adjacent, in ``haystack``."""
    return " " + " ".join(_words(needle)) + " " in " " + " ".join(_words(haystack)) + " "


def _text(page: str) -> str:
    """Visible text of an HTML page (tags dropped, entities decoded)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_build_log_has_no_warnings(site):
    warnings = [line for line in site.log.splitlines()
                if ("WARNING" in line or "ERROR" in line) and KERNEL_NOTICE not in line]
    assert not warnings, "the build logged warnings:\n" + "\n".join(warnings)


def test_every_toc_page_was_built(site):
    files = toc_docnames()
    assert "book/intro" in files
    missing = [f for f in files if not (site.html / f"{f}.html").is_file()]
    assert not missing, f"pages in _toc.yml with no HTML: {missing}"


def test_colab_link_points_to_the_notebook_on_main(site):
    assert COLAB + "book/02_background.ipynb" in _page(site, "book/02_background")


def test_api_page_shows_docstrings(site):
    import nclib.profiles

    doc = inspect.getdoc(nclib.profiles.current)
    doc = re.sub(r":\w+:(\w+:)?`~?([^`]*)`", r"\2", doc)  # :data:`X` renders as X
    assert _contains_words(_text(_page(site, "book/api")), doc), (
        "the docstring of nclib.profiles.current is not on the API page")


def test_intro_has_rendered_bibliography(site):
    page = _page(site, "book/intro")
    entries = re.findall(r'<div class="citation"[^>]*role="doc-biblioentry"[^>]*>(.*?)</div>',
                         page, flags=re.S)
    entries = [_text(e) for e in entries] or [_text(page)]
    assert any(_contains_words(e, "Perturbation analysis of neural collapse")
               and "Niles-Weed" in e for e in entries), "no bibliography entry for the paper"
    # The in-text citation is author-year.
    assert re.search(r"Tirer\s+<em>et al\.</em>|Tirer\s+et al\.", page)


def test_claims_ledger_lists_every_chapter_with_links_to_its_cells(site):
    """Each chapter that keeps a Ledger has its claims on the ledger page, each linked to a
    section label of that chapter, with a verdict at the smoke profile."""
    page = _page(site, "book/10_claims_ledger")
    links = re.findall(r'<a href="([0-9][\w]*)\.html#([a-z0-9-]+)">', page)
    assert links, "the ledger page has no linked claims"
    chapters = sorted({p.stem for p in ROOT_BOOK.glob("[0-9]*.md") if "Ledger(" in p.read_text(encoding="utf-8")})
    assert sorted({stem for stem, _ in links}) == chapters
    for stem, anchor in set(links):
        assert f"({anchor})=" in (ROOT_BOOK / f"{stem}.md").read_text(encoding="utf-8"), (
            f"the ledger links {stem}#{anchor}, which is not a label of {stem}.md")
    smoke_cells = re.findall(r"<tr><td>\d+</td><td><a [^>]*>.*?</a></td><td[^>]*>(.*?)</td>", page, flags=re.S)
    assert smoke_cells and not any("not run" in c for c in smoke_cells), "a chapter left no smoke verdict"

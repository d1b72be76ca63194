"""The site builds with warnings as errors, at the smoke profile, and has what it should.

The build (one per test run, shared with test_browser.py) is the ``site`` fixture of
conftest.py. A build that fails makes every test here fail; nothing is skipped.
"""

from __future__ import annotations

import html
import inspect
import re

import yaml

from conftest import KERNEL_NOTICE, ROOT, toc_docnames

ROOT_BOOK = ROOT / "book"
_CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
# Where a page's Colab launch link points: the repository and branch of _config.yml.
COLAB = "{}/github/{}/blob/{}/".format(_CONFIG["launch_buttons"]["colab_url"].rstrip("/"),
                                       _CONFIG["repository"]["url"].removeprefix("https://github.com/"),
                                       _CONFIG["repository"]["branch"])


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


def test_claims_ledger_links_each_claim_to_its_verdict_row(site):
    """Every chapter that keeps a Ledger has its claims on the ledger page; each claim links to
    an id on its chapter's page, and a claim the site's (smoke) build computed links to its own
    verdict row there (nclib.report.claim_id), not to a heading that many claims share."""
    from nclib import ledger, report

    page = _page(site, "book/10_claims_ledger")
    links = re.findall(r'<a href="([0-9][\w]*)\.html#([a-z0-9-]+)">(.*?)</a>', page)
    assert links, "the ledger page has no linked claims"
    chapters = sorted({p.stem for p in ROOT_BOOK.glob("[0-9]*.md") if "Ledger(" in p.read_text(encoding="utf-8")})
    assert sorted({stem for stem, _, _ in links}) == chapters
    ids = {stem: set(re.findall(r'\sid="([^"]+)"', _page(site, f"book/{stem}"))) for stem in chapters}
    missing = [f"{stem}#{anchor}" for stem, anchor, _ in links if anchor not in ids[stem]]
    assert not missing, f"ledger links to ids its chapters lack: {missing[:10]}"
    built = {(c["page"], c["claim"]): c["chapter"] for entry in ledger.load("smoke") for c in entry["claims"]}
    for stem, anchor, text in links:
        chapter = built.get((stem, html.unescape(re.sub(r"<[^>]+>", "", text))))  # numbers sit in nowrap spans
        assert chapter is None or anchor.startswith("claim-"), (
            f"{stem}#{anchor}: a claim the build computed links to a section, not to its verdict row")
    assert all(report.claim_id(c["chapter"], c["claim"], c["profile"]) in ids[c["page"]]
               for entry in ledger.rendered("smoke") for c in entry["claims"]), "a verdict row has no id"
    assert "<th>smoke</th>" not in page, "the ledger page has a smoke column, which is not evidence"


def test_intro_opens_with_the_findings(site):
    page = _page(site, "book/intro")
    text = " ".join(_text(page[page.index("<article"):page.index("</article>")]).split())
    assert "Findings at a glance" in text
    start = text.index("Findings at a glance")
    assert start < text.index("The paper in one paragraph"), "the findings do not open the introduction"
    assert re.search(r"small \d+ \d+ \d+ \d+ \d+", text), "no verdict counts for the small profile"
    assert "Erratum" in text and "Scales." in text


def test_notebook_download_is_the_executed_notebook(site):
    """The ".ipynb" download (``_sources/``) carries the outputs shown on the page."""
    import json

    for name in ("book/intro.ipynb", "book/06_weight_decay_cifar10.ipynb"):
        path = site.html / "_sources" / name
        assert path.is_file(), f"no download {path}"
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        assert any(cell.get("outputs") for cell in cells if cell["cell_type"] == "code"), (
            f"the download {name} is the notebook without outputs")


def test_colab_setup_cell_is_left_out_of_pages_and_search(site):
    """Each page's first cell (Colab only: clone the repository, install nclib; ``remove-cell``)
    is on no page and not in the search index, while the ".ipynb" download keeps it for Colab."""
    marks = ("google.colab", "os.path.isdir(clone)")
    download = (site.html / "_sources" / "book" / "02_background.ipynb").read_text(encoding="utf-8")
    assert all(mark.replace('"', '\\"') in download for mark in marks), "the download lost the Colab cell"
    shown = [d for d in toc_docnames() if any(mark in html.unescape(_page(site, d)) for mark in marks)]
    assert not shown, f"pages that show the Colab setup cell: {shown}"
    index = (site.html / "searchindex.js").read_text(encoding="utf-8")
    terms = re.search(r'"terms":\s*\{(.*?)\}', index, flags=re.S)
    assert terms and '"neural"' in terms.group(1), "searchindex.js has no terms"
    found = [word for word in ("isdir", "abspath") if f'"{word}"' in terms.group(1)]  # only that cell has them
    assert not found, f"the search index holds the Colab setup cell's words: {found}"


def test_no_print_to_pdf_button(site):
    """No page offers the theme's ".pdf" download, which opens the browser's print dialog: the only
    ``window.print()`` button is the theme's ``.btn-download-pdf-button``, which custom.css hides;
    the download of the page's notebook stays."""
    css = re.sub(r"/\*.*?\*/", "", (site.html / "_static" / "custom.css").read_text(encoding="utf-8"), flags=re.S)
    hiding = [selector for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", css)
              if ".btn-download-pdf-button" in selector and re.search(r"display:\s*none", body)]
    assert hiding, "custom.css does not hide .btn-download-pdf-button"
    for docname in toc_docnames():
        page = _page(site, docname)
        printing = [b for b in re.findall(r"<(?:button|a)\b[^>]*>", page) if "print(" in b]
        assert all(re.search(r'class="[^"]*\bbtn-download-pdf-button\b', b) for b in printing), (
            f"{docname}: a print button that custom.css does not hide: {printing}")
        if re.match(r"book/(\d+_|intro)", docname):
            assert f'href="../_sources/{docname}.ipynb"' in page, f"{docname} lost its .ipynb download"

"""The built site as readers see it: every page opened in headless Chromium.

Each page of _toc.yml is opened in the light and the dark theme and checked by
:func:`browser_checks.check_page` (JavaScript errors, failed requests, math typeset by the
site's own MathJax, images and figures, internal links and anchors, the Colab launch link of
each chapter, figure backgrounds); the other pages of the site (index, search, module
sources) in the light theme. Full-page screenshots of every chapter in both themes go to
``_build/screenshots/``. The first test proves that the checks catch a broken page.
"""

from __future__ import annotations

import re

import pytest

import browser_checks as checks
from conftest import SCREENSHOTS, toc_docnames

COLAB = "https://colab.research.google.com/github/nc-perturbation/executable-paper/blob/main/"
PAGES = toc_docnames()
THEMES = ["light", "dark"]
CHAPTER = re.compile(r"book/\d+_\w+")
REDIRECT = re.compile(r'http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', re.I)


@pytest.fixture(scope="session")
def contexts():
    """One browser context per theme; all pages of the session share them."""
    with checks.chromium() as browser:
        made = {theme: checks.new_context(browser, theme) for theme in THEMES}
        yield made
        for context in made.values():
            context.close()


@pytest.fixture(scope="session")
def server(site):
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    with checks.serve(site.html) as base:
        yield base


def _fail_message(name: str, report: checks.PageReport) -> str:
    return (f"{name} ({report.theme} theme): {len(report.problems)} problem(s):\n  "
            + "\n  ".join(report.problems))


def _tally(tally: dict, docname: str, report: checks.PageReport) -> None:
    tally["pages"] += 1
    tally["checks"] += report.checks
    for url in report.external_links:
        tally["external"].setdefault(url, set()).add(docname)


def test_checks_catch_a_broken_page(tmp_path, contexts):
    """A page with a missing image, raw and untypeset TeX, a dead link, a figure without alt
    text that is transparent on the dark background, and no Colab link: each is reported."""
    from PIL import Image, ImageDraw

    clear = Image.new("RGBA", (120, 60), (0, 0, 0, 0))  # transparent, black "text" on it
    ImageDraw.Draw(clear).text((10, 20), "NC1", fill=(0, 0, 0, 255))
    clear.save(tmp_path / "clear.png")
    (tmp_path / "index.html").write_text(
        "<!doctype html><html><head><script>document.documentElement.dataset.theme ="
        " localStorage.getItem('mode')</script><style>html[data-theme=dark] body"
        " {background: #121212; color: #eee}</style></head><body>"
        '<figure><img src="missing.png" alt="a plot"></figure>'
        "<p>The energy is $$x^2$$ and <span class='math'>\\(y\\)</span>.</p>"
        '<div class="cell_output"><img src="clear.png" alt="clear.png"></div>'
        '<a href="nowhere.html">dead</a> <a href="#nothing">no anchor</a>'
        "</body></html>", encoding="utf-8")
    colab = COLAB + "book/99_missing.ipynb"
    with checks.serve(tmp_path) as base:
        report = checks.check_page(contexts["dark"], base + "index.html", tmp_path, base,
                                   colab=colab)
    problems = "\n".join(report.problems)
    expected = ["broken image: missing.png", "failed request: " + base + "missing.png",
                "raw TeX ($$)", "raw TeX (\\( \\))", "MathJax did not start",
                "math not typeset", "broken link: nowhere.html", "broken anchor: #nothing",
                "figure without alt text or caption: clear.png",
                "figure clear.png has a dark background in the dark theme",
                "Colab launch link should be " + colab]
    missed = [what for what in expected if what not in problems]
    assert not missed, f"the checks missed {missed}; they reported:\n{problems}"
    # and nothing beyond these: a correct image in the light theme is not flagged
    assert "broken image: clear.png" not in problems


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("docname", PAGES)
def test_page(docname, theme, site, server, contexts, browser_tally):
    chapter = CHAPTER.fullmatch(docname) is not None
    report = checks.check_page(
        contexts[theme], f"{server}{docname}.html", site.html, server,
        colab=COLAB + f"{docname}.ipynb" if chapter else None,
        screenshot=SCREENSHOTS / f"{docname.rsplit('/', 1)[-1]}-{theme}.png" if chapter else None)
    _tally(browser_tally, docname, report)
    assert not report.problems, _fail_message(docname, report)
    if chapter:
        assert report.math > 0, f"{docname}: no typeset math at all"
        assert (SCREENSHOTS / f"{docname.rsplit('/', 1)[-1]}-{theme}.png").is_file()


def test_other_pages(site, server, contexts, browser_tally):
    """Index, search, module-source and redirect pages: light theme, same checks."""
    others = sorted(path for path in site.html.rglob("*.html")
                    if path.relative_to(site.html).parts[0] != "_static"
                    and path.relative_to(site.html).with_suffix("").as_posix() not in PAGES)
    assert others, "the site has no index or search page"
    failures = []
    for path in others:
        name = path.relative_to(site.html).as_posix()
        redirect = REDIRECT.search(path.read_text(encoding="utf-8"))
        if redirect:  # a meta refresh: its target must exist
            if not (path.parent / redirect.group(1)).is_file():
                failures.append(f"{name}: redirects to missing {redirect.group(1)}")
            continue
        report = checks.check_page(contexts["light"], server + name, site.html, server)
        _tally(browser_tally, name, report)
        if report.problems:
            failures.append(_fail_message(name, report))
    assert not failures, "\n".join(failures)

"""The built site as readers see it: every page opened in headless Chromium.

Each page of _toc.yml is opened in the light and the dark theme, at desktop size (1280 x 900)
and on a phone (390 x 844), and checked by :func:`browser_checks.check_page` (JavaScript
errors, failed requests, math typeset by the site's own MathJax, images and figures, internal
links and anchors, the Colab launch link of each chapter, figure backgrounds) and
:func:`browser_checks.check_layout` (nothing cut off, figure captions, link contrast, no
progress bars, warnings or machine paths, the phone's drawers open: checked once, in the light
theme); the other pages of the site (index, search, module sources) in the light theme at
desktop size. Full-page screenshots of every page of _toc.yml go to ``_build/screenshots/``: at
desktop size in both themes, on the phone in the light theme. The first tests prove that the checks catch broken pages, one rule at
a time.
"""

from __future__ import annotations

import re

import pytest

import browser_checks as checks
from conftest import SCREENSHOTS, toc_docnames
from test_site import COLAB  # the repository and branch of _config.yml

PAGES = toc_docnames()
THEMES = ["light", "dark"]
VIEWPORTS = list(checks.VIEWPORTS)
CHAPTER = re.compile(r"book/\d+_\w+")
REDIRECT = re.compile(r'http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', re.I)


@pytest.fixture(scope="session")
def contexts():
    """One browser context per theme and viewport, keyed ``(theme, viewport)``; all pages of the
    session share them."""
    with checks.chromium() as browser:
        made = {(theme, size): checks.new_context(browser, theme, size) for theme in THEMES for size in VIEWPORTS}
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
        report = checks.check_page(contexts["dark", "desktop"], base + "index.html", tmp_path, base,
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


# A page that passes check_layout at both sizes: a captioned figure, wrapped code and output, a
# legible link, a menu button and a page-contents button that open their drawers.
GOOD_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body {{font: 16px sans-serif; margin: 0; background: #fff; color: #222}}
pre {{white-space: pre-wrap}} .drawer {{display: none}} .drawer.open {{display: block; position: fixed;
top: 0; left: 0; width: 80%; height: 100%; background: #fff; z-index: 10}}
main {{max-width: 700px; margin: 0 auto; padding: 60px 8px}}</style></head><body>
<button class="primary-toggle" onclick="document.getElementById('nav').classList.add('open')">menu</button>
<button class="secondary-toggle" onclick="document.getElementById('toc').classList.add('open')">contents</button>
<div id="nav" class="bd-sidebar-primary drawer"><a href="#top">Chapter 1</a></div>
<div id="toc" class="bd-sidebar-secondary drawer"><a href="#top">Overview</a></div>
<main id="top"><p>Read <a href="#top" style="color: #0a4fa0">the overview</a>.</p>
<pre>print("a line of code long enough to wrap on a phone, which it does, since pre wraps here")</pre>
<div class="cell_output"><figure><img src="ok.png" alt="a plot"><figcaption>NC1 falls.</figcaption></figure></div>
{body}</main></body></html>"""

BAD = {  # rule -> (what is added to GOOD_PAGE, (viewport, problem it must raise))
    "pre cut off": ('<pre style="white-space: pre; overflow-x: auto">' + "x" * 300 + "</pre>",
                    ("desktop", "cut off at desktop size: pre")),
    "output cut off": ('<div class="cell_output" style="overflow-x: auto"><table><tr><td>'
                       + "y" * 300 + "</td></tr></table></div>", ("desktop", "cut off at desktop size: cell output")),
    "math cut off": ('<mjx-container display="true" style="display: block; overflow-x: auto">'
                     '<span style="display: inline-block; width: 900px">x + y</span></mjx-container>',
                     ("desktop", "cut off at desktop size: display math")),
    "figure without caption": ('<div class="cell_output"><img src="ok.png" alt="a plot"></div>',
                               ("desktop", "figure without a caption: ok.png")),
    "pale link": ('<p><a href="#top" style="color: #aaaaaa">a pale link</a></p>',
                  ("desktop", "link contrast below 4.5:1 in the light theme: \"a pale link\"")),
    "progress bar": ("<pre>runs: 100%|##########| 10/10 [00:04&lt;00:00,  2.41it/s]</pre>",
                     ("desktop", "progress-bar text in the page")),
    "printed warning": ('<div class="cell_output"><pre>TqdmWarning: IProgress not found.</pre></div>',
                        ("desktop", "a printed warning in the page")),
    "machine path": ("<p>saved to /work/main/results/small/run.json</p>",
                     ("desktop", "an absolute machine path in the page")),
    "no menu button": ('<style>.primary-toggle {display: none}</style>', ("phone", "no menu button on the phone")),
    "drawer stays shut": ("<script>document.querySelector('.primary-toggle').onclick = null</script>",
                          ("phone", "the menu button does not open the navigation drawer")),
    "contents stay shut": ("<script>document.querySelector('.secondary-toggle').onclick = null</script>",
                           ("phone", "the page-contents button does not open the page's contents")),
    "phone-only overflow": ('<pre style="white-space: pre; overflow-x: auto">' + "z" * 45 + "</pre>",
                            ("phone", "cut off at phone size: pre")),
}


@pytest.fixture(scope="module")
def bad_pages(tmp_path_factory):
    """GOOD_PAGE as good.html and one page per rule of BAD, served on 127.0.0.1."""
    from PIL import Image, ImageDraw

    folder = tmp_path_factory.mktemp("pages")
    image = Image.new("RGB", (160, 80), "white")
    ImageDraw.Draw(image).text((10, 30), "NC1", fill="black")
    image.save(folder / "ok.png")
    (folder / "good.html").write_text(GOOD_PAGE.format(body=""), encoding="utf-8")
    for i, (body, _) in enumerate(BAD.values()):
        (folder / f"bad{i}.html").write_text(GOOD_PAGE.format(body=body), encoding="utf-8")
    with checks.serve(folder) as base:
        yield folder, base


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_layout_checks_pass_a_good_page(viewport, bad_pages, contexts):
    folder, base = bad_pages
    report = checks.check_page(contexts["light", viewport], base + "good.html", folder, base,
                               viewport=viewport, full=False)
    assert not report.problems, _fail_message(f"good.html at {viewport} size", report)


@pytest.mark.parametrize("rule", list(BAD))
def test_layout_checks_catch_a_bad_page(rule, bad_pages, contexts):
    """Each rule of check_layout fires on a page that breaks it, and only that rule."""
    folder, base = bad_pages
    viewport, expected = BAD[rule][1]
    page = f"bad{list(BAD).index(rule)}.html"
    report = checks.check_page(contexts["light", viewport], base + page, folder, base,
                               viewport=viewport, full=False)
    assert any(expected in problem for problem in report.problems), (
        f"{rule}: expected a problem containing {expected!r}; got {report.problems}")
    assert len(report.problems) == 1, f"{rule}: other rules fired too: {report.problems}"


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("docname", PAGES)
def test_page(docname, theme, viewport, site, server, contexts, browser_tally):
    chapter = CHAPTER.fullmatch(docname) is not None
    # the phone's layout is the same in both themes: its screenshot and drawers in the light one
    once = viewport == "desktop" or theme == "light"
    shot = SCREENSHOTS / f"{docname.rsplit('/', 1)[-1]}-{theme}-{viewport}.png"
    report = checks.check_page(
        contexts[theme, viewport], f"{server}{docname}.html", site.html, server,
        colab=COLAB + f"{docname}.ipynb" if chapter else None, screenshot=shot if once else None,
        viewport=viewport, full=viewport == "desktop", drawers=once)
    _tally(browser_tally, docname, report)
    assert not report.problems, _fail_message(f"{docname} at {viewport} size", report)
    assert shot.is_file() or not once
    if chapter and viewport == "desktop":
        assert report.math > 0, f"{docname}: no typeset math at all"


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
        report = checks.check_page(contexts["light", "desktop"], server + name, site.html, server)
        _tally(browser_tally, name, report)
        if report.problems:
            failures.append(_fail_message(name, report))
    assert not failures, "\n".join(failures)

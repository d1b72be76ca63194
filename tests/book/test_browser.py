"""The built site as readers see it: every page opened in headless Chromium.

Each page of _toc.yml is opened in the light and the dark theme, at desktop size (1280 x 900)
and on a phone (390 x 844), and checked by :func:`browser_checks.check_page` (JavaScript
errors, failed requests, math typeset by the site's own MathJax, images and figures, internal
links and anchors, the Colab launch link of each chapter, figure backgrounds) and
:func:`browser_checks.check_layout` (nothing cut off, figure captions, link contrast, no
progress bars, warnings or machine paths, the phone's drawers open: checked once, in the light
theme); the other pages of the site (index, search, module sources) in the light theme at
desktop size. check_layout also checks, at both sizes, that no number in a table cell is broken
across lines, that figure text is legible at the size shown and that the page's contents list its
second- and third-level headings; and, on every chapter
(not the introduction or the API reference) an answer box right under the title. Full-page
screenshots of every page of _toc.yml go to ``_build/screenshots/``: at desktop size in both
themes, on the phone in the light theme. The first tests prove that the checks catch broken
pages, one rule at a time.
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


# A page that passes check_layout at both sizes: a chapter's title with its answer box right
# under it, captioned figures (PNG and SVG) shown at their natural size, wrapped code and output,
# a legible link, a table of numbers, second- and third-level headings all listed in the page's
# contents, a menu button and a page-contents button that open their drawers.
GOOD_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body {{font: 16px sans-serif; margin: 0; background: #fff; color: #222}}
pre {{white-space: pre-wrap}} .drawer {{display: none}} .drawer.open {{display: block; position: fixed;
top: 0; left: 0; width: 80%; height: 100%; background: #fff; z-index: 10}}
.page-toc ul ul {{display: none}} .page-toc ul ul.visible {{display: block}}
main {{max-width: 700px; margin: 0 auto; padding: 60px 8px}}</style></head><body>
<button class="primary-toggle" onclick="document.getElementById('nav').classList.add('open')">menu</button>
<button class="secondary-toggle" onclick="document.getElementById('toc').classList.add('open')">contents</button>
<div id="nav" class="bd-sidebar-primary drawer"><a href="#top">Chapter 1</a></div>
<div id="toc" class="bd-sidebar-secondary drawer"><nav class="page-toc"><ul><li><a href="#top">Overview</a></li>
<li><a href="#results">Results</a><ul class="visible"><li><a href="#per-class">Per class</a></li></ul></li>
</ul></nav></div>
<main id="top"><section id="chapter"><h1>1 A chapter</h1>
<div class="admonition nc-answer"><p>Does NC1 fall? Yes, by 0.685 in 3 epochs.</p></div>
<p>Read <a href="#top" style="color: #0a4fa0">the overview</a>.</p>
<pre>print("a line of code long enough to wrap on a phone, which it does, since pre wraps here")</pre>
<div class="cell_output"><figure><img src="ok.png" alt="a plot"><figcaption>NC1 falls.</figcaption></figure></div>
<section id="results"><h2>Results</h2>
<table><tr><th>run</th><th>NC1 at epoch 30</th></tr><tr><td>CIFAR-10, seed 0</td><td>0.685 &plusmn; 0.051</td></tr></table>
<section id="per-class"><h3>Per class</h3>
<div class="cell_output"><figure><img src="ok.svg" alt="a plot"><figcaption>Per class.</figcaption></figure></div>
</section></section>
{body}</section></main></body></html>"""

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
    "page wider than the phone": ('<p><code style="white-space: nowrap">' + "w" * 80 + "</code></p>",
                                  ("phone", "px wide at phone size, wider than the screen: code")),
    "number broken": ('<table style="width: 3em"><tr><td style="overflow-wrap: anywhere">0.0123456789'
                      "</td></tr></table>", ("desktop", 'numbers broken across lines in table cells at '
                                             'desktop size: #chapter "0.0123456789"')),
    "number broken on the phone": ('<table><tr><td style="overflow-wrap: anywhere">' + "1" * 60
                                   + "</td></tr></table>", ("phone", "numbers broken across lines in "
                                                            "table cells at phone size")),
    "figure text too small": ('<div class="cell_output"><figure><img src="ok.svg" alt="a plot" '
                              'style="width: 60px"><figcaption>Shrunk.</figcaption></figure></div>',
                              ("desktop", "figure text smaller than 11 px at desktop size: ok.svg")),
    "figure text too small on the phone": ('<div class="cell_output"><figure><img src="wide.png" '
                                           'alt="a plot" style="max-width: 100%"><figcaption>Wide.</figcaption></figure></div>',
                                           ("phone", "figure text smaller than 11 px at phone size: wide.png")),
    "contents too shallow": ("<style>.page-toc ul ul.visible {display: none}</style>",
                             ("desktop", 'the page\'s contents do not show 1 of its 2 headings at '
                                         'desktop size: h3 "Per class"')),
    "no page contents": ("<script>document.querySelector('nav.page-toc').remove()</script>",
                         ("desktop", "no page-contents list on a page with 2 headings")),
    "no answer box": ("<script>document.querySelector('.nc-answer').remove()</script>",
                      ("desktop", "no answer box (.nc-answer) under the chapter's title")),
    "answer box not first": ("<script>document.querySelector('#results')"
                             ".before(document.querySelector('.nc-answer'))</script>",
                             ("desktop", 'the answer box (.nc-answer) is not the first thing under the '
                                         'title: p "Read the overview."; pre')),
}


@pytest.fixture(scope="module")
def bad_pages(tmp_path_factory):
    """GOOD_PAGE as good.html and one page per rule of BAD, served on 127.0.0.1, with its
    figures: ok.png and ok.svg (160 px wide) and wide.png (900 px, shrunk to fit a phone)."""
    from PIL import Image, ImageDraw

    folder = tmp_path_factory.mktemp("pages")
    for name, width in (("ok.png", 160), ("wide.png", 900)):
        image = Image.new("RGB", (width, 80), "white")
        ImageDraw.Draw(image).text((10, 30), "NC1", fill="black")
        image.save(folder / name)
    (folder / "ok.svg").write_text(  # 120 pt = 160 CSS px wide, as matplotlib sizes its SVG
        '<svg xmlns="http://www.w3.org/2000/svg" width="120pt" height="60pt" viewBox="0 0 120 60">'
        '<rect width="120" height="60" fill="white"/><text x="10" y="35" font-size="10">NC1</text>'
        "</svg>", encoding="utf-8")
    (folder / "good.html").write_text(GOOD_PAGE.format(body=""), encoding="utf-8")
    for i, (body, _) in enumerate(BAD.values()):
        (folder / f"bad{i}.html").write_text(GOOD_PAGE.format(body=body), encoding="utf-8")
    with checks.serve(folder) as base:
        yield folder, base


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_layout_checks_pass_a_good_page(viewport, bad_pages, contexts):
    folder, base = bad_pages
    report = checks.check_page(contexts["light", viewport], base + "good.html", folder, base,
                               viewport=viewport, full=False, answer=True)
    assert not report.problems, _fail_message(f"good.html at {viewport} size", report)
    assert report.wrapped_numbers == 0


@pytest.mark.parametrize("rule", list(BAD))
def test_layout_checks_catch_a_bad_page(rule, bad_pages, contexts):
    """Each rule of check_layout fires on a page that breaks it, and only that rule."""
    folder, base = bad_pages
    viewport, expected = BAD[rule][1]
    page = f"bad{list(BAD).index(rule)}.html"
    report = checks.check_page(contexts["light", viewport], base + page, folder, base,
                               viewport=viewport, full=False, answer=True)
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
        viewport=viewport, full=viewport == "desktop", drawers=once,
        answer=chapter)
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

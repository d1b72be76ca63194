"""What a reader of the built site sees, checked in headless Chromium.

Reusable pieces: :func:`serve` (a static file server on 127.0.0.1), :func:`chromium`
(Debian's ``/usr/bin/chromium`` driven by playwright), :func:`new_context` (a browser context
in the light or dark theme that lets only local requests through) and :func:`check_page`,
which opens one page and returns a :class:`PageReport` listing every problem found:

- JavaScript errors, and requests to the local server that failed or returned >= 400;
- math: every ``.math`` element typeset by MathJax into an ``mjx-container``, no TeX error
  (``merror``), no raw ``$$``, ``\\(``, ``\\[`` or ``$\\cmd ...$`` left in the visible text;
- images: loaded with a non-zero natural size; figures (images in cell outputs or
  ``<figure>``) carry real alt text (not the file name myst-nb puts there) or a caption;
- links: every internal link resolves to a file and every ``#anchor`` to an id in it;
  external links are collected, never fetched; ``data:`` downloads decode;
- the Colab launch link, when one is expected;
- theme: the page is in the requested theme, and the background of every figure, as
  rendered, is light (so dark text in figures stays legible in the dark theme).

:func:`check_layout` checks what a reader sees at one viewport (:data:`VIEWPORTS`: desktop
1280 x 900, phone 390 x 844), in either theme:

- nothing is cut off: no ``pre``, cell output or display-math element whose content is wider
  than the element (``scrollWidth > clientWidth``);
- every figure (an image in a cell output or a ``<figure>``) has a caption;
- every visible link's text contrasts with its background by at least 4.5:1 (WCAG AA);
- no progress-bar text ("it/s"), warning printed by a cell, or absolute machine path;
- the page is no wider than the screen: nothing outside a box that scrolls sideways on its own
  reaches past its right edge;
- no number in a table cell is broken across lines (each number's text, as a DOM Range, lies
  on one line box);
- figure text is legible at the size shown: an image of a cell output is a matplotlib figure
  whose smallest text (:func:`figure_text`, read from ``nclib.plotting.BOOK_STYLE``) measures
  ``pt * (96 for SVG, else the dpi) / 72`` CSS px at the image's natural size and that times
  ``clientWidth / naturalWidth`` as shown: at least :data:`MIN_FIGURE_TEXT_PX`;
- the page's contents ("On this page") display a link to every visible second- and third-level
  heading (``h2``, ``h3``) of the page: the top-level sections and the ones below them;
- with ``answer``, on a chapter: an answer box (``.nc-answer``) right under the title: after
  the ``h1`` nothing visible (section, heading, paragraph, table, figure, cell, ...) comes before
  it (checked at desktop size: it is the same at every size);
- on the phone, the menu button opens the navigation drawer and the page-contents button
  opens the page's contents.
"""

from __future__ import annotations

import base64
import functools
import http.server
import io
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
MIN_CONTRAST = 4.5  # WCAG 2 AA, normal text
# Progress-bar rates, warnings printed by a cell, and absolute paths of a machine.
PROGRESS = re.compile(r"\d\s*(?:it/s|s/it)\b")
WARNING = re.compile(r"\b\w*Warning: ")
# (system-wide data such as /usr/share/... is a documented location, not a machine's path)
MACHINE_PATH = re.compile(r"(?<![\w.:/~-])/(?:home|tmp|work|root|Users|usr(?!/share/)|opt|var|srv|mnt|private)/[\w.@+-]+"
                          r"|\b[A-Z]:\\[\w.-]+")
TIMEOUT_MS = 30_000
# A figure's border, as rendered, must be at least this light (0-255 luminance, median over
# a 3-pixel ring inside the image). White is 255, and 178 in the dark theme, which dims
# images (CSS filter brightness(.8) contrast(1.2)); a transparent figure on the dark theme's
# background (#121212) is about 18.
LIGHT = 150
RAW_TEX = [
    (re.compile(r"\$\$"), "$$"),
    (re.compile(r"\\\(|\\\)"), "\\( \\)"),
    (re.compile(r"\\\[|\\\]"), "\\[ \\]"),
    (re.compile(r"\$[^$\n]{0,200}?\\[A-Za-z]+[^$\n]{0,200}?\$"), "$\\command ...$"),
]
FILE_ALT = re.compile(r"\.(png|jpe?g|gif|svg|webp)$", re.I)
# Figure text smaller than this (CSS px, as shown) is flagged: smaller than the site's result
# tables (13.6 px at desktop size, 12 px on a phone) and captions (14.4 px).
MIN_FIGURE_TEXT_PX = 11.0
SVG_DPI = 96  # CSS px per inch: an SVG sized in points shows 96/72 px per point at natural size
# matplotlib settings that size a figure's text (None: unset, follows another)
FIGURE_TEXT_KEYS = ("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize",
                    "ytick.labelsize", "legend.fontsize", "legend.title_fontsize", "figure.titlesize")

# One pass over the DOM once the page (and MathJax) has finished.
_DOM_JS = """() => {
  const figureOf = (img) => img.closest('.cell_output, .output, figure');
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, textarea, mjx-container, .highlight')
       .forEach((e) => e.remove());
  return {
    theme: document.documentElement.dataset.theme || '',
    text: clone.textContent,
    math: document.querySelectorAll('.math').length,
    unrendered: [...document.querySelectorAll('.math')]
      .filter((e) => !e.querySelector('mjx-container'))
      .map((e) => e.textContent.trim().slice(0, 80)),
    rendered: document.querySelectorAll('mjx-container').length,
    texErrors: [...document.querySelectorAll('mjx-merror, merror, [data-mjx-error]')]
      .map((e) => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 80)),
    images: [...document.images].map((img, i) => ({
      index: i, src: img.getAttribute('src') || '', complete: img.complete,
      width: img.naturalWidth, height: img.naturalHeight,
      alt: (img.getAttribute('alt') || '').trim(),
      caption: ((img.closest('figure') || {querySelector: () => null})
                .querySelector('figcaption') || {textContent: ''}).textContent.trim(),
      figure: !!figureOf(img),
      shown: img.getClientRects().length > 0 && img.offsetWidth > 0,
    })),
    links: [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')),
  };
}"""

_IMAGES_SETTLED_JS = """() => Promise.all([...document.images].map((img) => img.complete ? 0 :
  new Promise((done) => { img.addEventListener('load', done); img.addEventListener('error', done); })))"""

# Resolves to 'none' (no math on the page), 'missing' (MathJax never started) or 'ok' once
# MathJax has typeset the page.
_MATHJAX_JS = """async () => {
  if (!document.querySelector('.math')) return 'none';
  const ready = () => window.MathJax && MathJax.startup && MathJax.startup.promise;
  for (let i = 0; i < 100 && !ready(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!ready()) return 'missing';
  await MathJax.startup.promise;
  return 'ok';
}"""


@dataclass
class PageReport:
    """What :func:`check_page` found on one page in one theme."""

    url: str
    theme: str
    problems: list[str] = field(default_factory=list)
    external_links: set[str] = field(default_factory=set)
    blocked_requests: set[str] = field(default_factory=set)
    math: int = 0            # rendered mjx-container elements
    figures: int = 0         # figure images checked
    internal_links: int = 0  # internal links (and anchors) resolved
    checks: int = 0          # individual assertions made
    overflowing: int = 0     # pre, output and display-math elements cut off (check_layout)
    wrapped_numbers: int = 0  # numbers in table cells broken across lines (check_layout)

    def check(self, ok: bool, problem: str) -> None:
        self.checks += 1
        if not ok:
            self.problems.append(problem)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@contextmanager
def serve(root: Path):
    """Serve ``root`` on 127.0.0.1 at a free port; yields the base URL (ending in '/')."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def chromium():
    """Debian's headless Chromium under playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        raise RuntimeError(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_context(browser, theme: str = "light", viewport: str = "desktop"):
    """A context whose pages start in ``theme`` ('light' or 'dark', pydata-sphinx-theme's
    ``localStorage`` keys), at ``viewport`` (a key of :data:`VIEWPORTS`)."""
    if theme not in ("light", "dark"):
        raise ValueError(f"theme must be 'light' or 'dark', got {theme!r}")
    if viewport not in VIEWPORTS:
        raise ValueError(f"viewport must be one of {list(VIEWPORTS)}, got {viewport!r}")
    context = browser.new_context(viewport=VIEWPORTS[viewport], color_scheme=theme,
                                  is_mobile=viewport == "phone", has_touch=viewport == "phone")
    context.add_init_script(f"localStorage.setItem('mode', '{theme}');"
                            f"localStorage.setItem('theme', '{theme}');")
    context.set_default_timeout(TIMEOUT_MS)
    return context


def _is_local(url: str) -> bool:
    return urlsplit(url).hostname in LOCAL_HOSTS


@functools.lru_cache(maxsize=256)
def _anchors(path: Path) -> frozenset[str]:
    """The ids (and a-names) defined in an HTML file."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return frozenset(re.findall(r'\s(?:id|name)="([^"]*)"', text))


def _target_file(root: Path, base: str, url: str) -> Path:
    path = unquote(urlsplit(url).path)[len(urlsplit(base).path):]
    target = root / path
    return target / "index.html" if path.endswith("/") or not path else target


def _check_links(report: PageReport, root: Path, base: str, page_url: str, hrefs) -> None:
    for href in dict.fromkeys(hrefs):
        scheme = urlsplit(href).scheme
        if scheme == "data":
            report.check(_decodes(href), f"data: link does not decode: {href[:80]}")
            continue
        if scheme in ("mailto", "javascript", "tel"):
            continue
        url = urljoin(page_url, href)
        if not _is_local(url):
            report.external_links.add(url)
            continue
        target = _target_file(root, base, url)
        fragment = unquote(urlsplit(url).fragment)
        report.internal_links += 1
        report.check(target.is_file(), f"broken link: {href} (no {target.relative_to(root)})")
        if fragment and target.is_file() and target.suffix == ".html":
            report.check(fragment in _anchors(target), f"broken anchor: {href}")


def _decodes(href: str) -> bool:
    head, _, payload = href.partition(",")
    if not head.endswith(";base64"):
        return bool(payload)
    try:
        return bool(base64.b64decode(payload, validate=True))
    except ValueError:
        return False


def _border_luminance(png: bytes) -> float:
    """Median luminance of the 3-pixel ring just inside a screenshot's edges."""
    import numpy as np
    from PIL import Image

    gray = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    ring = np.concatenate([gray[:3].ravel(), gray[-3:].ravel(),
                           gray[:, :3].ravel(), gray[:, -3:].ravel()])
    return float(np.median(ring))


def check_page(context, url: str, root: Path, base: str, *, colab: str | None = None,
               screenshot: Path | None = None, viewport: str = "desktop", full: bool = True,
               drawers: bool = True, answer: bool = False) -> PageReport:
    """Open ``url`` (served from ``root`` at ``base``) and check everything in the module
    docstring. ``colab``: the launch link the page must have. ``screenshot``: where to write
    a full-page PNG. ``viewport``: the context's viewport (for :func:`check_layout`); ``full``:
    False checks only the layout (the content is the same at every viewport); ``drawers`` and
    ``answer``: see :func:`check_layout`."""
    page = context.new_page()
    # the theme the context asks for (see new_context)
    dark = page.evaluate("() => matchMedia('(prefers-color-scheme: dark)').matches")
    report = PageReport(url=url, theme="dark" if dark else "light")

    def on_route(route):
        if _is_local(route.request.url):
            route.continue_()
        else:
            report.blocked_requests.add(route.request.url)
            route.abort()

    def on_console(message):
        source = (message.location or {}).get("url", "")
        if message.type == "error" and (not source or _is_local(source)) \
                and source not in report.blocked_requests:
            report.problems.append(f"console error: {message.text} ({source})")

    page.route("**/*", on_route)
    page.on("console", on_console)
    page.on("pageerror", lambda error: report.problems.append(f"JavaScript error: {error}"))
    page.on("requestfailed", lambda request: _is_local(request.url) and report.problems.append(
        f"failed request: {request.url} ({request.failure})"))
    page.on("response", lambda response: _is_local(response.url) and response.status >= 400
            and report.problems.append(f"failed request: {response.url} (HTTP {response.status})"))
    try:
        page.goto(url, wait_until="load")
        page.evaluate(_IMAGES_SETTLED_JS)
        mathjax = page.evaluate(_MATHJAX_JS)
        if screenshot is not None:  # first: the checks below scroll the page and open drawers
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        check_layout(report, page, viewport, drawers, answer)
        if not full:
            return report
        report.check(mathjax != "missing", "MathJax did not start on a page with math")
        dom = page.evaluate(_DOM_JS)
        _check_dom(report, dom)
        _check_links(report, root, base, page.url, dom["links"])
        if colab is not None:
            launch = {href for href in dom["links"] if "colab.research.google.com" in href}
            report.check(launch == {colab},
                         f"Colab launch link should be {colab}, found {sorted(launch)}")
        _check_figure_backgrounds(report, page, dom)
    finally:
        page.close()
    return report


def _check_dom(report: PageReport, dom: dict) -> None:
    report.check(dom["theme"] == report.theme,
                 f"page is in theme {dom['theme']!r}, not {report.theme!r}")
    report.math = dom["rendered"]
    for tex in dom["unrendered"]:
        report.check(False, f"math not typeset: {tex}")
    report.check(not dom["math"] or dom["rendered"] > 0, "math on the page but no mjx-container")
    for error in dom["texErrors"]:
        report.check(False, f"TeX error: {error}")
    text = " ".join(dom["text"].split())
    for pattern, what in RAW_TEX:
        found = pattern.search(text)
        report.check(found is None, f"raw TeX ({what}) in the text: "
                     f"...{text[max(found.start() - 40, 0):found.end() + 40]}..." if found else "")
    for img in dom["images"]:
        report.check(img["complete"] and img["width"] > 0 and img["height"] > 0,
                     f"broken image: {img['src']} (natural size {img['width']}x{img['height']})")
        if img["figure"]:
            report.figures += 1
            alt_ok = bool(img["alt"]) and not FILE_ALT.search(img["alt"])
            report.check(alt_ok or bool(img["caption"]),
                         f"figure without alt text or caption: {img['src']} (alt={img['alt']!r})")


def _check_figure_backgrounds(report: PageReport, page, dom: dict) -> None:
    images = page.query_selector_all("img")
    for img in dom["images"]:
        if not (img["figure"] and img["shown"] and img["width"] > 0):
            continue
        element = images[img["index"]]
        element.scroll_into_view_if_needed()
        luminance = _border_luminance(element.screenshot())
        report.check(luminance >= LIGHT,
                     f"figure {img['src']} has a dark background in the {report.theme} theme "
                     f"(border luminance {luminance:.0f} < {LIGHT}): its text may be invisible")


# What a reader sees at the current viewport: cut-off content, figures without captions, link
# contrast, and the page's full visible text (for progress bars, warnings and paths).
_LAYOUT_JS = """() => {
  const describe = (e) => {
    const where = e.closest('section[id]');
    const text = (e.innerText || e.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 60);
    return `${where ? '#' + where.id + ' ' : ''}"${text}"`;
  };
  const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
  const cut = [];
  const kinds = [['pre', 'pre'], ['.cell_output', 'cell output'], ['.output', 'output'],
                 ['div.math', 'display math'], ['mjx-container[display="true"]', 'display math']];
  for (const [selector, kind] of kinds) {
    for (const e of document.querySelectorAll(selector)) {
      if (shown(e) && e.scrollWidth > e.clientWidth + 1)
        cut.push(`${kind} ${describe(e)} is ${e.scrollWidth - e.clientWidth} px wider than its ` +
                 `${e.clientWidth} px box`);
    }
  }
  const uncaptioned = [...document.images].filter((img) => img.closest('.cell_output, .output, figure'))
    .filter((img) => !((img.closest('figure') || {querySelector: () => null})
                        .querySelector('figcaption') || {textContent: ''}).textContent.trim())
    .map((img) => img.getAttribute('src') || '');
  const rgba = (c) => {
    const m = /rgba?\\(([^)]*)\\)/.exec(c);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(parseFloat);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) => top.slice(0, 3).map((v, i) => v * top[3] + under[i] * (1 - top[3]));
  const background = (e) => {
    const layers = [];
    for (let x = e; x; x = x.parentElement) {
      const c = rgba(getComputedStyle(x).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    return layers.reverse().reduce((under, top) => over(top, under), [255, 255, 255]);
  };
  const luminance = (rgb) => {
    const [r, g, b] = rgb.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const contrast = [];
  let links = 0;
  for (const a of document.querySelectorAll('a[href]')) {
    const text = (a.innerText || '').trim();
    if (!text || !shown(a) || a.closest('.headerlink, mjx-container')) continue;
    if (getComputedStyle(a).opacity === '0') continue;
    const bg = background(a), fg = rgba(getComputedStyle(a).color);
    if (!fg) continue;
    links += 1;
    const [l1, l2] = [luminance(over(fg, bg)), luminance(bg)].sort((x, y) => y - x);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    if (ratio < %(min)s) contrast.push(`"${text.slice(0, 40)}" ${ratio.toFixed(2)}:1`);
  }
  // the page itself wider than the screen: the widest elements that stick out, outside any box
  // that scrolls sideways on its own
  const screen = document.documentElement.clientWidth;
  const scrolls = (e) => {
    for (let p = e.parentElement; p && p !== document.body; p = p.parentElement)
      if (['auto', 'scroll', 'hidden', 'clip'].includes(getComputedStyle(p).overflowX)) return true;
    return false;
  };
  const wider = document.documentElement.scrollWidth > screen + 1 ? [...document.querySelectorAll('body *')]
    .filter((e) => shown(e) && e.getBoundingClientRect().right > screen + 1 && !scrolls(e)
                   && !e.closest('.skip-link, .bd-sidebar-primary, .bd-sidebar-secondary, dialog'))
    .filter((e, _, all) => !all.some((o) => o !== e && e.contains(o)))
    .map((e) => `${e.tagName.toLowerCase()} ${describe(e)} reaches ${Math.round(e.getBoundingClientRect().right)} px`)
    : [];
  return {cut, uncaptioned, contrast, links, wider, width: document.documentElement.scrollWidth,
          text: document.body.innerText};
}""" % {"min": MIN_CONTRAST}

# Open a drawer with its button (phone): resolves to the number of the drawer's links that a
# reader can then see and tap, or -1 when the page has no such button.
_DRAWER_JS = """async ([button, drawer]) => {
  const toggle = [...document.querySelectorAll(button)].find((b) => b.getClientRects().length);
  if (!toggle) return -1;
  toggle.click();
  await new Promise((r) => setTimeout(r, 600));
  let seen = 0;
  for (const a of document.querySelectorAll(drawer.split(',').map((d) => d + ' a[href]').join(','))) {
    const r = a.getBoundingClientRect();
    if (!r.width || !r.height || r.right <= 0 || r.left >= innerWidth || r.bottom <= 0 || r.top >= innerHeight)
      continue;
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    if (hit && (hit === a || a.contains(hit))) seen += 1;
  }
  document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}));
  return seen;
}"""
PRIMARY_TOGGLE = "button.primary-toggle, label.primary-toggle, .sidebar-toggle.primary-toggle"
PRIMARY_DRAWER = ".bd-sidebar-primary, #pst-primary-sidebar, dialog#pst-primary-sidebar-modal"
SECONDARY_TOGGLE = "button.secondary-toggle, label.secondary-toggle"
SECONDARY_DRAWER = ".bd-sidebar-secondary, #pst-secondary-sidebar, dialog#pst-secondary-sidebar-modal"


# Numbers in table cells: each number (digits with their decimal point and thousands commas,
# exponent, percent sign, and a sign not joined to a word: "-2.4e-06", "1,024", "5%"; the "10" of
# "CIFAR-10", which may break after its hyphen like any hyphenated word) measured as a DOM
# Range; its line boxes must share one line.
_NUMBERS_JS = """() => {
  const NUMBER = /(?:(?<![\\w.])[-+\\u2212])?\\d(?:[\\d.,]*\\d)?(?:[eE][-+\\u2212]?\\d+)?%?/g;
  const lines = (rects) => {
    const tops = [];
    for (const r of rects) if (!tops.some((t) => Math.abs(t - r.top) < r.height / 2)) tops.push(r.top);
    return tops.length;
  };
  const wrapped = [];
  let numbers = 0;
  for (const cell of document.querySelectorAll('td, th')) {
    if (!/\\d/.test(cell.textContent) || !cell.getClientRects().length) continue;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest('td, th') !== cell
          || node.parentElement.closest('mjx-container, script, style')) continue;
      for (const m of node.data.matchAll(NUMBER)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const rects = [...range.getClientRects()].filter((r) => r.width > 0 && r.height > 0);
        if (!rects.length) continue;
        numbers += 1;
        if (lines(rects) > 1) {
          const where = cell.closest('section[id]');
          const text = cell.textContent.trim().replace(/\\s+/g, ' ').slice(0, 50);
          wrapped.push(`${where ? '#' + where.id + ' ' : ''}"${m[0]}" in "${text}"`);
        }
      }
    }
  }
  return {numbers, wrapped};
}"""

# The images of cell outputs (matplotlib figures) as shown: width shown, natural width, SVG or not.
_FIGURES_JS = """() => [...document.querySelectorAll('.cell_output img, .output img')]
  .filter((img) => img.getClientRects().length && img.naturalWidth > 0 && img.clientWidth > 0)
  .map((img) => ({src: img.getAttribute('src') || '', shown: img.clientWidth, natural: img.naturalWidth,
                  svg: /\\.svg(?:[?#]|$)|^data:image\\/svg/i.test(img.currentSrc || img.src)}))"""

# The page's contents: every visible h2 and h3 of a section must have a link in the page-contents
# list whose list items and lists are all displayed.
_CONTENTS_JS = """() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main');
  if (!article) return {headings: 0, nav: false, missing: []};
  const headings = [...article.querySelectorAll('section[id] > h2, section[id] > h3')]
    .filter((h) => h.getClientRects().length);
  const nav = document.querySelector('nav.page-toc, nav.bd-toc-nav');
  const displayed = (a) => {
    for (let e = a; e && e !== nav; e = e.parentElement) {
      const style = getComputedStyle(e);
      if (style.display === 'none' || style.visibility === 'hidden') return false;
    }
    return true;
  };
  const links = nav ? [...nav.querySelectorAll('a[href]')] : [];
  const missing = headings
    .filter((h) => !links.some((a) => a.getAttribute('href') === '#' + h.parentElement.id && displayed(a)))
    .map((h) => `${h.tagName.toLowerCase()} "${h.textContent.replace(/#$/, '').trim().slice(0, 50)}"`);
  return {headings: headings.length, nav: !!nav, missing};
}"""

# The answer box of a chapter: the first thing a reader meets under the title (h1).
_ANSWER_JS = """() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main');
  const h1 = article && article.querySelector('h1');
  if (!h1) return {h1: false};
  const answer = [...article.querySelectorAll('.nc-answer')].find(
    (e) => h1.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING);
  if (!answer) return {h1: true, answer: false};
  const CONTENT = 'section, h1, h2, h3, h4, h5, h6, p, ul, ol, dl, table, figure, img, pre, ' +
                  'blockquote, hr, details, aside, div.cell, div.admonition, div.math, mjx-container';
  const before = [...article.querySelectorAll(CONTENT)].filter((e) =>
    !h1.contains(e) && !e.contains(answer) && !answer.contains(e)
    && (h1.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING)
    && (e.compareDocumentPosition(answer) & Node.DOCUMENT_POSITION_FOLLOWING)
    && e.getBoundingClientRect().height > 0);
  const outer = before.filter((e) => !before.some((o) => o !== e && o.contains(e)));
  return {h1: true, answer: answer.getBoundingClientRect().height > 0,
          before: outer.map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''} "` +
                                   (e.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 40) + '"')};
}"""


@functools.cache
def figure_text() -> tuple[float, float]:
    """``(pt, dpi)``: the smallest text size (points) of the book's figures and the dpi of their
    raster images, from matplotlib's settings under ``nclib.plotting.BOOK_STYLE``."""
    import matplotlib as mpl
    from matplotlib import font_manager

    from nclib import plotting

    with mpl.rc_context(plotting.BOOK_STYLE):
        rc = mpl.rcParams
        sizes = [rc[key] for key in FIGURE_TEXT_KEYS if rc[key] is not None]
        points = [float(s) if isinstance(s, (int, float)) else font_manager.font_scalings[s] * rc["font.size"]
                  for s in sizes]
        dpi = rc["figure.dpi"] if rc["savefig.dpi"] == "figure" else rc["savefig.dpi"]
    return min(points), float(dpi)


def _examples(items: list[str], n: int = 8) -> str:
    return "; ".join(items[:n]) + (f" (and {len(items) - n} more)" if len(items) > n else "")


def _check_reading(report: PageReport, page, viewport: str, answer: bool) -> None:
    """Numbers in table cells, figure text, the page's contents and (``answer``) the answer box."""
    where = f"at {viewport} size"
    numbers = page.evaluate(_NUMBERS_JS)
    report.wrapped_numbers = len(numbers["wrapped"])
    report.check(not numbers["wrapped"], f"numbers broken across lines in table cells {where}: "
                 + _examples(numbers["wrapped"]) + f" ({len(numbers['wrapped'])} of {numbers['numbers']} numbers)")
    points, dpi = figure_text()
    small = []
    for img in page.evaluate(_FIGURES_JS):
        px = points * (SVG_DPI if img["svg"] else dpi) / 72 * img["shown"] / img["natural"]
        if px < MIN_FIGURE_TEXT_PX:
            small.append(f"{img['src']} ({points:g} pt text shows at {px:.1f} px: {img['shown']} px "
                         f"wide of {img['natural']})")
    report.check(not small, f"figure text smaller than {MIN_FIGURE_TEXT_PX:g} px {where}: " + _examples(small))
    contents = page.evaluate(_CONTENTS_JS)
    report.check(contents["nav"] or not contents["headings"],
                 f"no page-contents list on a page with {contents['headings']} headings")
    report.check(not contents["nav"] or not contents["missing"],
                 f"the page's contents do not show {len(contents['missing'])} of its {contents['headings']} "
                 f"headings {where}: " + _examples(contents["missing"]))
    if answer and viewport == "desktop":
        found = page.evaluate(_ANSWER_JS)
        report.check(found["h1"], "no title (h1) on a chapter page")
        if found["h1"]:
            report.check(found["answer"], "no answer box (.nc-answer) under the chapter's title")
            report.check(not found.get("before"), "the answer box (.nc-answer) is not the first thing "
                         "under the title: " + _examples(found.get("before") or []))


def check_layout(report: PageReport, page, viewport: str, drawers: bool = True,
                 answer: bool = False) -> None:
    """The checks of what a reader sees at ``viewport`` (module docstring) on an open page;
    ``drawers``: on the phone, also open the menu and page-contents drawers (the same in
    either theme); ``answer``: the page is a chapter, with an answer box under its title."""
    _check_reading(report, page, viewport, answer)
    found = page.evaluate(_LAYOUT_JS)
    where = f"at {viewport} size"
    report.check(not found["cut"], f"cut off {where}: " + "; ".join(found["cut"][:8])
                 + (f" (and {len(found['cut']) - 8} more)" if len(found["cut"]) > 8 else ""))
    report.overflowing = len(found["cut"])
    report.check(not found["wider"], f"the page is {found['width']} px wide {where}, wider than the screen: "
                 + _examples(found["wider"]))
    for src in found["uncaptioned"]:
        report.check(False, f"figure without a caption: {src}")
    report.check(not found["contrast"], f"link contrast below {MIN_CONTRAST}:1 in the {report.theme} "
                 f"theme: " + "; ".join(found["contrast"][:8]))
    text = found["text"]
    for pattern, what in ((PROGRESS, "progress-bar text"), (WARNING, "a printed warning"),
                          (MACHINE_PATH, "an absolute machine path")):
        hit = pattern.search(text)
        report.check(hit is None, f"{what} in the page: ...{text[max(hit.start() - 40, 0):hit.end() + 40]}..."
                     if hit else "")
    if viewport == "phone" and drawers:
        menu = page.evaluate(_DRAWER_JS, [PRIMARY_TOGGLE, PRIMARY_DRAWER])
        report.check(menu != -1, "no menu button on the phone")
        report.check(menu != 0, "the menu button does not open the navigation drawer on the phone")
        if page.evaluate(f"() => !!document.querySelector('{SECONDARY_DRAWER.split(',')[0]} a[href]')"):
            page.reload(wait_until="load")
            page.evaluate(_MATHJAX_JS)
            contents = page.evaluate(_DRAWER_JS, [SECONDARY_TOGGLE, SECONDARY_DRAWER])
            report.check(contents != -1, "no page-contents button on the phone")
            report.check(contents != 0, "the page-contents button does not open the page's contents on the phone")

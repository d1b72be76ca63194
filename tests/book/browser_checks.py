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
VIEWPORT = {"width": 1280, "height": 900}
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


def new_context(browser, theme: str = "light"):
    """A context whose pages start in ``theme`` ('light' or 'dark', pydata-sphinx-theme's
    ``localStorage`` keys)."""
    if theme not in ("light", "dark"):
        raise ValueError(f"theme must be 'light' or 'dark', got {theme!r}")
    context = browser.new_context(viewport=VIEWPORT, color_scheme=theme)
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
               screenshot: Path | None = None) -> PageReport:
    """Open ``url`` (served from ``root`` at ``base``) and check everything in the module
    docstring. ``colab``: the launch link the page must have. ``screenshot``: where to write
    a full-page PNG."""
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
        report.check(mathjax != "missing", "MathJax did not start on a page with math")
        dom = page.evaluate(_DOM_JS)
        _check_dom(report, dom)
        _check_links(report, root, base, page.url, dom["links"])
        if colab is not None:
            launch = {href for href in dom["links"] if "colab.research.google.com" in href}
            report.check(launch == {colab},
                         f"Colab launch link should be {colab}, found {sorted(launch)}")
        if screenshot is not None:  # first: the figure checks below scroll the page
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
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

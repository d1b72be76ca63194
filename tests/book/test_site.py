"""The site builds with warnings as errors, at the smoke profile, and has what it should.

One build per test run (module-scoped fixture), into a temporary folder, with
``jupyter-book build --warningiserror --keep-going``: every chapter is executed again.
A build that fails makes every test here fail; nothing is skipped.
"""

from __future__ import annotations

import html
import inspect
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COLAB = "https://colab.research.google.com/github/nc-perturbation/executable-paper/blob/main/"
TAIL = 120  # lines of the build log shown when the build fails
# The one WARNING line that is not the build's: each notebook kernel notes that it talks to
# the build over (loopback) TCP without CurveZMQ encryption.
KERNEL_NOTICE = "[IPKernelApp] WARNING | Kernel is running over TCP without encryption"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> SimpleNamespace:
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NCLIB_PROFILE="smoke")
    # `jupyter-book build ...`, run by the interpreter that runs these tests
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
           "build", str(ROOT), "--warningiserror", "--keep-going", "--path-output", str(out)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=3600)
    seconds = time.perf_counter() - start
    log = proc.stdout + "\n" + proc.stderr
    if proc.returncode != 0:
        lines = [line for line in log.splitlines() if KERNEL_NOTICE not in line]
        tail = "\n".join(lines[-TAIL:])
        pytest.fail(f"jupyter-book build exited {proc.returncode} after {seconds:.0f} s; "
                    f"last {TAIL} lines of its log:\n{tail}", pytrace=False)
    print(f"site built in {seconds:.0f} s")
    return SimpleNamespace(html=out / "_build" / "html", log=log, seconds=seconds)


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


def _toc_files(entry) -> list[str]:
    """Every `file:` (and `root:`) named in a _toc.yml structure."""
    found = []
    if isinstance(entry, dict):
        for key in ("root", "file"):
            if key in entry:
                found.append(str(entry[key]))
        for value in entry.values():
            if isinstance(value, (list, dict)):
                found += _toc_files(value)
    elif isinstance(entry, list):
        for item in entry:
            found += _toc_files(item)
    return found


def test_build_log_has_no_warnings(site):
    warnings = [line for line in site.log.splitlines()
                if ("WARNING" in line or "ERROR" in line) and KERNEL_NOTICE not in line]
    assert not warnings, "the build logged warnings:\n" + "\n".join(warnings)


def test_every_toc_page_was_built(site):
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [re.sub(r"\.(md|ipynb)$", "", f) for f in _toc_files(toc)]
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

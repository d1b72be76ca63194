"""The site, built once per pytest session, for every test under tests/book.

``jupyter-book build --warningiserror --keep-going`` at the smoke profile, into a temporary
folder (every chapter is executed again). A build that fails makes every test that uses the
site fail; nothing is skipped. The browser tests write their screenshots to
``<repo>/_build/screenshots/``; external links they met are listed at the end of the run.

``NCLIB_SITE=<folder>`` uses a site built before instead: the ``--path-output`` folder of a
``jupyter-book build`` whose log was saved as ``<folder>/build.log``.
"""

from __future__ import annotations

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
SCREENSHOTS = ROOT / "_build" / "screenshots"
TAIL = 120  # lines of the build log shown when the build fails
# The one WARNING line that is not the build's: each notebook kernel notes that it talks to
# the build over (loopback) TCP without CurveZMQ encryption.
KERNEL_NOTICE = "[IPKernelApp] WARNING | Kernel is running over TCP without encryption"
BROWSER_TALLY = pytest.StashKey[dict]()  # what the browser tests saw, for the summary


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


def toc_docnames() -> list[str]:
    """The pages of _toc.yml, as docnames (``book/01_introduction``), in its order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [re.sub(r"\.(md|ipynb)$", "", f) for f in _toc_files(toc)]


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> SimpleNamespace:
    prebuilt = os.environ.get("NCLIB_SITE")
    if prebuilt:
        folder = Path(prebuilt)
        log = folder / "build.log"
        if not (folder / "_build" / "html").is_dir() or not log.is_file():
            pytest.fail(f"NCLIB_SITE={prebuilt} needs _build/html and build.log in it", pytrace=False)
        return SimpleNamespace(html=folder / "_build" / "html", log=log.read_text(encoding="utf-8"), seconds=0.0)
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


@pytest.fixture(scope="session")
def browser_tally(pytestconfig) -> dict:
    """Pages opened, checks made and external links met (url -> pages) by the browser tests;
    printed at the end of the run. External links are listed, never fetched."""
    return pytestconfig.stash.setdefault(BROWSER_TALLY, dict(pages=0, checks=0, external={}))


def pytest_terminal_summary(terminalreporter, config):
    tally = config.stash.get(BROWSER_TALLY, None)
    if not tally:
        return
    write = terminalreporter.write_line
    terminalreporter.write_sep("-", f"browser: {tally['pages']} page views, {tally['checks']} checks")
    write(f"external links ({len(tally['external'])}, not fetched):")
    for url, pages in sorted(tally["external"].items()):
        write(f"  {url}  <- {', '.join(sorted(pages))}")
    if any(SCREENSHOTS.glob("*.png")):
        write(f"screenshots of the chapters, light and dark: {SCREENSHOTS}")

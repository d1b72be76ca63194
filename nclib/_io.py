"""Atomic file writes and the folder that results live in."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

RESULTS_ENV = "NCLIB_RESULTS"


def atomic_write(path, write) -> None:
    """``write(file_object)`` into a temporary file beside ``path``, then ``os.replace`` it, so a
    reader sees the old file or the whole new one, never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would make results unreadable to others
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_write`)."""
    atomic_write(path, lambda f: f.write(text.encode()))


def results_root() -> Path:
    """Where results are kept: ``$NCLIB_RESULTS`` if set; else ``results/`` of the book's checkout
    when nclib is imported from one, as from a clone installed in place (``pip install -e``: the
    chapters' first cell makes one in Colab), so every chapter finds the repository's stored
    results whatever its working folder; else ``./results``."""
    if os.environ.get(RESULTS_ENV):
        return Path(os.environ[RESULTS_ENV])
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "_toc.yml").is_file():
        return checkout / "results"
    return Path.cwd() / "results"

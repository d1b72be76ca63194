"""nclib._io.results_root: the stored results are found in the checkout (or clone) that nclib is
imported from, whatever the working folder; ``$NCLIB_RESULTS`` overrides it; outside a checkout
they are ``./results``."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from nclib import _io

ROOT = Path(__file__).resolve().parents[2]


def _imported_from(folder: Path, checkout: bool):
    """nclib/_io.py copied to ``folder/nclib/`` (``folder`` made a book checkout by a _toc.yml when
    ``checkout``) and imported from there."""
    (folder / "nclib").mkdir(parents=True)
    shutil.copy(_io.__file__, folder / "nclib" / "_io.py")
    if checkout:
        (folder / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    spec = importlib.util.spec_from_file_location("_io_copy", folder / "nclib" / "_io.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    monkeypatch.delenv(_io.RESULTS_ENV, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work.resolve()


def test_this_checkout_finds_its_results(no_env):
    assert _io.results_root() == ROOT / "results"


def test_a_clone_finds_its_own_results_from_another_folder(no_env, tmp_path):
    clone = tmp_path / "content" / "executable-paper"
    assert _imported_from(clone, checkout=True).results_root() == clone.resolve() / "results"


def test_outside_a_checkout_results_are_in_the_working_folder(no_env, tmp_path):
    assert _imported_from(tmp_path / "site-packages", checkout=False).results_root() == no_env / "results"


def test_nclib_results_overrides_the_checkout(no_env, tmp_path, monkeypatch):
    monkeypatch.setenv(_io.RESULTS_ENV, str(tmp_path / "elsewhere"))
    assert _imported_from(tmp_path / "clone", checkout=True).results_root() == tmp_path / "elsewhere"


def test_atomic_write_gives_the_usual_file_mode_and_leaves_nothing_behind_on_failure(tmp_path):
    import os
    import stat

    from nclib._io import atomic_write, atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
        assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644  # not mkstemp's 0600

        def fail(f):
            f.write(b"partial")
            raise RuntimeError("disk full")

        with pytest.raises(RuntimeError, match="disk full"):
            atomic_write(tmp_path / "a.json", fail)
        assert (tmp_path / "a.json").read_text() == "{}" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
    finally:
        os.umask(old)

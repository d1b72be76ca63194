"""A chapter opened in Colab, emulated: it runs its own first cell, which clones the book's
repository and installs nclib from the clone in place, and then shows the stored evidence of that
commit (the committed ledgers and results), as the site does.

The emulation, per run:

* the repository: a git repository in a temporary folder whose branch (``repository.branch`` of
  ``_config.yml``) holds one commit of this checkout's files as git would commit them (tracked, and
  untracked but not ignored: in a clean clone that is HEAD's tree, while editing it includes the
  edits); the first cell's URL (``repository.url``) is replaced by its ``file://`` URL;
* the runtime: a fresh virtual environment holding only what Colab preinstalls and this test needs
  of it (torch, torchvision, numpy, scipy, matplotlib, tqdm, ipykernel, pip and their
  dependencies, linked from the environment that runs the tests, not copied); a kernel that
  imports a stub ``google.colab`` when it starts, as Colab's does; a working folder ``content/``
  outside the checkout; pip offline; of the ``NCLIB_*`` variables only ``NCLIB_PROFILE=smoke`` and
  ``NCLIB_DOWNLOAD``, torchvision's download folder, which already holds MNIST (written from
  ``$NCLIB_DATA/mnist.npz``, the exact MNIST) since the data sets cannot be downloaded here, so
  the data come through torchvision's loader as in Colab.

The same check reads the claims ledger run from a clone without ``results/``, and must find the
stored evidence missing.
"""

from __future__ import annotations

import html
import importlib.metadata
import json
import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from nclib.profiles import PROFILES

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]
NAME = REPOSITORY["url"].rstrip("/").rsplit("/", 1)[1]  # the folder the first cell clones into
COLAB_PREINSTALLS = ("torch", "torchvision", "numpy", "scipy", "matplotlib", "tqdm", "ipykernel", "pip")
STORED = ("medium", "paper")  # profiles whose runs the repository stores for the chapters to show
PROBE = """\
import json, nclib, nclib._io, nclib.data
root = nclib._io.results_root()
print("COLAB-PROBE " + json.dumps({
    "nclib": nclib.__file__, "results_root": str(root),
    "results": sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()),
    "cifar10_label": nclib.data.display_name("cifar10")}))
"""
TIMES: dict[str, float] = {}


def _git(*args, cwd=None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run(["git", "-c", "user.name=snapshot", "-c", "user.email=snapshot@localhost", *args],
                          cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def _repository(folder: Path, without: tuple[str, ...] = ()) -> str:
    """A git repository ``folder/NAME`` with one commit of this checkout's files (less the paths
    ``without``) on the book's branch; returns its ``file://`` URL."""
    repo = folder / NAME
    _git("init", "-q", "-b", REPOSITORY["branch"], str(repo))
    tree = [f"--git-dir={repo / '.git'}", f"--work-tree={ROOT}"]
    _git(*tree, "add", "-A")
    if without:
        _git(*tree, "rm", "-r", "-q", "--cached", *without)
    _git(*tree, "commit", "-q", "-m", "snapshot of the checkout")
    return repo.as_uri()


def _committed(url: str) -> dict[str, str]:
    """The text files under results/ in the commit at ``url``: path -> text (the stored network
    weights, ``*.pt``, are binary and left out)."""
    git_dir = f"--git-dir={Path(url.removeprefix('file://')) / '.git'}"
    return {path: _git(git_dir, "show", f"HEAD:{path}") for path in _git(git_dir, "ls-files", "results/").split()
            if not path.endswith(".pt")}


def _preinstalled() -> list[str]:
    """Top-level entries of site-packages of COLAB_PREINSTALLS and their dependencies (extras included)."""
    seen, todo, tops = set(), [(name, ()) for name in COLAB_PREINSTALLS], set()
    while todo:
        name, extras = todo.pop()
        if (canonicalize_name(name), extras) in seen:
            continue
        seen.add((canonicalize_name(name), extras))
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # a dependency for another platform, not installed here
        todo += [(r.name, tuple(sorted(r.extras))) for r in map(Requirement, dist.requires or [])
                 if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in ("", *extras))]
        tops |= {f.parts[0] for f in dist.files or [] if f.parts[0] not in ("..", "__pycache__")}
    return sorted(tops)


def _colab_runtime(folder: Path) -> tuple[Path, Path, Path]:
    """A fresh virtual environment with Colab's preinstalled packages and a stub ``google.colab``,
    and a kernelspec folder whose kernel ``colab`` runs in it; returns (python, its site-packages,
    the kernelspec folder)."""
    venv, version = folder / "venv", f"python{sys.version_info.major}.{sys.version_info.minor}"
    subprocess.run([Path(sys.base_prefix) / "bin" / version, "-m", "venv", "--without-pip", venv], check=True)
    site = venv / "lib" / version / "site-packages"
    here = Path(sysconfig.get_paths()["purelib"])
    for top in _preinstalled():
        (site / top).symlink_to(here / top)
    (site / "google" / "colab").mkdir(parents=True)
    (site / "google" / "colab" / "__init__.py").write_text('"""Stub of Colab\'s module, for the emulated runtime."""\n')
    python = venv / "bin" / "python"
    spec = folder / "kernels" / "colab"
    spec.mkdir(parents=True)
    start = "import google.colab; from ipykernel.kernelapp import launch_new_instance; launch_new_instance()"
    (spec / "kernel.json").write_text(json.dumps({"argv": [str(python), "-c", start, "-f", "{connection_file}"],
                                                  "display_name": "Colab (emulated)", "language": "python"}))
    return python, site, spec.parent


def _torchvision_mnist(folder: Path) -> Path:
    """torchvision's download folder holding MNIST (the raw IDX files of ``torchvision.datasets.MNIST``),
    written from ``$NCLIB_DATA/mnist.npz``."""
    data = os.environ.get("NCLIB_DATA", "")
    npz = Path(data) / "mnist.npz"
    assert data and npz.is_file(), "NCLIB_DATA must name the folder that holds mnist.npz (the exact MNIST)"
    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True)
    with np.load(npz) as d:
        for prefix, split in (("train", "train"), ("t10k", "test")):
            x, y = d[f"x_{split}"], d[f"y_{split}"]
            (raw / f"{prefix}-images-idx3-ubyte").write_bytes(np.array([0x803, *x.shape], ">i4").tobytes()
                                                             + x.astype(np.uint8).tobytes())
            (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(np.array([0x801, len(y)], ">i4").tobytes()
                                                             + y.astype(np.uint8).tobytes())
    return folder


def run_in_colab(chapter: str, url: str, folder: Path) -> tuple[nbformat.NotebookNode, dict]:
    """Execute ``book/<chapter>.ipynb`` in the emulated Colab runtime, its first cell installing
    from ``url``; returns the executed notebook and what the kernel reports at its end (PROBE)."""
    nb = nbformat.read(ROOT / "book" / f"{chapter}.ipynb", as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert first.source.count(REPOSITORY["url"]) == 1, f"{chapter}: the first cell must name {REPOSITORY['url']}"
    first.source = first.source.replace(REPOSITORY["url"], url)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    python, site, kernels = _colab_runtime(folder)
    content = folder / "content"
    content.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NCLIB_", "PIP_", "PYTHON", "VIRTUAL_ENV", "JUPYTER"))}
    env.update(NCLIB_PROFILE="smoke", NCLIB_DOWNLOAD=str(_torchvision_mnist(folder / "torchvision")),
               PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}",
               # pip offline, with no configuration: the preinstalled packages must satisfy nclib
               # (and build it: "false" turns build isolation off), so nothing is fetched and
               # nothing is written through the links into the environment they point to
               PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="false")
    km = AsyncKernelManager(kernel_name="colab", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    start = time.perf_counter()
    NotebookClient(nb, km=km, timeout=900, resources={"metadata": {"path": str(content)}}).execute(env=env)
    TIMES[chapter] = time.perf_counter() - start
    installed = {p.name for p in site.iterdir() if not p.is_symlink()}
    others = {n for n in installed if not n.startswith(("nclib-", "__editable__", "google", "__pycache__"))}
    assert not others, f"the first cell installed more than nclib: {sorted(others)}"
    lines = [line for out in nb.cells[-1].outputs for line in out.get("text", "").splitlines()]
    probe = json.loads(next(line for line in lines if line.startswith("COLAB-PROBE ")).split(" ", 1)[1])
    probe["clone"] = str(content / NAME)
    return nb, probe


def _outputs(nb) -> str:
    """Every text and HTML output of the chapter's cells."""
    parts = []
    for cell in nb.cells[:-1]:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            for kind in ("text/plain", "text/html", "text/markdown"):
                parts.append(out.get("data", {}).get(kind, ""))
    return "\n".join(parts)


def evidence_problems(nb, probe: dict, committed: dict[str, str], *, ledger: bool, experiments=()) -> list[str]:
    """What the chapter run in Colab fails to show of the stored evidence ``committed`` (the files
    under results/ in the repository): [] when it shows all of it. ``ledger``: the chapter shows
    every stored claim; ``experiments``: the chapter says "pending" exactly when the repository
    lacks some of their runs at a profile of STORED whose folder it has."""
    problems = []
    clone = Path(probe["clone"]).resolve()
    if Path(probe["nclib"]).resolve().parent != clone / "nclib":
        problems.append(f"nclib was imported from {probe['nclib']}, not from the clone {clone}")
    if Path(probe["results_root"]).resolve() != clone / "results":
        problems.append(f"results are looked up in {probe['results_root']}, not in {clone / 'results'}")
    missing = sorted(set(p.removeprefix("results/") for p in committed) - set(probe["results"]))
    if missing:
        problems.append(f"{len(missing)} stored result files not found, e.g. {missing[:3]}")
    # the profiles' saved ledgers (results/<profile>/ledger/), which the ledger page shows; not those
    # kept beside an ablation (results/ablation-short-schedule/), which are not evidence for the claims
    ledgers = [json.loads(text) for p, text in committed.items()
               if p.split("/")[1] in PROFILES and p.split("/")[2] == "ledger" and p.endswith(".json")]
    shown = _outputs(nb)
    unseen = [c["claim"] for entry in ledgers for c in entry["claims"]
              if c["claim"] not in shown and html.escape(c["claim"]) not in shown]
    if ledger and (unseen or not ledgers):
        problems.append(f"the ledger does not show {len(unseen)} stored claims, e.g. {unseen[:2]}"
                        if ledgers else "the repository stores no ledger")
    if experiments:
        from nclib import experiments as ex
        from nclib.train import result_file

        stored = {f.removeprefix("results/") for f in committed}
        incomplete = [f"{e} ({p})" for e in experiments for p in STORED
                      if any(f.startswith(f"results/{p}/") for f in committed)
                      and not all(result_file(p, c).as_posix() in stored for c in ex.grid(e, p).values())]
        if bool(incomplete) != ("pending" in shown):
            problems.append(f"the chapter {'does not say' if incomplete else 'says'} that full-scale results "
                            f"are pending; the repository lacks runs of {incomplete or 'none'}")
    return problems


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> str:
    return _repository(tmp_path_factory.mktemp("origin"))


def test_first_cell_clones_the_book_repository():
    """The first cell of every page clones repository.url at repository.branch of _config.yml."""
    for ipynb in sorted((ROOT / "book").glob("[0-9]*.ipynb")) + [ROOT / "book" / "intro.ipynb"]:
        first = next(c for c in nbformat.read(ipynb, as_version=4).cells if c.cell_type == "code").source
        assert f'"{REPOSITORY["url"]}", "{REPOSITORY["branch"]}"' in first, ipynb.name


@pytest.mark.parametrize("chapter, experiments", [("10_claims_ledger", ()), ("09_blurred_classes", ("fig6",))])
def test_chapter_in_colab_shows_the_stored_evidence(chapter, experiments, repository, tmp_path):
    nb, probe = run_in_colab(chapter, repository, tmp_path)
    assert evidence_problems(nb, probe, _committed(repository), ledger=chapter == "10_claims_ledger",
                             experiments=experiments) == []
    assert "JPEG" not in probe["cifar10_label"] and "JPEG" not in _outputs(nb)  # torchvision's originals
    print(f"{chapter} in emulated Colab: {TIMES[chapter]:.0f} s")


def test_colab_without_stored_results_is_detected(repository, tmp_path):
    """A clone without results/: the same check finds the stored evidence missing."""
    stripped = _repository(tmp_path / "origin", without=("results",))
    assert _committed(stripped) == {}
    nb, probe = run_in_colab("10_claims_ledger", stripped, tmp_path / "run")
    problems = evidence_problems(nb, probe, _committed(repository), ledger=True)
    assert any("stored result files not found" in p for p in problems), problems
    assert any("the ledger does not show" in p for p in problems), problems

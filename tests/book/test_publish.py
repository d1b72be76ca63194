"""Publishing: one repository named everywhere, one command to change it, one workflow to deploy.

``repository.url`` and ``repository.branch`` of ``_config.yml`` are the source: the first code
cell of every page (.md and .ipynb, the cell that clones the repository in Colab) must name
them, ``make repository URL=... [BRANCH=...]`` (``scripts/set_repository.py``) must rewrite
every file that names them, and ``.github/workflows/book.yml`` must build the site as
``make book`` does and deploy it to GitHub Pages.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "set_repository.py"
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
NEW = ("https://github.com/someone-else/nc-book", "gh-pages-source")
URL = re.compile(r"https?://[^\s\"'\\]+")


def _repository(root: Path = ROOT) -> tuple[str, str]:
    repo = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))["repository"]
    return repo["url"], repo["branch"]


def _pages(root: Path = ROOT) -> list[Path]:
    """Every page that is a jupytext pair: the chapters and the introduction."""
    return sorted(p for p in (root / "book").glob("*.md") if "\njupytext:" in p.read_text(encoding="utf-8")[:400])


def _first_cell(path: Path) -> nbformat.NotebookNode:
    nb = jupytext.read(path) if path.suffix == ".md" else nbformat.read(path, as_version=4)
    return next(cell for cell in nb.cells if cell.cell_type == "code")


def _first_cell_problems(root: Path) -> list[str]:
    """What is wrong with the first code cell of each page (.md and .ipynb) of the book at
    ``root``: it must name exactly the repository of its _config.yml, and be removed from the
    site (``remove-cell``: Colab runs it, the site and its search never show it)."""
    url, branch = _repository(root)
    problems = []
    for md in _pages(root):
        for path in (md, md.with_suffix(".ipynb")):
            cell = _first_cell(path)
            name = path.relative_to(root).as_posix()
            if len(re.findall(rf'^\s*repo, branch = "{re.escape(url)}", "{re.escape(branch)}"(\s|$)',
                              cell.source, re.M)) != 1:
                problems.append(f"{name}: no line `repo, branch = \"{url}\", \"{branch}\"`")
            if set(URL.findall(cell.source)) != {url}:
                problems.append(f"{name}: names {sorted(set(URL.findall(cell.source)))}, not only {url}")
            if cell.metadata.get("tags") != ["remove-cell"]:
                problems.append(f"{name}: tags {cell.metadata.get('tags')}, not ['remove-cell']")
    return problems


def _set_repository(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(root), *args],
                          capture_output=True, text=True)


def _copy(tmp_path: Path) -> Path:
    """The files that the rewrite manages, copied to ``tmp_path/book-copy``."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import set_repository
    finally:
        sys.path.remove(str(SCRIPT.parent))
    copy = tmp_path / "book-copy"
    for path in set_repository.targets(ROOT):
        target = copy / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return copy


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(root.rglob("*")) if p.is_file()}


def _slug(url: str) -> str:
    return url.removeprefix("https://github.com/")


def test_first_cells_name_the_configured_repository():
    assert len(_pages()) >= 12, "the chapters and the introduction should all be jupytext pairs"
    problems = _first_cell_problems(ROOT)
    assert not problems, "\n".join(problems)


def test_the_rewrite_covers_every_file_that_names_the_repository(tmp_path):
    """Every file of the checkout (tracked, or new and not ignored) that names the repository
    is one that ``make repository`` rewrites: no hard-coded copy is left behind."""
    slug = _slug(_repository()[0])
    found = subprocess.run(["git", "grep", "--untracked", "-l", "-F", slug], cwd=ROOT,
                           capture_output=True, text=True).stdout.split()
    managed = set(_files(_copy(tmp_path)))
    assert "_config.yml" in found and "README.md" in found
    assert not set(found) - managed, f"files naming {slug} that the rewrite skips: {sorted(set(found) - managed)}"


def test_rewrite_moves_everything_to_the_new_repository_and_back(tmp_path):
    copy = _copy(tmp_path)
    before = _files(copy)
    old_url, old_branch = _repository(copy)
    assert (old_url, old_branch) != NEW

    done = _set_repository(copy, NEW[0] + ".git", "--branch", NEW[1])
    assert done.returncode == 0, done.stderr
    after = _files(copy)
    assert _repository(copy) == NEW
    assert not _first_cell_problems(copy), _first_cell_problems(copy)
    stale = [name for name, text in after.items() if _slug(old_url) in text]
    assert not stale, f"files still naming {old_url}: {stale}"
    assert f"/github/{_slug(NEW[0])}/blob/{NEW[1]}/book/" in after["README.md"], "README's Colab link"
    workflow = yaml.safe_load(after[".github/workflows/book.yml"])
    assert (workflow.get("on") or workflow[True])["push"]["branches"] == [NEW[1]]
    for md in _pages(copy):  # each pair still in sync
        nb_md, nb_ipynb = jupytext.read(md), nbformat.read(md.with_suffix(".ipynb"), as_version=4)
        assert [c.source for c in nb_md.cells] == [c.source for c in nb_ipynb.cells], md.name
        assert md.stat().st_mtime >= md.with_suffix(".ipynb").stat().st_mtime, f"{md.name} older than its .ipynb"
    for name, text in before.items():  # only the lines that name the repository changed
        changed = [(a, b) for a, b in zip(text.splitlines(), after[name].splitlines()) if a != b]
        assert len(text.splitlines()) == len(after[name].splitlines()), name
        assert all(_slug(NEW[0]) in b or NEW[1] in b for _, b in changed), f"{name}: {changed}"
    assert sum(text != after[name] for name, text in before.items()) >= 2 * len(_pages(copy)) + 3

    back = _set_repository(copy, old_url, "--branch", old_branch)
    assert back.returncode == 0, back.stderr
    assert _files(copy) == before, "rewriting back did not restore the files byte for byte"


@pytest.mark.parametrize("url", ["", "http://github.com/a/b", "https://gitlab.com/a/b", "https://github.com/a"])
def test_rewrite_refuses_what_is_not_a_github_repository(tmp_path, url):
    copy = _copy(tmp_path)
    before = _files(copy)
    done = _set_repository(copy, url)
    assert done.returncode != 0 and "github.com/<owner>/<repo>" in done.stderr
    assert _files(copy) == before


def test_make_repository_runs_the_rewrite():
    shown = subprocess.run(["make", "-n", "repository", f"URL={NEW[0]}", f"BRANCH={NEW[1]}"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout
    assert f'scripts/set_repository.py "{NEW[0]}" --branch "{NEW[1]}"' in shown


# The workflow -----------------------------------------------------------------------------

def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _book_recipe() -> list[str]:
    """The command lines of the Makefile's ``book`` target."""
    lines = (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("book:"))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def _steps(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if str(s.get("uses", "")).split("@")[0] == action]


def test_workflow_runs_on_push_to_the_book_branch_and_by_hand():
    triggers = _workflow().get("on", _workflow().get(True))  # YAML 1.1 reads the key `on` as True
    assert triggers["push"]["branches"] == [_repository()[1]]
    assert "workflow_dispatch" in triggers


def test_workflow_has_the_pages_permissions_and_one_deployment_at_a_time():
    workflow = _workflow()
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert workflow["concurrency"]["group"] == "pages"


def test_workflow_builds_the_book_as_make_book_does():
    build = _workflow()["jobs"]["build"]
    uses = [s.get("uses") for s in build["steps"] if "uses" in s]
    assert "actions/checkout@v4" in uses and "actions/setup-python@v5" in uses
    assert str(_steps(build, "actions/setup-python")[0]["with"]["python-version"]) == "3.11"
    runs = [s["run"] for s in build["steps"] if "run" in s]
    assert any("pip install -e '.[book]'" in run for run in runs)
    book_extra = re.search(r"^book = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text(encoding="utf-8"),
                           re.M | re.S)
    assert book_extra and '"jupyter-book' in book_extra.group(1), "pyproject's `book` extra has no Jupyter Book"
    make = [line.removeprefix(".venv/bin/") for line in _book_recipe() if "jupyter-book build" in line]
    assert make == ["jupyter-book build . --warningiserror --keep-going"], _book_recipe()
    assert any(make[0] in run.splitlines() for run in runs), f"no step runs `{make[0]}`: {runs}"
    assert not any("NCLIB_PROFILE" in str(s) for s in build["steps"]), "make book runs at the default profile"


def test_workflow_uploads_the_built_html_and_deploys_it():
    jobs = _workflow()["jobs"]
    upload = _steps(jobs["build"], "actions/upload-pages-artifact")
    assert [s["uses"] for s in upload] == ["actions/upload-pages-artifact@v3"]
    path = upload[0]["with"]["path"]
    assert path == "_build/html" and any(f"{path}/index.html" in line for line in _book_recipe()), (
        "the artifact must be the folder that `jupyter-book build .` writes the site to")
    deploy = jobs["deploy"]
    assert deploy["needs"] in ("build", ["build"])
    step = _steps(deploy, "actions/deploy-pages")
    assert [s["uses"] for s in step] == ["actions/deploy-pages@v4"]
    assert deploy["environment"] == {"name": "github-pages",
                                     "url": "${{ steps.%s.outputs.page_url }}" % step[0]["id"]}

"""Point the book at a GitHub repository: ``make repository URL=https://github.com/you/repo [BRANCH=main]``.

Rewrites, from the current ``repository.url`` and ``repository.branch`` of ``_config.yml``:

* ``_config.yml`` itself (the site's GitHub button and Colab launch links read it);
* the first code cell of every page, ``book/*.md`` and its paired ``.ipynb``: the line
  ``repo, branch = "<url>", "<branch>"`` of the cell that clones the repository in Colab;
* the Colab links ``colab.research.google.com/github/<owner>/<repo>/blob/<branch>/`` of README.md;
* the branch whose pushes publish the site: ``on: push: branches:`` of the Pages workflow;
* any other ``github.com/<owner>/<repo>`` in those files.

Nothing else changes, byte for byte. Every ``.ipynb`` is written before the ``.md`` files, so
each pair stays in sync with its text file the newer. Standard library only: it runs before
any install.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ".github/workflows/book.yml"
GITHUB_REPO = re.compile(r"https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
BRANCH_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*")
# The `repository:` block of _config.yml: the line and the indented (or blank) lines under it.
CONFIG_BLOCK = re.compile(r"^repository:[ \t]*\n(?:[ \t]+.*\n|[ \t]*\n)*", re.M)
# `repo, branch = "<url>", "<branch>"` of a first cell; in an .ipynb its quotes are escaped (\").
FIRST_CELL = re.compile(r'(repo, branch = (\\?)")[^"\\]*(\2", \2")[^"\\]*(\2")')


def _key(text: str, key: str, value: str | None = None):
    """The value of ``key:`` in a YAML block's text, or (with ``value``) the text with it set."""
    pattern = re.compile(rf"^([ \t]+{key}:[ \t]*)(\S+)", re.M)
    if value is None:
        found = pattern.search(text)
        return found and found.group(2)
    return pattern.sub(lambda m: m.group(1) + value, text, count=1)


def configured(config: str) -> tuple[str, str]:
    """``repository.url`` and ``repository.branch`` of the text of a _config.yml."""
    block = CONFIG_BLOCK.search(config)
    url, branch = (_key(block.group(0), "url"), _key(block.group(0), "branch")) if block else (None, None)
    if not (url and branch):
        sys.exit("_config.yml names no repository: url: and branch:")
    return url, branch


def targets(root: Path) -> list[Path]:
    """The files that name the repository, every .ipynb before the .md files."""
    book = sorted(root.glob("book/*.ipynb")) + sorted(root.glob("book/*.md"))
    return [root / "_config.yml", root / "README.md", root / WORKFLOW, *book]


def rewrite(text: str, old: tuple[str, str], new: tuple[str, str], kind: str = "") -> str:
    """``text`` with the repository ``old`` (url, branch) replaced by ``new``; ``kind`` is
    ``"config"`` for _config.yml, ``"workflow"`` for the Pages workflow."""
    (old_url, old_branch), (new_url, new_branch) = old, new
    if kind == "config":
        text = CONFIG_BLOCK.sub(lambda m: _key(_key(m.group(0), "url", new_url), "branch", new_branch),
                                text, count=1)
    if kind == "workflow":
        text = re.sub(rf"^(\s+branches: \[){re.escape(old_branch)}\]",
                      lambda m: f"{m.group(1)}{new_branch}]", text, count=1, flags=re.M)
    text = FIRST_CELL.sub(lambda m: f"{m.group(1)}{new_url}{m.group(3)}{new_branch}{m.group(4)}", text)
    old_slug, new_slug = (u.removeprefix("https://github.com/") for u in (old_url, new_url))
    text = text.replace(f"/github/{old_slug}/blob/{old_branch}/", f"/github/{new_slug}/blob/{new_branch}/")
    return re.sub(rf"github\.com/{re.escape(old_slug)}(?![\w.-])", lambda m: f"github.com/{new_slug}", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="https://github.com/<owner>/<repo>")
    parser.add_argument("--branch", help="the branch that Colab clones and that publishes the site "
                                         "(default: the current one)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the book's folder (default: this checkout)")
    args = parser.parse_args(argv)

    url = args.url.strip().removesuffix("/").removesuffix(".git")
    if not GITHUB_REPO.fullmatch(url):
        parser.error(f"URL must be https://github.com/<owner>/<repo>, not {args.url!r}")
    old = configured((args.root / "_config.yml").read_text(encoding="utf-8"))
    branch = args.branch or old[1]
    if not BRANCH_NAME.fullmatch(branch):
        parser.error(f"not a branch name: {branch!r}")
    kinds = {args.root / "_config.yml": "config", args.root / WORKFLOW: "workflow"}
    changed = []
    for path in targets(args.root):
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8")
        new = rewrite(text, old, (url, branch), kinds.get(path, ""))
        if new != text:
            path.write_bytes(new.encode("utf-8"))
            changed.append(path.relative_to(args.root).as_posix())
    print(f"repository {old[0]} ({old[1]}) -> {url} ({branch}): {len(changed)} files rewritten")
    for name in changed:
        print("  " + name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

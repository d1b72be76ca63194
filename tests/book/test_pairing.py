"""Every chapter, and the introduction, is a jupytext pair (book/NN_name.md + book/NN_name.ipynb)
kept in sync.

The .md is the text we review and edit; the .ipynb is the page the site builds and Colab
opens. These tests fail when the two drift apart (run ``make sync``), when a notebook is
committed with outputs, or when a chapter does not start by installing nclib in Colab.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
FORMATS = "ipynb,md:myst"


def _front_matter(path: Path) -> str:
    """The YAML front matter of a markdown file ('' when there is none)."""
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return ""
    end = text.find("\n---", 4)
    return text[4:end] if end != -1 else ""


def _chapters() -> list[Path]:
    """Chapter sources: book/[0-9]*.md files with a jupytext header."""
    return sorted(p for p in BOOK.glob("[0-9]*.md") if "jupytext:" in _front_matter(p))


CHAPTERS = _chapters()
IDS = [p.stem for p in CHAPTERS]
PAIRS = CHAPTERS + [BOOK / "intro.md"]  # the introduction computes its findings: a notebook too
PAIR_IDS = [p.stem for p in PAIRS]


def _cells(nb) -> list[tuple[str, str]]:
    """(cell type, source) of each cell: outputs, execution counts and metadata ignored."""
    return [(cell.cell_type, cell.source) for cell in nb.cells]


def _notebook(md: Path):
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{md.name} has no paired {ipynb.name}: run `make sync`"
    return nbformat.read(ipynb, as_version=4)


def test_book_has_chapters():
    assert CHAPTERS, "no book/[0-9]*.md chapter with a jupytext header was found"


def test_every_chapter_notebook_has_its_markdown():
    orphans = [nb.name for nb in sorted(BOOK.glob("[0-9]*.ipynb"))
               if nb.with_suffix(".md") not in CHAPTERS]
    assert not orphans, f"notebooks without a paired jupytext .md: {orphans}"


@pytest.mark.parametrize("md", PAIRS, ids=PAIR_IDS)
def test_pair_is_in_sync(md: Path):
    from_md = _cells(jupytext.read(md))
    from_ipynb = _cells(_notebook(md))
    assert len(from_md) == len(from_ipynb), (
        f"{md.name}: {len(from_md)} cells in the .md, {len(from_ipynb)} in the .ipynb "
        "(run `make sync`)")
    for i, (a, b) in enumerate(zip(from_md, from_ipynb)):
        assert a == b, f"{md.name}: cell {i} differs between .md and .ipynb (run `make sync`)"


@pytest.mark.parametrize("md", PAIRS, ids=PAIR_IDS)
def test_pair_formats(md: Path):
    nb = _notebook(md)
    assert nb.metadata.get("jupytext", {}).get("formats") == FORMATS, (
        f"{md.with_suffix('.ipynb').name} lacks jupytext formats: {FORMATS}")
    assert jupytext.read(md).metadata.get("jupytext", {}).get("formats") == FORMATS, (
        f"{md.name}'s header lacks formats: {FORMATS}")


@pytest.mark.parametrize("md", PAIRS, ids=PAIR_IDS)
def test_first_code_cell_installs_nclib_only_in_colab(md: Path):
    code = [cell for cell in _notebook(md).cells if cell.cell_type == "code"]
    assert code, f"{md.name} has no code cell"
    first = code[0].source
    # `pip install`, `%pip install` or `[..., "pip", "install", ...]`
    assert "google.colab" in first and re.search(r"\bpip\W+install\b", first), (
        f"{md.name}: the first code cell must install nclib when run in Colab "
        f"(and only there); it reads:\n{first}")


@pytest.mark.parametrize("md", PAIRS, ids=PAIR_IDS)
def test_notebook_committed_without_outputs(md: Path):
    dirty = [i for i, cell in enumerate(_notebook(md).cells) if cell.cell_type == "code"
             and (cell.get("outputs") != [] or cell.get("execution_count") is not None)]
    assert not dirty, (
        f"{md.with_suffix('.ipynb').name}: cells {dirty} carry outputs or execution counts; "
        f"rewrite it from the .md without outputs: `jupytext --to ipynb book/{md.name}`")


# Tags that hide a cell's output: a chapter's numbers and figures are never hidden.
HIDING_OUTPUT = {"hide-output", "remove-output", "hide-cell", "remove-cell"}
ADMONITION = re.compile(r"^(`{3,}|:{3,})\{(admonition|tip|note|important)\}", re.M)


def _sections(md: Path) -> list[tuple[str, list]]:
    """(level-2 or level-3 heading, cells up to the next one) of a chapter, in order."""
    sections = []
    for cell in jupytext.read(md).cells:
        headings = (re.findall(r"^###? +(.+?)\s*$", cell.source, re.M)
                    if cell.cell_type == "markdown" else [])
        for heading in headings:
            sections.append((heading, []))
        if sections:
            sections[-1][1].append(cell)
    return sections


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_chapter_opens_with_the_claim_and_ends_with_verdicts(md: Path):
    sections = _sections(md)
    names = [name for name, _ in sections]
    assert names and names[0] == "Overview", (
        f"{md.name}: the first section must be `## Overview`; sections: {names}")
    overview = "\n".join(cell.source for cell in sections[0][1])
    assert ADMONITION.search(overview), (
        f"{md.name}: `## Overview` must open with an admonition box stating the paper's claim")
    assert "what you should see" in overview.lower(), (
        f"{md.name}: the Overview box must say \"What you should see\"")
    assert names[-1] == "Verdicts", (
        f"{md.name}: the last section must be `## Verdicts` (or `### Verdicts`, the live run's, under "
        f"`## Run it yourself`); sections: {names}")
    assert any(cell.cell_type == "code" for cell in sections[-1][1]), (
        f"{md.name}: `## Verdicts` must compute the verdicts in a code cell")
    if "Stored evidence" in names:  # the best stored evidence comes before the live run
        assert names.index("Stored evidence") < names.index("Run it yourself"), (
            f"{md.name}: `## Stored evidence` must come before `## Run it yourself`; sections: {names}")


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_plumbing_is_collapsed_and_results_are_shown(md: Path):
    code = [cell for cell in _notebook(md).cells if cell.cell_type == "code"][1:]  # not Colab's
    for cell in code:
        tags = set(cell.metadata.get("tags", []))
        head = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
        assert not tags & HIDING_OUTPUT, (
            f"{md.name}: the cell starting {head!r} hides its output ({sorted(tags)}); "
            "numbers and figures stay visible")
        plumbing = any(call in cell.source for call in
                       ("show_provenance(", "use_book_style(", "plt.show()"))
        assert not plumbing or "hide-input" in tags, (
            f"{md.name}: the cell starting {head!r} is plumbing (imports, provenance or "
            "plotting): tag it `hide-input`")


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_every_figure_has_a_caption_and_offers_its_data(md: Path):
    """A figure cell (one that calls ``plt.show()``) carries a MyST-NB figure caption, and the next
    code cell shows the figure's profile and data (``plotting.figure_data``). Not the same cell:
    MyST-NB wraps every display output of a captioned cell in the figure, so the data link would
    be a second figure with the same caption and name."""
    code = [cell for cell in _notebook(md).cells if cell.cell_type == "code"]
    problems = []
    for i, cell in enumerate(code):
        if "plt.show()" not in cell.source:
            continue
        head = cell.source.strip().splitlines()[0]
        figure = cell.metadata.get("mystnb", {}).get("figure", {})
        if not str(figure.get("caption", "")).strip():
            problems.append(f"{head!r}: no `mystnb: figure: caption` in the cell's metadata")
        if "figure_data(" in cell.source:
            problems.append(f"{head!r}: calls figure_data in the figure's cell; move it to the next cell")
        if i + 1 >= len(code) or "figure_data(" not in code[i + 1].source:
            problems.append(f"{head!r}: the next code cell does not call plotting.figure_data(...)")
    assert not problems, f"{md.name}: " + "; ".join(problems)

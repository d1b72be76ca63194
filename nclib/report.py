"""The book's result tables as HTML that fits the page column: verdicts, run summaries, settings
beside the published ones, Table 1, the claims ledger and the introduction's findings.

Every table is a :class:`Table`: HTML in a notebook (cells wrap instead of scrolling; a verdict
comes first and is coloured; a badge names the profile that produced the numbers), a few lines
of text in a terminal. :func:`show` displays one. The colours and the wrapping are the site's
stylesheet (``book/_static/custom.css``, classes ``nc-*``); the claims ledger's filter is
``book/_static/ledger-filter.js``, which reads the ``data-*`` attributes of :func:`claims_table`.

Wording: "published" is the paper's own numbers and settings; "the ``paper`` profile" is this
book's runs at the paper's settings. This module reads saved ledgers as given to it (dicts of
:func:`nclib.ledger.load`) and does not import :mod:`nclib.ledger`, which imports it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import math
import re
from pathlib import Path

from nclib.effects import PREMISE, SMALLER

__all__ = ["KINDS", "UNCLASSIFIED", "VERDICTS", "verdict_word", "verdict_slug", "EVIDENCE_ORDER", "PAPER_TABLE1",
           "Cell", "Table", "show", "badge", "verdict_cell", "claim_id", "verdict_table", "settings_table",
           "run_label", "runs_table", "table1_table", "claims_table", "counts_table", "ledger_answer",
           "kinds_markdown",
           "verdict_counts", "best_claims", "errata", "size_against_paper", "findings", "chapter_answer"]

KINDS = {
    "theory": "a claim of the paper's theory (Secs. 1-4, App. A-D), checked numerically in float64",
    "erratum": "an erratum of the paper found by the book: the corrected statement checked, or the printed one "
               "shown to fail",
    "extension": "a result of the book's own beyond the paper's statements: a sharper bound, where a theorem's "
                 "hypotheses fail, a counterexample for a quantity the paper does not use, a conjecture",
    "sec5": "a claim of the paper's experiments (Sec. 5, App. E: Figures 2-6, Table 1), judged on the book's "
            "training runs",
    "premise": "a premise under which the Sec. 5 claims are judged, checked on the same runs: they reach zero "
               "training error; Figure 6's blurred classes are the least collapsed",
    "published-data": "a Sec. 5 claim judged by the same rule on the published Table 1 (the paper's own means and "
                      "SDs, typed in), not on a run of the book",
    "self-check": "a check of the book's own set-up and code, not a claim of the paper: a solver converged, the "
                  "library matches a reference, a search is sound",
}
"""The kinds of claim (:class:`nclib.ledger.Claim`): name -> what it is, in the order the book
groups them."""
UNCLASSIFIED = "unclassified"
"""The kind read for a claim saved before kinds were recorded (:func:`nclib.ledger.load`)."""
_KIND_TITLES = {"theory": "the paper's theory, checked numerically", "erratum": "errata of the paper",
                "extension": "beyond the paper: the book's own results",
                "sec5": "the paper's experiments (Sec. 5), on the book's runs", "premise": "premises of the Sec. 5 claims",
                "published-data": "Sec. 5 claims on the published Table 1",
                "self-check": "the book's own set-up and code", UNCLASSIFIED: "saved before kinds were recorded"}
_KIND_ORDER = (*KINDS, UNCLASSIFIED)

VERDICTS = {True: "holds", False: "contradicted", None: "inconclusive"}
"""A claim's verdict (``Claim.holds``) -> the word the book uses for it."""
_MARKS = {True: "✓", False: "✗", None: "?"}
_CLASSES = {True: "nc-holds", False: "nc-contradicted", None: "nc-inconclusive"}
_SLUGS = {"holds": "holds", "contradicted": "contradicted", SMALLER: "smaller", "inconclusive": "inconclusive",
          PREMISE: "premise"}

EVIDENCE_ORDER = ("paper", "medium", "small")
"""Profiles whose verdicts are evidence, best first (``smoke`` only shows that the code runs)."""

_COLUMNS = (("cifar10", "mse"), ("cifar10", "ce"), ("mnist", "mse"), ("mnist", "ce"))
_PAPER_ROWS = {  # preset -> (NC1 mean, SD), (NC2 mean, SD) for each column of _COLUMNS, in order
    "baseline": [(0.0061, 4e-4), (0.111, 1e-2), (0.062, 5e-3), (0.173, 1e-2),
                 (8e-4, 5e-5), (0.072, 1e-2), (0.004, 3e-4), (0.115, 5e-3)],
    "wd2_W": [(0.0055, 3e-4), (0.101, 8e-3), (0.040, 2e-3), (0.161, 7e-3),
              (5e-4, 5e-5), (0.055, 1e-2), (0.003, 1e-4), (0.102, 3e-3)],
    "wd2_H": [(0.0022, 8e-5), (0.070, 6e-3), (0.024, 4e-3), (0.131, 9e-3),
              (4e-4, 2e-5), (0.048, 5e-3), (0.002, 7e-5), (0.101, 3e-3)],
    "wd0_W": [(0.0048, 2e-4), (0.101, 6e-3), (0.104, 8e-3), (0.195, 9e-3),
              (1.7e-3, 1e-4), (0.108, 2e-2), (0.009, 4e-4), (0.147, 5e-3)],
    "wd0_H": [(0.0280, 3e-3), (0.226, 6e-3), (0.174, 7e-3), (0.331, 1e-2),
              (0.041, 2e-3), (0.303, 2e-2), (0.031, 4e-4), (0.198, 8e-3)],
}
PAPER_TABLE1 = {(ds, loss, preset, metric): _PAPER_ROWS[preset][2 * c + m]
                for preset in _PAPER_ROWS for c, (ds, loss) in enumerate(_COLUMNS)
                for m, metric in enumerate(("nc1", "nc2"))}
"""Table 1 as published (App. E.2), typed in: ``(dataset, loss, preset, metric) -> (mean, SD)``
over 3 seeds at epoch 100; presets of :data:`nclib.train.WD_PRESETS`; the published "41e-3" is
0.041."""

_DATASETS = {"cifar10": "CIFAR-10", "mnist": "MNIST"}


@dataclasses.dataclass(frozen=True)
class Cell:
    """One table cell: ``text`` (in HTML escaped, each number kept on one line:
    :func:`_unbroken_numbers`), or ``markup`` shown in its place in HTML; ``cls``: CSS class of
    the cell."""

    text: str
    markup: str | None = None
    cls: str = ""

    def html(self, tag: str = "td") -> str:
        cls = f' class="{self.cls}"' if self.cls else ""
        return f"<{tag}{cls}>{self.markup if self.markup is not None else _unbroken_numbers(self.text)}</{tag}>"


def _cell(value) -> Cell:
    return value if isinstance(value, Cell) else Cell(str(value))


class Table:
    """A result table. ``columns``: header labels; ``rows``: sequences of cells (a :class:`Cell`
    or any value, shown with ``str``), or a single string for a group heading that spans the
    row; ``profile``: the profile that produced the numbers (a badge above the table);
    ``caption``: one line above it; ``row_ids``: an HTML id per row (None: none); ``row_attrs``:
    per row, a dict of ``data-*`` attributes (None: none); ``attrs``: those of the table."""

    def __init__(self, columns, rows, *, profile: str | None = None, caption: str = "", row_ids=None,
                 kind: str = "", row_attrs=None, attrs: dict | None = None):
        self.columns = [str(c) for c in columns]
        self.rows = [row if isinstance(row, str) else [_cell(v) for v in row] for row in rows]
        for row in self.rows:
            if not isinstance(row, str) and len(row) != len(self.columns):
                raise ValueError(f"rows: a row has {len(row)} cells for {len(self.columns)} columns")
        self.profile, self.caption, self.kind = profile, caption, kind
        self.row_ids = list(row_ids) if row_ids is not None else [None] * len(self.rows)
        if len(self.row_ids) != len(self.rows):
            raise ValueError(f"row_ids: {len(self.row_ids)} ids for {len(self.rows)} rows")
        self.row_attrs = list(row_attrs) if row_attrs is not None else [None] * len(self.rows)
        if len(self.row_attrs) != len(self.rows):
            raise ValueError(f"row_attrs: {len(self.row_attrs)} attribute sets for {len(self.rows)} rows")
        self.attrs = dict(attrs or {})
        for name in [k for a in (self.attrs, *self.row_attrs) if a for k in a]:
            if not re.fullmatch(r"data-[a-z0-9-]+", name):
                raise ValueError(f"attribute {name!r}: only data-* attributes of lowercase letters, digits and '-'")

    @staticmethod
    def _attrs(attrs) -> str:
        return "".join(f' {k}="{html.escape(str(v))}"' for k, v in (attrs or {}).items())

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{_unbroken_numbers(c)}</th>" for c in self.columns)
        body = []
        for row, rid, attrs in zip(self.rows, self.row_ids, self.row_attrs):
            ident = (f' id="{html.escape(rid)}"' if rid else "") + self._attrs(attrs)
            if isinstance(row, str):
                body.append(f'<tr class="nc-group"{ident}><th colspan="{len(self.columns)}">{_unbroken_numbers(row)}</th></tr>')
            else:
                body.append(f"<tr{ident}>{''.join(c.html() for c in row)}</tr>")
        top = " ".join(x for x in (badge(self.profile) if self.profile else "",
                                   html.escape(self.caption)) if x)
        return (f'<div class="nc-result">{f"<p class=nc-caption>{top}</p>" if top else ""}'
                f'<table class="nc-table {self.kind}"{self._attrs(self.attrs)}><thead><tr>{head}</tr></thead>'
                f"<tbody>{''.join(body)}</tbody></table></div>")

    def __str__(self) -> str:
        lines = [" ".join(x for x in (f"[profile: {self.profile}]" if self.profile else "", self.caption) if x)]
        lines.append(" | ".join(self.columns))
        lines += [f"-- {row} --" if isinstance(row, str) else " | ".join(c.text for c in row) for row in self.rows]
        return "\n".join(line for line in lines if line)

    __repr__ = __str__


def show(table: Table) -> None:
    """Display ``table``: its HTML in a notebook, its text elsewhere."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is part of the book's install
        get_ipython = lambda: None  # noqa: E731
    if get_ipython() is None:
        print(table)
    else:
        from IPython.display import display

        display(table)


def badge(profile: str) -> str:
    """The HTML badge naming the profile that produced a table or figure."""
    p = html.escape(str(profile))
    return f'<span class="nc-badge nc-badge-{p}" title="computed at the {p} profile">profile: {p}</span>'


def verdict_word(holds: bool | None, qualifier: str = "") -> str:
    """The verdict in words: "holds", "contradicted", "inconclusive", or qualified (:mod:`nclib.effects`):
    "holds, smaller than the paper's", "smaller than the paper's" (inconclusive, yet an effect of
    the paper's size is excluded), "premise not met" (not judged)."""
    if not qualifier:
        return VERDICTS[holds]
    return f"{VERDICTS[holds]}, {qualifier}" if holds is True else qualifier


def verdict_slug(holds: bool | None, qualifier: str = "") -> str:
    """The verdict's category as one word, as :func:`verdict_counts` counts it: "holds" (a qualified
    one included), "contradicted", "smaller", "inconclusive" or "premise"."""
    return _SLUGS[VERDICTS[holds] if holds is not None or not qualifier else qualifier]


def _class(holds: bool | None, qualifier: str) -> str:
    return "nc-premise" if qualifier == PREMISE else _CLASSES[holds]


def verdict_cell(holds: bool | None, qualifier: str = "") -> Cell:
    """A coloured verdict cell (:func:`verdict_word`; ``holds`` True, False, None)."""
    return Cell(f"{_MARKS[holds]} {verdict_word(holds, qualifier)}", cls=f"nc-verdict {_class(holds, qualifier)}")


_NUMBER = re.compile(r"(?:(?<![\w.])[-+\u2212])?\d(?:[\d.,]*\d)?(?:[eE][-+\u2212]?\d+)?%?")


def _unbroken_numbers(text: str) -> str:
    """``text`` escaped for HTML, each number (:data:`_NUMBER`: "-1.3e-04", "1,024", "95%") in a
    span that keeps it on one line: a narrow column may break the text between the numbers, never
    inside one (browsers break "4.0e-05" after its hyphen). An inline style, not a class of the
    site's stylesheet, so that the tables read the same in Colab and Jupyter, which lack it."""
    out, last = [], 0
    for m in _NUMBER.finditer(text):
        out += [html.escape(text[last:m.start()]), f'<span style="white-space:nowrap">{html.escape(m.group())}</span>']
        last = m.end()
    return "".join(out) + html.escape(text[last:])


def _mark_span(holds: bool | None, qualifier: str = "") -> str:
    """A verdict as its mark, with the words beside it; on a phone the words are visually hidden
    (still read out by screen readers), so that a column per profile fits."""
    return (f'<span class="nc-verdict {_class(holds, qualifier)}">{_MARKS[holds]}'
            f'<span class="nc-word"> {verdict_word(holds, qualifier)}</span></span>')


def claim_id(chapter: str, claim: str, profile: str) -> str:
    """The HTML id of a claim's verdict row in its chapter: ``claim-<profile>-<chapter>-<first
    words>-<hash>`` (a chapter may show the same claim's verdict at two profiles: the stored
    evidence and the live run), stable as long as the claim's text is."""
    words = re.findall(r"[a-z0-9]+", claim.lower())[:6]
    digest = hashlib.sha1(f"{chapter}\n{claim}".encode()).hexdigest()[:6]
    return "-".join(["claim", profile, chapter, *words, digest])


def _as_dict(claim) -> dict:
    return claim if isinstance(claim, dict) else dataclasses.asdict(claim)


def verdict_table(claims, profile: str) -> Table:
    """A chapter's verdicts (:class:`nclib.ledger.Claim` objects or saved dicts): verdict, claim
    (with a link to the section that computes it) and evidence; each row carries the claim's
    :func:`claim_id`, the target of the ledger page's links; a claim of another kind than
    "theory" or "sec5" is tagged with its kind (:data:`KINDS`)."""
    rows, ids = [], []
    for c in map(_as_dict, claims):
        link = f' <a class="nc-cell-link" href="#{html.escape(c["anchor"])}">(computed here)</a>'
        kind = c.get("kind", UNCLASSIFIED)
        tag = "" if kind in ("theory", "sec5") else f' <small class="nc-kind">[{html.escape(kind)}]</small>'
        rows.append([verdict_cell(c["holds"], c.get("qualifier", "")),
                     Cell(c["claim"], _unbroken_numbers(c["claim"]) + tag + link),
                     Cell(c["evidence"], _unbroken_numbers(c["evidence"]))])
        ids.append(claim_id(c["chapter"], c["claim"], c["profile"]))
    return Table(["verdict", "claim", "evidence"], rows, profile=profile, row_ids=ids, kind="nc-verdicts",
                 caption=_count_line(verdict_counts(claims)))


def verdict_counts(claims) -> dict:
    """``{"holds": n, "contradicted": n, "smaller than the paper's": n, "inconclusive": n, "premise
    not met": n}`` of ``claims`` ("holds" includes those qualified smaller than the paper's; the
    last three are the verdicts None, by qualifier)."""
    counts = dict.fromkeys(("holds", "contradicted", SMALLER, "inconclusive", PREMISE), 0)
    words = {slug: word for word, slug in _SLUGS.items()}
    for c in map(_as_dict, claims):
        counts[words[verdict_slug(c["holds"], c.get("qualifier", ""))]] += 1
    return counts


def _count_line(counts: dict) -> str:
    """"3 holds, 1 contradicted, 2 inconclusive" (the qualified counts only where not zero)."""
    return ", ".join(f"{n} {word}" for word, n in counts.items() if n or word in VERDICTS.values())


_NOT_PUBLISHED = {"bf16": "not stated"}
"""Settings of the ``paper`` profile that the paper does not state: this book's choices."""


def settings_table(experiment: str, profile: str | None = None) -> Table:
    """:func:`nclib.experiments.settings_rows` as a table: each setting at ``profile`` beside the
    published one (the ``paper`` profile's value, or "not stated" for this book's own choices such
    as bfloat16), the fields that differ from the published ones marked."""
    from nclib import experiments, profiles

    profile = profile or profiles.current()
    rows = []
    for field, mine, paper, differs in experiments.settings_rows(experiment, profile):
        if field in _NOT_PUBLISHED:
            field, paper, differs = f"{field} (this book's choice)", _NOT_PUBLISHED[field], False
        rows.append([field, Cell(mine, cls="nc-differs" if differs else ""), paper,
                     Cell("differs" if differs else "", cls="nc-differs" if differs else "")])
    return Table(["setting", f"{profile} profile", "published", ""], rows, profile=profile, kind="nc-settings",
                 caption=f"settings of {experiment}")


def run_label(key) -> str:
    """A run named by what it is: ``(dataset, loss, setting, seed)`` -> "CIFAR-10, CE, WDx2 for H, seed 0"."""
    from nclib.train import PRESET_LABELS

    dataset, loss, setting, seed = key
    return f"{_DATASETS.get(dataset, dataset)}, {loss.upper()}, {PRESET_LABELS.get(setting, setting)}, seed {seed}"


def runs_table(runs: dict, profile: str) -> Table:
    """One row per run (``{(dataset, loss, setting, seed): result}``), named by :func:`run_label`:
    the first epoch with zero training error, the divergences after it
    (:func:`nclib.analysis.divergences`), and the last epoch's training error, NC1 and NC2 of
    the deepest features and test accuracy (:mod:`nclib.analysis`)."""
    from nclib import analysis

    rows = []
    for key, r in runs.items():
        z = analysis.zero_error_epoch(r)
        found = analysis.run_divergences(r)
        diverged = ", ".join(f"epoch {d['start']} (error {d['peak_error']:.2f})" for d in found) or "none"
        rows.append([run_label(key), "never" if z is None else z, diverged,
                     f"{analysis.curve(r, 'train_error')[-1]:.3f}",
                     f"{analysis.curve(r, 'nc1')[-1]:.3g}", f"{analysis.curve(r, 'nc2')[-1]:.3f}",
                     f"{analysis.curve(r, 'test_acc')[-1]:.3f}"])
    minutes = sum(r["wall_time_s"] for r in runs.values()) / 60
    device = next(iter(runs.values()))["provenance"]["device"] if runs else "-"
    return Table(["run", "zero training error at epoch", "diverged after it", "final train error", "NC1", "NC2",
                  "test acc"], rows,
                 profile=profile, kind="nc-runs", caption=f"{len(runs)} runs, {minutes:.1f} min on {device}")


def _pm(mean_sd) -> str:
    mean, sd = mean_sd
    return f"{mean:.3g} (one seed)" if math.isnan(sd) else f"{mean:.3g} ± {sd:.1g}"


def _pm_cell(mean_sd) -> Cell:
    text = _pm(mean_sd)
    return Cell(text, _unbroken_numbers(text))


def table1_table(ours: dict, profile: str, caption: str = "", paper: dict = PAPER_TABLE1) -> Table:
    """Table 1 side by side: for each (dataset, loss) and setting, the published mean ± SD of NC1
    and NC2, this book's at ``profile`` and the difference of the means (this book's minus the
    published). ``ours``: ``(dataset, loss, preset, metric) -> (mean, SD)``; keys missing from
    ``ours`` are shown as "-"."""
    from nclib.train import PRESET_LABELS

    rows = []
    for ds, loss in _COLUMNS:
        rows.append(f"{_DATASETS[ds]}, {loss.upper()}")
        for preset, label in PRESET_LABELS.items():
            row = [label]
            for metric in ("nc1", "nc2"):
                p, o = paper[ds, loss, preset, metric], ours.get((ds, loss, preset, metric))
                row += [_pm_cell(p), "-" if o is None else _pm_cell(o), "-" if o is None else f"{o[0] - p[0]:+.2g}"]
            rows.append(row)
    return Table(["setting", "NC1 published", "NC1 this book", "diff", "NC2 published", "NC2 this book", "diff"], rows,
                 profile=profile, caption=caption, kind="nc-table1")


def _book_dir(book) -> Path:
    return Path(book) if book is not None else Path(__file__).resolve().parents[1] / "book"


def _page_titles(book: Path | None = None) -> dict:
    """Chapter page -> its title (the first "# " heading of ``book/NN_*.md``; the page's name where
    the title has math)."""
    titles = {}
    for path in sorted(_book_dir(book).glob("[0-9][0-9]_*.md")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("# "):
                titles[path.stem] = line[2:].strip() if not re.search(r"[$\\`]", line) else path.stem
                break
    return titles


def _profile_label(profile: str) -> str:
    """A profile's name as a table shows it: "paper profile" (not the published paper), "medium"."""
    return "paper profile" if profile == "paper" else profile


def _kind(claim: dict) -> str:
    return claim.get("kind", UNCLASSIFIED)


def _kind_rank(kind: str) -> int:
    return _KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)


def claims_table(ledgers_by_profile: dict, built=(), book: Path | None = None) -> Table:
    """The ledger page: one row per claim, grouped by chapter and, within it, by kind
    (:data:`KINDS`; a group row names both); the best evidence first (the verdict of the first
    profile of :data:`EVIDENCE_ORDER` that has one), then a column per profile of
    ``ledgers_by_profile`` (``{profile: nclib.ledger.load(profile)}``, smoke left out). Each claim
    links to the verdict row (:func:`claim_id`) of its best evidence, else of another profile, on
    its chapter's page when the site shows one there (``built``: the saved ledgers the site's
    build rendered, :func:`nclib.ledger.rendered`), else to the section that computes it. Each
    claim's row carries ``data-kind``, ``data-best`` and ``data-v-<profile>`` (:func:`verdict_slug`)
    for the page's filter; the table carries ``data-profiles`` and ``data-kinds``."""
    cols = [p for p in EVIDENCE_ORDER if ledgers_by_profile.get(p)]
    rows: dict[tuple, dict] = {}
    for profile in cols:
        for ledger in ledgers_by_profile[profile]:
            for c in ledger["claims"]:
                rows.setdefault((c["page"], c["claim"]), {})[profile] = c
    here: dict = {}
    for ledger in built:
        for c in ledger["claims"]:
            here.setdefault((c["page"], c["claim"]), []).append(c["profile"])
    best = {key: next(p for p in cols if p in by) for key, by in rows.items()}
    kinds = {key: _kind(by[best[key]]) for key, by in rows.items()}
    order = sorted(rows, key=lambda key: (key[0], _kind_rank(kinds[key])))
    sizes: dict = {}
    for key in order:
        sizes[key[0], kinds[key]] = sizes.get((key[0], kinds[key]), 0) + 1
    titles = _page_titles(book)
    out, attrs, group = [], [], None
    for i, key in enumerate(order, 1):
        by_profile, kind = rows[key], kinds[key]
        if (key[0], kind) != group:
            group = (key[0], kind)
            n = sizes[group]
            out.append(f"{titles.get(key[0], key[0])} — {_KIND_TITLES.get(kind, kind)} "
                       f"({n} claim{'s' if n > 1 else ''})")
            attrs.append({"data-kind": kind})
        c = by_profile[best[key]]
        on_page = here.get(key, [])
        shown = next((p for p in (best[key], *cols, *on_page) if p in on_page), None)
        target = c["anchor"] if shown is None else claim_id(c["chapter"], c["claim"], shown)
        link = f'<a href="{html.escape(c["page"])}.html#{html.escape(target)}">{_unbroken_numbers(c["claim"])}</a>'
        q = c.get("qualifier", "")
        source = "published Table 1" if kind == "published-data" else _profile_label(best[key])
        cells = [i, Cell(c["claim"], link),
                 Cell(f"{verdict_word(c['holds'], q)} ({source})",
                      f"{verdict_cell(c['holds'], q).html('span')} <small>({_unbroken_numbers(source)})</small>",
                      cls="nc-best")]
        for p in cols:
            v = by_profile.get(p)
            vq = "" if v is None else v.get("qualifier", "")
            cells.append(Cell("not run", cls="nc-notrun") if v is None else
                         Cell(f"{verdict_word(v['holds'], vq)}: {v['evidence']}",
                              f"{_mark_span(v['holds'], vq)}<br><small>{_unbroken_numbers(v['evidence'])}</small>"))
        out.append(cells)
        attrs.append({"data-kind": kind, "data-best": verdict_slug(c["holds"], q),
                      **{f"data-v-{p}": verdict_slug(v["holds"], v.get("qualifier", "")) for p, v in by_profile.items()}})
    present = sorted({kinds[key] for key in order}, key=_kind_rank)
    return Table(["#", "claim (link: where it is computed)", "best evidence", *map(_profile_label, cols)], out,
                 kind="nc-ledger",
                 row_attrs=attrs, attrs={"data-profiles": " ".join(cols), "data-kinds": " ".join(present)})


def counts_table(ledgers_by_profile: dict) -> Table:
    """The count of each verdict (:func:`verdict_counts`), by kind of claim (a group row per kind,
    :data:`KINDS`) and profile (``{profile: nclib.ledger.load(profile)}``, in
    :data:`EVIDENCE_ORDER`)."""
    cols = [p for p in EVIDENCE_ORDER if ledgers_by_profile.get(p)]
    claims = {p: [c for entry in ledgers_by_profile[p] for c in entry["claims"]] for p in cols}
    rows = []
    for kind in sorted({_kind(c) for p in cols for c in claims[p]}, key=_kind_rank):
        rows.append(f"{kind}: {_KIND_TITLES.get(kind, kind)}")
        for p in cols:
            mine = [c for c in claims[p] if _kind(c) == kind]
            if mine:
                rows.append([_profile_label(p), len(mine), *verdict_counts(mine).values()])
    return Table(["profile", "claims", "holds", "contradicted", SMALLER, "inconclusive", PREMISE], rows,
                 kind="nc-counts")


def ledger_answer(ledgers_by_profile: dict) -> str:
    """The claims ledger's answer box (a MyST admonition of class ``nc-answer``): how many claims
    of each kind (:data:`KINDS`) the book checks, each counted once at its best evidence, and their
    verdicts (``ledgers_by_profile``: ``{profile: nclib.ledger.load(profile)}``)."""
    best = best_claims(ledgers_by_profile)
    kinds = sorted({_kind(c) for c in best}, key=_kind_rank)
    parts = [f"{_KIND_TITLES.get(k, k)}: {len(_of(best, k))} ({_tally(_of(best, k))})" for k in kinds]
    return "\n".join([":::{admonition} What the book checks", ":class: nc-answer",
                      f"{len(best)} claims, each counted once at its best evidence"
                      + (": " + "; ".join(parts) if parts else "") + ".", ":::"])


_RUN_KINDS = ("sec5", "premise")
"""Kinds of claim judged on training runs: their evidence is named by its size against the paper's."""


def _evidence_label(profile: str, kind: str) -> str:
    """Where claims of ``kind`` at ``profile`` come from, in a few words."""
    if kind == "published-data":
        return "the published means and SDs"
    if kind not in _RUN_KINDS:
        return f"float64 computations at {_profile_name(profile)}"
    if profile == "paper":
        return "the stored runs at the paper's size (`paper` profile)"
    where = "stored runs" if profile == "medium" else "runs"
    return f"the {where} of {_profile_name(profile)} ({size_against_paper(profile, short=True)})"


def chapter_answer(page: str, claim: str, saved: dict) -> str:
    """A chapter's answer box (a MyST admonition of class ``nc-answer``, first under its title):
    ``claim``, what the paper claims (MyST); then what the book finds, read from the saved ledgers
    ``saved`` (``{profile: nclib.ledger.load(profile)}``): the claims of ``page`` (e.g.
    ``"06_weight_decay_cifar10"``), each once at its best profile (:data:`EVIDENCE_ORDER`), counted
    by kind and verdict under the evidence they rest on; the contradicted ones and the premises not
    met named; a link to the section whose cell computes the first of them."""
    mine = [c for c in best_claims(saved) if c["page"] == page]
    lines = [":::{admonition} In short", ":class: nc-answer", f"**The paper.** {' '.join(claim.split())}", ""]
    if not mine:
        return "\n".join(lines + ["**The book.** No verdicts saved yet: they are computed at the end of this page.",
                                   ":::"])
    lines.append(f"**The book** (each claim counted once, at its best evidence; the verdicts with their numbers "
                 f"{{ref}}`below <{mine[0]['anchor']}>`, every claim in the {{doc}}`claims ledger <10_claims_ledger>`):")
    sources: dict = {}
    for c in mine:
        sources.setdefault(_evidence_label(c["profile"], _kind(c)), []).append(c)
    for source, claims in sources.items():
        lines += ["", f"*On {source}:*", ""]
        for kind in sorted({_kind(c) for c in claims}, key=_kind_rank):
            group = _of(claims, kind)
            title = _KIND_TITLES.get(kind, kind)
            n = len(group)
            tally = "all hold" if n > 1 and all(c["holds"] is True for c in group) else _tally(group)
            text = f"- {title[0].upper()}{title[1:]}: {n} claim{'s' if n > 1 else ''}, {tally}"
            if kind == "premise":
                text += _unmet(group)
            against = [c["claim"] for c in group if c["holds"] is False]
            lines.append(text + ("; contradicted: " + "; ".join(against) if against else "") + ".")
    return "\n".join(lines + [":::"])


def kinds_markdown() -> str:
    """The kinds of claim (:data:`KINDS`) as a MyST definition list."""
    return "\n\n".join(f"`{kind}`\n: {text}." for kind, text in KINDS.items())


def errata(book: Path | None = None) -> list[dict]:
    """The errata and counterexamples the chapters report, in ``book/NN_*.md``: each admonition whose
    title starts with "Erratum" or "Counterexample" and each heading that says "counterexample" or
    "not monotone", as ``{"page", "label", "title"}`` (label: the nearest section label above it,
    None if there is none)."""
    book = Path(book) if book is not None else Path(__file__).resolve().parents[1] / "book"
    found = []
    for path in sorted(book.glob("[0-9][0-9]_*.md")):
        label = None
        for line in path.read_text(encoding="utf-8").splitlines():
            m = re.match(r"^\(([\w-]+)\)=\s*$", line)
            if m:
                label = m.group(1)
            m = (re.match(r"^(?:`{3,}|:{3,})\{admonition\}\s+((?:Erratum|Counterexample)\b.*)$", line)
                 or re.match(r"^#{2,}\s+(.*(?:[Cc]ounterexample|not monotone).*)$", line))
            if m:
                found.append({"page": path.stem, "label": label, "title": m.group(1).strip()})
    return found


def _stored(profile: str) -> dict:
    """``{experiment: (runs stored, runs in its grid, model)}`` at ``profile``."""
    from nclib import experiments
    from nclib.train import result_file

    folder, out = experiments.results_dir(profile), {}
    for name in experiments.EXPERIMENTS:
        configs = list(experiments.grid(name, profile).values())
        if configs:
            out[name] = (sum(result_file(folder, c).is_file() for c in configs), len(configs), configs[0].model)
    return out


def _stored_runs(profile: str) -> tuple[int, int, list[str]]:
    """(runs stored, runs in every grid, experiments complete) at ``profile``."""
    from nclib import experiments

    from nclib.train import result_file

    folder, files, complete = experiments.results_dir(profile), set(), []
    for name in experiments.EXPERIMENTS:
        paths = {result_file(folder, c) for c in experiments.grid(name, profile).values()}
        files |= paths
        if paths and all(p.is_file() for p in paths):
            complete.append(name)
    return sum(p.is_file() for p in files), len(files), complete


def _ratio(mine: float, paper: float) -> str:
    """``mine`` as a fraction of ``paper``: "1/8", "1/3.8", "1/250", "same", "2x"."""
    if mine == paper:
        return "same"
    r = paper / mine if mine < paper else mine / paper
    text = f"{r:.0f}" if r >= 10 else f"{r:.2g}"
    return f"1/{text}" if mine < paper else f"{text}x"


def size_against_paper(profile: str, short: bool = False) -> str:
    """How far ``profile``'s Table 1 runs are from the paper's size, computed from
    :mod:`nclib.profiles`: ResNet18 width, training images per class and SGD steps to Table 1's
    read-out, each as "<this profile's> of <the paper's> (<ratio>)", per data set; ``short``: the
    ratios only ("width 1/8, images per class 1/16, SGD steps 1/3.8 to 1/3.5"); "" at the ``paper``
    profile."""
    if profile == "paper":
        return ""
    from nclib import data, experiments, profiles

    def sizes(p):
        out = {}
        for (ds, _, setting, _), c in experiments.grid("table1", p).items():
            if setting == "baseline" and ds not in out:
                n = c.n_per_class or data.SPLIT_SIZES[ds][0] // data.DATASETS[ds].num_classes
                read_out = profiles.settings("experiments", p).table1_epoch or c.epochs
                out[ds] = (c.width, n, experiments.steps_per_epoch(ds, c.n_per_class, c.batch_size) * read_out)
        return out

    mine, paper = sizes(profile), sizes("paper")
    if short:
        ratios = [sorted({_ratio(m[i], paper[ds][i]) for ds, m in mine.items()}, key=lambda r: (len(r), r))
                  for i in range(3)]
        return ", ".join(f"{what} {' to '.join(r)}" for what, r in
                         zip(("width", "images per class", "SGD steps"), ratios))
    width = {(m[0], paper[ds][0]) for ds, m in mine.items()}
    parts = [", ".join(f"width {a} of {b} ({_ratio(a, b)})" for a, b in sorted(width))]
    for i, (ds, (_, n, steps)) in enumerate(mine.items()):
        _, pn, psteps = paper[ds]
        parts.append(f"{_DATASETS.get(ds, ds)}: {n:,} of {pn:,} training images per class ({_ratio(n, pn)}) and "
                     f"{steps:,} of {psteps:,} SGD steps" + (" to Table 1's read-out" if i == 0 else "")
                     + f" ({_ratio(steps, psteps)})")
    return "; ".join(parts)


def best_claims(saved: dict) -> list[dict]:
    """Each claim of ``saved`` (``{profile: nclib.ledger.load(profile)}``) once, at the first
    profile of :data:`EVIDENCE_ORDER` that has it."""
    seen, out = set(), []
    for p in EVIDENCE_ORDER:
        for entry in saved.get(p) or []:
            for c in entry["claims"]:
                if (c["page"], c["claim"]) not in seen:
                    seen.add((c["page"], c["claim"]))
                    out.append(c)
    return out


def _of(claims, kind: str) -> list[dict]:
    return [c for c in claims if _kind(c) == kind]


def _tally(claims) -> str:
    """"12 hold", "10 hold, 2 contradicted, 1 inconclusive" (:func:`verdict_counts`, zeros left out)."""
    n = verdict_counts(claims)
    words = {"holds": "hold", "contradicted": "contradicted", SMALLER: SMALLER, "inconclusive": "inconclusive",
             PREMISE: PREMISE}
    return ", ".join(f"{k} {'holds' if w == 'holds' and k == 1 else words[w]}" for w, k in n.items() if k) or "none"


def _profile_name(profile: str) -> str:
    return "`paper` profile" if profile == "paper" else f"`{profile}`"


def _subject(claim: str) -> tuple[str, str]:
    """"Fig. 3 (CE) NC1 of the deepest features: feature WD = 0 raises it" -> (subject, statement)."""
    subject, sep, statement = claim.partition(": ")
    return (subject, statement) if sep else ("", claim)


def _unmet(premises) -> str:
    """The premises not met, grouped by what they state: " (<statement>: not met for <subjects>; ...)"."""
    by: dict = {}
    for c in premises:
        if c["holds"] is not True:
            subject, statement = _subject(c["claim"])
            by.setdefault(statement, []).append(subject)
    parts = [f"{statement}: not met for {', '.join(subjects)}" for statement, subjects in by.items()]
    return f" ({'; '.join(parts)})" if parts else ""


def _decided_lines(claims) -> list[str]:
    """One line per subject (:func:`_subject`) of ``claims`` with a decided verdict: its statements
    with their verdicts, and how many others are not decided."""
    groups: dict = {}
    for c in claims:
        groups.setdefault(_subject(c["claim"])[0], []).append(c)
    lines = []
    for subject, group in groups.items():
        decided = [c for c in group if c["holds"] is not None]
        if decided:
            said = "; ".join(f"{_subject(c['claim'])[1]} ({verdict_word(c['holds'], c.get('qualifier', ''))})"
                             for c in decided)
            rest = len(group) - len(decided)
            lines.append(f"- {subject or 'other'}: {said}" + (f"; {rest} more not decided" if rest else ""))
    return lines


def _table1_baseline(profile: str) -> dict:
    """``{(dataset, loss): {metric: (mean, SD)}}`` of Table 1's baseline at ``profile``, for the
    columns whose baseline runs (every Table 1 seed) are stored."""
    from nclib import analysis, experiments, profiles

    runs = experiments.stored("table1", profile)
    seeds = len(profiles.settings("experiments", profile).table1_seeds)
    out = {}
    for ds, loss in _COLUMNS:
        base = [r for k, r in runs.items() if k[:3] == (ds, loss, "baseline")]
        if base and len(base) == seeds:
            out[ds, loss] = {m: analysis.mean_sd([analysis.at_epoch(r, m, experiments.readout_epoch(r, profile))
                                                  for r in base]) for m in ("nc1", "nc2")}
    return out


def findings(saved: dict, book: Path | None = None) -> str:
    """The introduction's "findings at a glance", as MyST markdown, from ``saved`` (``{profile:
    nclib.ledger.load(profile)}``; profiles outside :data:`EVIDENCE_ORDER` left out) and the
    chapters in ``book`` (:func:`errata`): the profiles, defined where they are first named, with
    their size against the paper's (:func:`size_against_paper`); then by kind of claim
    (:data:`KINDS`), each claim counted once at its best profile: the paper's theory, the errata,
    the book's own results; the Sec. 5 claims per profile, counted by verdict with the reason for
    each, the decided ones listed; the published Table 1 by the same rule; the book's self-checks
    apart; Table 1's baseline, published beside the book's runs; which runs are stored."""
    from nclib import profiles

    saved = {p: saved.get(p) or [] for p in EVIDENCE_ORDER}
    best = best_claims(saved)
    per_profile = {p: [c for entry in saved[p] for c in entry["claims"]] for p in EVIDENCE_ORDER}
    stored_paper = _stored("paper")
    from nclib.verdicts import TITLES

    paper_runs = [f"{TITLES.get(name, name)} ({done} of {total} run{'s' if total > 1 else ''}"
                  f"{', the layer-wise MLP' if model == 'mlp' else ''})"
                  for name, (done, total, model) in stored_paper.items() if done]
    bf16 = profiles.settings("experiments", "paper").bf16
    lines = ["::::{admonition} Findings at a glance", ":class: important", "",
             "By kind of claim ({doc}`claims ledger <10_claims_ledger>`). A profile (`NCLIB_PROFILE`) sets how big the "
             "computations run; sizes are against the paper's:", "",
             "`small` (the default)",
             f": the theory at full size; the training experiments reduced: {size_against_paper('small')}.", "",
             "`medium`",
             f": the experiments of Sec. 5 only, reduced to run on a 2-core CPU: {size_against_paper('medium')}; "
             "runs stored in `results/medium/`.", "",
             "`paper` profile",
             ": the published settings" + (" (with bfloat16 on a GPU, this book's choice: the paper does not state "
                                          "it)" if bf16 else "")
             + "; runs stored: " + (", ".join(paper_runs) or "none") + ".", ""]

    theory = _of(best, "theory")
    at = sorted({c["profile"] for c in theory}, key=EVIDENCE_ORDER.index)
    lines += [(f"**The paper's theory: {len(theory)} claims checked; {_tally(theory)}.** " if theory else
               "**The paper's theory:** no claim saved with its kind yet. ")
              + "Sections 1–4 and Appendices A–D, verified numerically in float64 against closed forms, autograd "
              "gradients, finite differences and symbolic (sympy) derivations, each to the tolerance its chapter "
              "states" + (f" (at {', '.join(map(_profile_name, at))})" if at else "") + "."]
    lines += [f"- {c['claim']}: {verdict_word(c['holds'], c.get('qualifier', ''))} ({c['evidence']})"
              for c in theory if c["holds"] is not True]

    found = errata(book)
    slips = [e for e in found if e["title"].startswith(("Erratum", "Counterexample"))]
    checks = _of(best, "erratum")
    lines += ["", f"**Errata: {len(slips)} found in the paper**, each in its chapter"
              + (f", with {len(checks)} numerical checks ({_tally(checks)})" if checks else "") + ":", ""]
    for e in slips:
        where = f"{{ref}}`Chapter {int(e['page'][:2])} <{e['label']}>`" if e["label"] else f"{{doc}}`{e['page']}`"
        lines.append(f"- {where}: {e['title']}")
    own = _of(best, "extension")
    if own:
        others = [e["title"] + (f" ({{ref}}`Chapter {int(e['page'][:2])} <{e['label']}>`)" if e["label"] else "")
                  for e in found if e not in slips]
        lines += ["", f"**Beyond the paper: {len(own)} results of the book's own** ({_tally(own)}): sharper bounds, "
                  "where the theorems' hypotheses fail, links between the sections"
                  + ("; among them: " + "; ".join(others) if others else "") + "."]

    sec5 = {p: _of(per_profile[p], "sec5") for p in EVIDENCE_ORDER if _of(per_profile[p], "sec5")}
    lines += ["", "**The paper's experiments (Sec. 5, App. E), on the book's training runs.** "
              + ("No ResNet18 run at the paper's size exists here: the `paper` profile has "
                 + (", ".join(paper_runs) if paper_runs else "no stored runs")
                 + "; the weight-decay claims rest on the reduced runs of `medium` and `small`."
                 if not any(done and model == "resnet18" for done, _, model in stored_paper.values())
                 else "Stored at the paper's size: " + ", ".join(paper_runs) + ".")]
    for p, claims in sec5.items():
        decided = [c for c in claims if c["holds"] is not None]
        lines.append(f"At {'the ' if p == 'paper' else ''}{_profile_name(p)} the runs decide {len(decided)} of "
                     f"{len(claims)} claims"
                     + (f" ({_tally(decided)})" if decided else "") + ".")
    if sec5:
        lines += ["", "| profile | claims | holds | contradicted | smaller than the paper's | undecided "
                  "| premise not met |", "|:--|--:|--:|--:|--:|--:|--:|"]
        for p, claims in sec5.items():
            lines.append(f"| {_profile_name(p)} | {len(claims)} | "
                         + " | ".join(map(str, verdict_counts(claims).values())) + " |")
        lines += ["",
                  "- *holds* / *contradicted*: decided, the 95% interval of the effect (in decades, with the "
                  "spread between seeds) lies on one side of zero.",
                  "- *smaller than the paper's*: the interval contains zero but excludes the effect in the "
                  "published Table 1: an effect that large is ruled out, its sign is not shown.",
                  "- *undecided* (inconclusive): the interval contains both zero and the published effect; "
                  "the runs have too few seeds for the spread between them.",
                  "- *premise not met*: not judged, because a premise fails: a run of the group never reaches "
                  "zero training error, or a premise of reading the figure does not hold."]
        premises = {p: _of(per_profile[p], "premise") for p in EVIDENCE_ORDER if _of(per_profile[p], "premise")}
        if premises:
            lines += ["", "**Premises**, checked on the same runs: " + "; ".join(
                f"at {'the ' if p == 'paper' else ''}{_profile_name(p)}, "
                f"{sum(c['holds'] is True for c in claims)} of {len(claims)} met" + _unmet(claims)
                for p, claims in premises.items()) + "."]
        detail = [line for p, claims in sec5.items() for line in
                  ([f"- **{_profile_name(p)}**"] + ["  " + x for x in _decided_lines(claims)]
                   if _decided_lines(claims) else [])]
        if detail:
            lines += ["", ":::{admonition} The decided claims, by profile", ":class: dropdown", *detail, ":::"]

    published = _of(best, "published-data")
    if published:
        decided = [c for c in published if c["holds"] is not None]
        lines += ["", f"**The published Table 1, by the same rule:** of its {len(published)} weight-decay "
                  f"comparisons, {len(decided)} are decided ({_tally(decided)}), from the published means and "
                  "SDs over three seeds ({doc}`08_table1`)."]
    checks = _of(best, "self-check")
    if checks:
        lines += ["", f"**The book's own checks**, apart from the paper's claims (its solvers converged, its "
                  f"library matches references, its searches are sound): {len(checks)}, {_tally(checks)}."]
    legacy = {p: _of(per_profile[p], UNCLASSIFIED) for p in EVIDENCE_ORDER if _of(per_profile[p], UNCLASSIFIED)}
    if legacy:
        lines += ["", "**Saved before kinds were recorded** (a rebuild of their chapters classifies them):", "",
                  "| profile | claims | holds | contradicted | smaller than the paper's | inconclusive "
                  "| premise not met |", "|:--|--:|--:|--:|--:|--:|--:|"]
        lines += [f"| {_profile_name(p)} | {len(claims)} | " + " | ".join(map(str, verdict_counts(claims).values()))
                  + " |" for p, claims in legacy.items()]

    baselines = {p: _table1_baseline(p) for p in EVIDENCE_ORDER[1:]}
    shown = [p for p, b in baselines.items() if b]
    lines.append("")
    if not shown:
        lines.append("**Table 1** ({doc}`08_table1`): no profile has a column of Table 1's baseline runs stored yet.")
    else:
        sizes = "; ".join(f"{_profile_name(p)}: {size_against_paper(p, short=True)}" for p in shown)
        lines += [f"**Table 1's baseline** ({{doc}}`08_table1`), published beside the book's runs. The book's "
                  f"networks and data are far smaller than the paper's ({sizes}), so its NC levels are not "
                  "comparable with the published ones; the chapters judge the direction of the weight-decay "
                  "effects, not these levels.", "",
                  "| column | source | NC1 | NC2 |", "|:--|:--|--:|--:|"]
        for ds, loss in _COLUMNS:
            name = f"{_DATASETS[ds]}, {loss.upper()}"
            lines.append(f"| {name} | published | " + " | ".join(_pm(PAPER_TABLE1[ds, loss, "baseline", m])
                                                               for m in ("nc1", "nc2")) + " |")
            for p in shown:
                if (ds, loss) in baselines[p]:
                    lines.append(f"| {name} | {_profile_name(p)} | "
                                 + " | ".join(_pm(baselines[p][ds, loss][m]) for m in ("nc1", "nc2")) + " |")
    lines += ["", "**Scales.** " + " ".join(_scale_sentence(p, saved[p]) for p in EVIDENCE_ORDER[::-1]), "::::"]
    return "\n".join(lines)


def _scale_sentence(profile: str, ledgers: list) -> str:
    from nclib.verdicts import TITLES

    done, total, complete = _stored_runs(profile)
    complete = [TITLES.get(name, name) for name in complete]
    state = "all runs stored" if done == total else "partly stored" if done else "pending"
    runs = f"training-run files stored: {done} of {total}" + (f"; complete: {', '.join(complete)}" if complete else "")
    verdicts = (f"verdicts saved for {len(ledgers)} chapter{'s' if len(ledgers) > 1 else ''}" if ledgers
                else "no verdicts saved yet")
    return f"{_profile_name(profile)}: {state} — {verdicts} ({runs})."

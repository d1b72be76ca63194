"""The book's result tables as HTML that fits the page column: verdicts, run summaries, settings
beside the paper's, Table 1, the claims ledger and the introduction's findings at a glance.

Every table is a :class:`Table`: HTML in a notebook (cells wrap instead of scrolling; a verdict
comes first and is coloured; a badge names the profile that produced the numbers), a few lines
of text in a terminal. :func:`show` displays one. The colours and the wrapping are the site's
stylesheet (``book/_static/custom.css``, classes ``nc-*``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import math
import re
from pathlib import Path

from nclib.effects import PREMISE, SMALLER

__all__ = ["VERDICTS", "verdict_word", "EVIDENCE_ORDER", "PAPER_TABLE1", "Cell", "Table", "show", "badge", "verdict_cell",
           "claim_id", "verdict_table", "settings_table", "run_label", "runs_table", "table1_table", "claims_table",
           "verdict_counts", "errata", "findings"]

VERDICTS = {True: "holds", False: "contradicted", None: "inconclusive"}
"""A claim's verdict (``Claim.holds``) -> the word the book uses for it."""
_MARKS = {True: "✓", False: "✗", None: "?"}
_CLASSES = {True: "nc-holds", False: "nc-contradicted", None: "nc-inconclusive"}

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
"""Table 1 of the paper (App. E.2), typed in: ``(dataset, loss, preset, metric) -> (mean, SD)`` over
3 seeds at epoch 100; presets of :data:`nclib.train.WD_PRESETS`; the paper's "41e-3" is 0.041."""

_DATASETS = {"cifar10": "CIFAR-10", "mnist": "MNIST"}


@dataclasses.dataclass(frozen=True)
class Cell:
    """One table cell: ``text`` (escaped in HTML), or ``markup`` shown in its place in HTML;
    ``cls``: CSS class of the cell."""

    text: str
    markup: str | None = None
    cls: str = ""

    def html(self, tag: str = "td") -> str:
        cls = f' class="{self.cls}"' if self.cls else ""
        return f"<{tag}{cls}>{self.markup if self.markup is not None else html.escape(self.text)}</{tag}>"


def _cell(value) -> Cell:
    return value if isinstance(value, Cell) else Cell(str(value))


class Table:
    """A result table. ``columns``: header labels; ``rows``: sequences of cells (a :class:`Cell`
    or any value, shown with ``str``), or a single string for a group heading that spans the
    row; ``profile``: the profile that produced the numbers (a badge above the table);
    ``caption``: one line above it; ``row_ids``: an HTML id per row (None: none)."""

    def __init__(self, columns, rows, *, profile: str | None = None, caption: str = "", row_ids=None,
                 kind: str = ""):
        self.columns = [str(c) for c in columns]
        self.rows = [row if isinstance(row, str) else [_cell(v) for v in row] for row in rows]
        for row in self.rows:
            if not isinstance(row, str) and len(row) != len(self.columns):
                raise ValueError(f"rows: a row has {len(row)} cells for {len(self.columns)} columns")
        self.profile, self.caption, self.kind = profile, caption, kind
        self.row_ids = list(row_ids) if row_ids is not None else [None] * len(self.rows)
        if len(self.row_ids) != len(self.rows):
            raise ValueError(f"row_ids: {len(self.row_ids)} ids for {len(self.rows)} rows")

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = []
        for row, rid in zip(self.rows, self.row_ids):
            ident = f' id="{html.escape(rid)}"' if rid else ""
            if isinstance(row, str):
                body.append(f'<tr class="nc-group"{ident}><th colspan="{len(self.columns)}">{html.escape(row)}</th></tr>')
            else:
                body.append(f"<tr{ident}>{''.join(c.html() for c in row)}</tr>")
        top = " ".join(x for x in (badge(self.profile) if self.profile else "",
                                   html.escape(self.caption)) if x)
        return (f'<div class="nc-result">{f"<p class=nc-caption>{top}</p>" if top else ""}'
                f'<table class="nc-table {self.kind}"><thead><tr>{head}</tr></thead>'
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


def _class(holds: bool | None, qualifier: str) -> str:
    return "nc-premise" if qualifier == PREMISE else _CLASSES[holds]


def verdict_cell(holds: bool | None, qualifier: str = "") -> Cell:
    """A coloured verdict cell (:func:`verdict_word`; ``holds`` True, False, None)."""
    return Cell(f"{_MARKS[holds]} {verdict_word(holds, qualifier)}", cls=f"nc-verdict {_class(holds, qualifier)}")


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
    :func:`claim_id`, the target of the ledger page's links."""
    rows, ids = [], []
    for c in map(_as_dict, claims):
        link = f' <a class="nc-cell-link" href="#{html.escape(c["anchor"])}">(computed here)</a>'
        rows.append([verdict_cell(c["holds"], c.get("qualifier", "")), Cell(c["claim"], html.escape(c["claim"]) + link),
                     c["evidence"]])
        ids.append(claim_id(c["chapter"], c["claim"], c["profile"]))
    return Table(["verdict", "claim", "evidence"], rows, profile=profile, row_ids=ids, kind="nc-verdicts",
                 caption=_count_line(verdict_counts(claims)))


def verdict_counts(claims) -> dict:
    """``{"holds": n, "contradicted": n, "smaller than the paper's": n, "inconclusive": n, "premise
    not met": n}`` of ``claims`` ("holds" includes those qualified smaller than the paper's; the
    last three are the verdicts None, by qualifier)."""
    counts = dict.fromkeys(("holds", "contradicted", SMALLER, "inconclusive", PREMISE), 0)
    for c in map(_as_dict, claims):
        qualifier = c.get("qualifier", "")
        counts[VERDICTS[c["holds"]] if c["holds"] is not None or not qualifier else qualifier] += 1
    return counts


def _count_line(counts: dict) -> str:
    """"3 holds, 1 contradicted, 2 inconclusive" (the qualified counts only where not zero)."""
    return ", ".join(f"{n} {word}" for word, n in counts.items() if n or word in VERDICTS.values())


def settings_table(experiment: str, profile: str | None = None) -> Table:
    """:func:`nclib.experiments.settings_rows` as a table: each setting at ``profile`` beside the
    paper's, the fields that differ marked."""
    from nclib import experiments, profiles

    profile = profile or profiles.current()
    rows = []
    for field, mine, paper, differs in experiments.settings_rows(experiment, profile):
        rows.append([field, Cell(mine, cls="nc-differs" if differs else ""), paper,
                     Cell("differs" if differs else "", cls="nc-differs" if differs else "")])
    return Table(["setting", profile, "paper", ""], rows, profile=profile, kind="nc-settings",
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


def table1_table(ours: dict, profile: str, caption: str = "", paper: dict = PAPER_TABLE1) -> Table:
    """Table 1 side by side: for each (dataset, loss) and setting, the paper's mean ± SD of NC1 and
    NC2, ours and the difference of the means (ours minus the paper's). ``ours``: ``(dataset, loss,
    preset, metric) -> (mean, SD)``; keys missing from ``ours`` are shown as "-"."""
    from nclib.train import PRESET_LABELS

    rows = []
    for ds, loss in _COLUMNS:
        rows.append(f"{_DATASETS[ds]}, {loss.upper()}")
        for preset, label in PRESET_LABELS.items():
            row = [label]
            for metric in ("nc1", "nc2"):
                p, o = paper[ds, loss, preset, metric], ours.get((ds, loss, preset, metric))
                row += [_pm(p), "-" if o is None else _pm(o), "-" if o is None else f"{o[0] - p[0]:+.2g}"]
            rows.append(row)
    return Table(["setting", "NC1 paper", "NC1 ours", "diff", "NC2 paper", "NC2 ours", "diff"], rows,
                 profile=profile, caption=caption, kind="nc-table1")


def claims_table(ledgers_by_profile: dict, built=()) -> Table:
    """The ledger page: one row per claim in chapter order, the best evidence first (the verdict of
    the first profile of :data:`EVIDENCE_ORDER` that has one), then a column per profile of
    ``ledgers_by_profile`` (``{profile: nclib.ledger.load(profile)}``, smoke left out). Each claim
    links to the verdict row (:func:`claim_id`) of its best evidence, else of another profile, on
    its chapter's page when the site shows one there (``built``: the saved ledgers the site's
    build rendered, :func:`nclib.ledger.rendered`), else to the section that computes it."""
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
    out = []
    for i, (key, by_profile) in enumerate(sorted(rows.items(), key=lambda kv: kv[0][0]), 1):
        best = next(p for p in cols if p in by_profile)
        c = by_profile[best]
        on_page = here.get(key, [])
        shown = next((p for p in (best, *cols, *on_page) if p in on_page), None)
        target = c["anchor"] if shown is None else claim_id(c["chapter"], c["claim"], shown)
        link = f'<a href="{html.escape(c["page"])}.html#{html.escape(target)}">{html.escape(c["claim"])}</a>'
        q = c.get("qualifier", "")
        cells = [i, Cell(c["claim"], link),
                 Cell(f"{verdict_word(c['holds'], q)} ({best})",
                      f"{verdict_cell(c['holds'], q).html('span')} <small>({best})</small>",
                      cls="nc-best")]
        for p in cols:
            v = by_profile.get(p)
            vq = "" if v is None else v.get("qualifier", "")
            cells.append(Cell("not run", cls="nc-notrun") if v is None else
                         Cell(f"{verdict_word(v['holds'], vq)}: {v['evidence']}",
                              f"{_mark_span(v['holds'], vq)}<br><small>{html.escape(v['evidence'])}</small>"))
        out.append(cells)
    return Table(["#", "claim (link: where it is computed)", "best evidence", *cols], out, kind="nc-ledger")


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


def findings(book: Path | None = None) -> str:
    """The introduction's "findings at a glance", as MyST markdown: the count of each verdict per
    profile (saved ledgers; smoke left out), the errata and counterexamples (:func:`errata`),
    linked, Table 1's baseline beside the paper's at the best profile whose Table 1 runs are all
    stored, and which scales were run and which are pending."""
    from nclib import analysis, experiments, ledger, profiles

    lines = [":::{admonition} Findings at a glance", ":class: important", "",
             "**Verdicts** of the claims the book checks, by profile ({doc}`claims ledger <10_claims_ledger>`):", "",
             "| profile | chapters | claims | holds | contradicted | smaller than the paper's | inconclusive "
             "| premise not met |",
             "|:--|--:|--:|--:|--:|--:|--:|--:|"]
    saved = {p: ledger.load(p) for p in EVIDENCE_ORDER}
    for p, ledgers in saved.items():
        if ledgers:
            claims = [c for entry in ledgers for c in entry["claims"]]
            n = verdict_counts(claims)
            lines.append(f"| `{p}` | {len(ledgers)} | {len(claims)} | " + " | ".join(map(str, n.values())) + " |")
    found = errata(book)
    lines += ["", f"**Errata and counterexamples** found in the paper ({len(found)}):", ""]
    for e in found:
        where = f"{{ref}}`Chapter {int(e['page'][:2])} <{e['label']}>`" if e["label"] else f"{{doc}}`{e['page']}`"
        lines.append(f"- {where}: {e['title']}")
    best = next((p for p in EVIDENCE_ORDER if len(experiments.stored("table1", p)) == len(experiments.grid("table1", p))),
                None)
    lines.append("")
    if best is None:
        lines.append("**Table 1** ({doc}`08_table1`): no profile has all its Table 1 runs stored yet.")
    else:
        runs, epoch = experiments.stored("table1", best), profiles.settings("experiments", best).table1_epoch
        lines += [f"**Table 1** ({{doc}}`08_table1`), baseline, the paper beside `{best}` "
                  f"({'the last epoch' if epoch is None else f'epoch {epoch}'}, "
                  f"{len(profiles.settings('experiments', best).table1_seeds)} seeds):", "",
                  "| column | NC1 paper | NC1 ours | NC2 paper | NC2 ours |", "|:--|--:|--:|--:|--:|"]
        for ds, loss in _COLUMNS:
            cells = []
            for metric in ("nc1", "nc2"):
                values = [analysis.at_epoch(r, metric, experiments.readout_epoch(r, best))
                          for k, r in runs.items() if k[:3] == (ds, loss, "baseline")]
                cells += [_pm(PAPER_TABLE1[ds, loss, "baseline", metric]), _pm(analysis.mean_sd(values))]
            lines.append(f"| {_DATASETS[ds]}, {loss.upper()} | " + " | ".join(cells) + " |")
    lines += ["", "**Scales.** " + " ".join(_scale_sentence(p, saved[p]) for p in EVIDENCE_ORDER[::-1]), ":::"]
    return "\n".join(lines)


def _scale_sentence(profile: str, ledgers: list) -> str:
    done, total, complete = _stored_runs(profile)
    state = "all runs stored" if done == total else "partly stored" if done else "pending"
    runs = f"training-run files stored: {done} of {total}" + (f"; complete: {', '.join(complete)}" if complete else "")
    verdicts = (f"verdicts saved for {len(ledgers)} chapter{'s' if len(ledgers) > 1 else ''}" if ledgers
                else "no verdicts saved yet")
    return f"`{profile}`: {state} — {verdicts} ({runs})."

"""The claims of Sec. 5 and App. E, checked on the runs of one profile: one function per figure
and Table 1, each returning ``(claim, verdict, evidence, where, qualifier[, kind])`` rows for a chapter's
:class:`nclib.ledger.Ledger` (``where``: "runs" for claims about training, "figure" for claims
about the curves; a chapter maps them to its section labels, :func:`record`; ``kind``:
"premise" on the rows that state a premise of the claims, none on the claims, which take the
ledger's kind).

Claims that compare settings are judged by the rule of :mod:`nclib.effects`: the effect in
decades with its 95% t interval, the spread between seeds pooled over the settings of one data
set, loss and metric; a figure with one seed per setting takes the pooled spread of the same
settings in the profile's Table 1 runs (three seeds, :func:`table1_spread`). The paper's own
effect, from its Table 1, is reported beside each comparison where the paper gives one.

Premises: the weight-decay claims are made for runs that reach zero training error (Sec. 5: "as
long as entering the zero training error phase of training is maintained"); where a run does
not, the claims of its group read "premise not met". A run that diverged after reaching zero
training error (:func:`nclib.analysis.divergences`) is left out of the statistics, and the
evidence names it.
"""

from __future__ import annotations

from nclib import analysis, experiments
from nclib.effects import PREMISE
from nclib.train import WD_PRESETS

__all__ = ["table1_spread", "complete_groups", "TITLES", "complete_rows", "fig2", "zero_error", "usable",
           "wd_figure", "table1_columns", "table1", "table1_paper", "paper_stats", "fig6", "record"]


def usable(runs: dict) -> tuple[dict, list[str]]:
    """``(kept, notes)``: the runs of ``runs`` (keyed ``(dataset, loss, setting, seed)``) that did not
    diverge, and one note per run left out (:func:`nclib.analysis.divergences`)."""
    kept, notes = {}, []
    for key, r in runs.items():
        found = analysis.run_divergences(r)
        if found:
            notes.append(f"{_run_key(key)} diverged at epoch {found[0]['start']} (left out)")
        else:
            kept[key] = r
    return kept, notes


def table1_spread(profile: str, dataset: str, loss: str, keys) -> dict:
    """``{key: (SD, df)}``: the spread between seeds of the late-phase level of each of ``keys``,
    pooled over the settings of the stored Table 1 runs of ``profile`` that did not diverge (read
    once; :func:`nclib.analysis.seed_spread`); (nan, 0) for each key if none are stored. MNIST's
    are the 3K-per-class runs of Figure 4."""
    runs = {k: r for k, r in experiments.stored("table1", profile).items() if k[:2] == (dataset, loss)}
    by = analysis.by_setting(usable(runs)[0]) if runs else {}
    return {key: analysis.seed_spread(by, key) if by else (float("nan"), 0) for key in keys}


def complete_groups(experiment: str, profile: str, runs: dict) -> tuple[list, list]:
    """``(complete, pending)``: the (dataset, loss) groups of ``experiment``'s grid at ``profile``
    whose runs (every setting and seed) are all in ``runs``, and ``(dataset, loss, stored, total)``
    for the others."""
    groups: dict = {}
    for key in experiments.grid(experiment, profile):
        groups.setdefault(key[:2], []).append(key in runs)
    complete = [g for g, have in groups.items() if all(have)]
    pending = [(*g, sum(have), len(have)) for g, have in groups.items() if not all(have)]
    return complete, pending


_COLUMN_NAMES = {"cifar10": "CIFAR-10", "mnist": "MNIST"}


TITLES = {"fig2": "Fig. 2", "fig3": "Fig. 3", "fig4": "Fig. 4", "fig5": "Fig. 5", "table1": "Table 1", "fig6": "Fig. 6"}
"""Experiment name -> the paper's name for it, as verdicts and chapters print it."""


def complete_rows(experiment: str, profile: str, runs: dict, rows_of) -> list[tuple]:
    """``rows_of(dataset, loss)`` for each (dataset, loss) group of ``experiment``'s grid at
    ``profile`` whose runs are all in ``runs`` (:func:`complete_groups`), one after the other; for
    each other group, a printed line that says how many of its runs are stored: no verdict rests
    on part of a group."""
    complete, pending = complete_groups(experiment, profile, runs)
    for ds, loss, have, total in pending:
        print(f"{profile}, {TITLES[experiment]}, {_COLUMN_NAMES[ds]} {loss.upper()}: {have} of {total} runs stored; "
              "no verdict yet")
    return [row for ds, loss in complete for row in rows_of(ds, loss)]


def fig2(result: dict) -> list[tuple]:
    """Figure 2 (App. E.1) on one layer-wise run: NC1 and NC1~ of the deepest features are lower
    after the last added layer than after the first, and whether they fall at every added layer.
    One run, as in the paper: the claims hold or are contradicted by the numbers."""
    out = []
    for key, name in (("nc1", "NC1"), ("nc1_tilde", "NC1~")):
        values = analysis.curve(result, key)
        out.append((f"Fig. 2: {name} of the deepest features is lower after the last added layer than after the first",
                    bool(values[-1] < values[0]), f"{values[0]:.4g} -> {values[-1]:.4g}", "runs", ""))
        falls = int((values[1:] < values[:-1]).sum())
        out.append((f"Fig. 2: {name} falls at every added layer", falls == len(values) - 1,
                    f"falls at {falls} of {len(values) - 1} added layers", "runs", ""))
    return out


def zero_error(runs: dict, name: str) -> tuple:
    """Every run of ``runs`` (``{(dataset, loss, setting, seed): result}``) reaches zero training
    error by the first learning-rate drop (the paper: "at the 40 epoch approximately", its first
    drop); the evidence names the first epoch at zero of each that does not. Not met, it is a
    premise of the weight-decay claims that fails, not a finding against the paper."""
    first = {_run_key(k): analysis.zero_error_epoch(r) for k, r in runs.items()}
    drop = {_run_key(k): (analysis.lr_drops(r) or (len(r["history"]),))[0] for k, r in runs.items()}
    late = {k: z for k, z in first.items() if z is None or z > drop[k]}
    reached = [z for z in first.values() if z is not None]
    evidence = (f"{len(runs) - len(late)} of {len(runs)} runs by the first drop (epoch {min(drop.values())}); "
                f"latest at epoch {max(reached) if reached else '-'}")
    if late:
        evidence += "; later or never: " + ", ".join(f"{k} ({'never' if z is None else z})" for k, z in late.items())
    claim = f"{name}: every run reaches zero training error by the first learning-rate drop"
    return (claim, None, evidence, "runs", PREMISE, "premise") if late else (claim, True, evidence, "runs", "", "premise")


def _run_key(key) -> str:
    """``(dataset, loss, setting, seed)`` -> "setting, seed N" (within one figure's group)."""
    from nclib.train import PRESET_LABELS

    return f"{PRESET_LABELS.get(key[2], key[2])}, seed {key[3]}"


def _premise(group: dict, kept: dict) -> str:
    """Why the weight-decay claims on ``group`` cannot be judged ("" if they can): a run that never
    reaches zero training error, or a setting whose every run diverged."""
    never = [_run_key(k) for k, r in group.items() if analysis.zero_error_epoch(r) is None]
    if never:
        return f"never at zero training error: {', '.join(never)}"
    lost = sorted({k[2] for k in group} - {k[2] for k in kept})
    return f"every run of {', '.join(lost)} diverged" if lost else ""


def _with_premise(rows: list, why: str, notes: list) -> list:
    """Rows of claims on runs: the notes on left-out runs appended to the evidence; with ``why``
    (:func:`_premise`), each verdict replaced by "premise not met"."""
    suffix = "".join(f"; {n}" for n in notes)
    if why:
        return [(c, None, f"{why}. {e}{suffix}", w, PREMISE) for c, _, e, w, _ in rows]
    return [(c, h, e + suffix, w, q) for c, h, e, w, q in rows]


def paper_stats(dataset: str, loss: str, metric: str) -> dict:
    """The paper's Table 1 column (``dataset``, ``loss``) for ``metric`` as level statistics
    (:func:`nclib.analysis.table_stats`, 3 seeds)."""
    from nclib.report import PAPER_TABLE1

    return analysis.table_stats({k[2]: v for k, v in PAPER_TABLE1.items() if k[:2] == (dataset, loss)
                                 and k[3] == metric}, 3)


def wd_figure(runs: dict, dataset: str, loss: str, name: str, profile: str, depth: bool = False,
              paper: bool = False, extension: bool = False) -> list[tuple]:
    """Figures 3-5 for one (dataset, loss): every run reaches zero training error by the first drop
    (:func:`zero_error`), and :func:`nclib.analysis.wd_claims` on NC1 and NC2 of the deepest
    features (late-phase levels, seeds of each preset; one seed: :func:`table1_spread`).
    ``paper``: report the paper's Table 1 effect beside each (Figs. 3-4 are Table 1's data sets);
    ``extension``: the direction claims are the book's extension (:data:`nclib.analysis.EXTENSION`).
    ``depth`` (Figs. 4c, 5c): the same claims on the intermediate features ("block3"), and App.
    E.2's claim that those are further from collapse (:func:`nclib.analysis.depth_verdicts`)."""
    group = {k: r for k, r in runs.items() if k[:2] == (dataset, loss)}
    label = f"{name} ({loss.upper()})"
    kept, notes = usable(group)
    by = analysis.by_setting(kept) if kept else {}
    keys = ("nc1", "nc2")
    spreads = table1_spread(profile, dataset, loss, keys) if not by or max(map(len, by.values())) < 2 else {}
    rows = []
    why = _premise(group, kept)
    for features, where in (("penultimate", "deepest"), ("block3", "intermediate"))[:2 if depth else 1]:
        for key in keys:
            theirs = paper_stats(dataset, loss, key) if paper and features == "penultimate" else None
            stats = _UNJUDGED if why else analysis.level_stats(by, key, features, spread=spreads.get(key))
            rows += [(f"{label} {c}", h, e, "figure", q) for c, h, e, q in
                     analysis.wd_claims(stats, f"{key.upper()} of the {where} features", theirs, extension=extension)]
    if depth:
        named = {_run_key(k): r for k, r in kept.items()}
        rows += [(f"{label} {c}", h, e, "figure", q) for c, h, e, q in
                 (analysis.depth_verdicts(named, key) for key in keys)]
    return [zero_error(group, label)] + _with_premise(rows, why, notes)


_UNJUDGED = dict.fromkeys(WD_PRESETS, (float("nan"), float("nan"), 0, 0))
"""Level statistics of a group whose premise fails: the claims' texts, no numbers."""


def table1_columns(stats: dict, column: str, paper: dict | None = None) -> list[tuple]:
    """Table 1's claim in one column (``stats``: preset -> (mean log10, se, n, df) of one metric,
    from :func:`nclib.analysis.level_stats` at the read-out epoch or
    :func:`nclib.analysis.table_stats` on the paper's numbers): the feature-WD change deviates from
    the baseline more than the last-layer change, for doubling and for zeroing (the first two of
    :func:`nclib.analysis.wd_claims`), beside the paper's effect (``paper``: its statistics)."""
    return [(claim, holds, evidence, "figure", q)
            for claim, holds, evidence, q in analysis.wd_claims(stats, column, paper, directions=False)]


def table1(runs: dict, profile: str, complete: list) -> list[tuple]:
    """Table 1 (App. E.2) on the runs of ``profile`` for each (dataset, loss) column in
    ``complete`` (:func:`complete_groups`): every run reaches zero training error by the first drop,
    and :func:`table1_columns` for NC1 and NC2 at the read-out epoch
    (:func:`nclib.experiments.readout_epoch`), the standard error from the seeds pooled over the
    column's settings, beside the paper's effect."""
    out = []
    for ds, loss in complete:
        group = {k: r for k, r in runs.items() if k[:2] == (ds, loss)}
        name = f"Table 1, {_COLUMN_NAMES[ds]} {loss.upper()}"
        out.append(zero_error(group, name))
        kept, notes = usable(group)
        why = _premise(group, kept)
        epoch = experiments.readout_epoch(next(iter(group.values())), profile)
        rows = []
        for metric in ("nc1", "nc2"):
            stats = _UNJUDGED if why else analysis.level_stats(analysis.by_setting(kept), metric, epoch=epoch)
            rows += table1_columns(stats, f"{name} {metric.upper()}", paper_stats(ds, loss, metric))
        out += _with_premise(rows, why, notes)
    return out


def table1_paper(table: dict, n: int = 3) -> list[tuple]:
    """:func:`table1_columns` on the paper's own Table 1 (``table``: (dataset, loss, preset, metric)
    -> (mean, SD) over ``n`` seeds, :data:`nclib.report.PAPER_TABLE1`), every column and metric."""
    out = []
    for ds, loss in dict.fromkeys(k[:2] for k in table):
        for metric in ("nc1", "nc2"):
            stats = analysis.table_stats({k[2]: v for k, v in table.items() if k[:2] == (ds, loss) and k[3] == metric}, n)
            out += table1_columns(stats, f"Table 1 (the paper's numbers), {_COLUMN_NAMES[ds]} {loss.upper()} "
                                         f"{metric.upper()}")
    return out


def fig6(runs: dict, profile: str, blurred=(4, 9)) -> list[tuple]:
    """App. E.2, Figure 6: every run reaches zero training error by the first drop; the blurred
    classes have the largest per-class NC1 in every blurred run (a premise of reading the figure
    that the paper's text does not state: "premise not met" where it fails); (b) blurring alone
    has a minor effect, and along the last layer's WD x1 -> x0.1 -> 0 the unblurred classes'
    per-class NC1 and NC1-NC3 rise (:func:`nclib.analysis.fig6_verdicts`). With one seed per
    setting, the spread is that of the Table 1 runs of MNIST, CE, baseline, where they have Figure
    6's size; else those claims are inconclusive."""
    import numpy as np

    out = [zero_error(runs, "Fig. 6")]
    kept, notes = usable(runs)
    by = analysis.by_setting(kept)
    order = list(by)
    worst = []
    for (_, _, setting, seed), r in kept.items():
        if setting != "baseline":
            late = analysis.per_class_curve(r)[analysis.late_epochs(r)].mean(axis=0)
            worst.append(set(np.argsort(late)[-len(blurred):]) == set(blurred))
    premise = ("Fig. 6 (a premise the paper's text does not state): the blurred digits have the largest per-class "
               "NC1 in every blurred run")
    out.append((premise, True if all(worst) else None, f"{sum(worst)} of {len(worst)} blurred runs", "figure",
                "" if all(worst) else PREMISE, "premise"))
    spread = None
    if max(map(len, by.values())) < 2:
        spread = {}
        for label, key in (("nc1_others", lambda r: analysis.unblurred_nc1(r, blurred)), ("nc1", "nc1"), ("nc2", "nc2"),
                           ("nc3", "nc3")):
            spread[label] = _fig6_baseline_spread(profile, key)
    why = _premise(runs, kept)
    rows = [(c, h, e, "figure", q) for c, h, e, q in analysis.fig6_verdicts(by, order, blurred, spread=spread)] \
        if not why else []
    return out + _with_premise(rows, why, notes)


def _fig6_baseline_spread(profile: str, key) -> tuple[float, int] | None:
    """(SD, df) over seeds of the late-phase level of ``key`` in the Table 1 runs of MNIST, CE,
    baseline at ``profile``, when they have Figure 6's size (the paper's 3K per class); else None."""
    from nclib import profiles

    s = profiles.settings("experiments", profile)
    if s.fig6_per_class != s.mnist3k_per_class:
        return None
    runs = [r for k, r in usable(experiments.stored("table1", profile))[0].items() if k[:3] == ("mnist", "ce", "baseline")]
    return analysis.seed_spread({"baseline": runs}, key) if runs else None


def record(ledger, rows, anchors: dict) -> None:
    """Add ``rows`` (claim, verdict, evidence, where, qualifier[, kind]) to ``ledger``, each linked
    to ``anchors[where]``; a row without a kind (the claims themselves) takes the ledger's, the
    premises of the claims carry ``"premise"``."""
    for claim, holds, evidence, where, qualifier, *kind in rows:
        ledger.verdict(claim, holds, evidence, anchors[where], qualifier, *kind)

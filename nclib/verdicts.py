"""The claims of Sec. 5 and App. E, checked on the runs of one profile: one function per figure
and Table 1, each returning ``(claim, verdict, evidence, where)`` rows for a chapter's
:class:`nclib.ledger.Ledger` (``where``: "runs" for claims about training, "figure" for claims
about the curves; a chapter maps them to its section labels, :func:`record`).

Claims that compare curves are three-state (:func:`nclib.analysis.three_state`): the effect in
decades against twice its standard error. The standard error comes from the spread between the
seeds of each setting; a setting with one seed takes the spread of the same setting in the
profile's Table 1 runs (three seeds, :func:`table1_spread`). Every standard error also carries
:data:`DRIFT` in quadrature: how far a late-phase level moves when the same run is re-computed
with other CPU kernels, so that no verdict rests on less than a re-run on other hardware changes.
"""

from __future__ import annotations

import math

from nclib import analysis, experiments

__all__ = ["DRIFT", "drift", "table1_spread", "complete_groups", "TITLES", "complete_rows", "fig2", "zero_error", "wd_figure", "table1_columns", "table1", "table1_paper", "fig6",
           "record"]

DRIFT = {
    "smoke": {"nc1": 0.0, "nc1_tilde": 0.0, "nc2": 0.0, "nc3": 0.0},
    "small": {"nc1": 0.32, "nc1_tilde": 0.16, "nc2": 0.14, "nc3": 0.09},
    "medium": {"nc1": 0.14, "nc1_tilde": 0.25, "nc2": 0.06, "nc3": 0.04},
    "paper": {"nc1": math.nan, "nc1_tilde": math.nan, "nc2": math.nan, "nc3": math.nan},
}
"""Per profile and metric, the largest change of a run's late-phase level (decades) between a
stored run and its re-computation with the other memory layout, whose CPU convolution kernels
round differently (``python -m nclib.experiments reproduce FILE --channels-last off``; the
same-layout re-run is bit for bit): the drift that a re-run on other hardware brings, rounded
up. ``small``: four CIFAR-10 runs (Figure 3's baseline CE and MSE, WD x2 for H with MSE, WD x2
for W with CE); NC1 0.121-0.314, NC1~ 0.014-0.153, NC2 0.041-0.138, NC3 0.008-0.090.
``medium``: two CIFAR-10 runs with WD x2 for H: CE (NC1 0.027, NC1~ 0.092, NC2 0.008, NC3 0.019)
and MSE (0.136, 0.245, 0.055, 0.037; a run that never reaches zero training error). NaN where it
has not been measured, which makes every comparison at that profile inconclusive. ``smoke`` only
shows that the code runs. :func:`drift` reads it."""


def drift(profile: str, metric) -> float:
    """:data:`DRIFT` of ``metric`` at ``profile``; for a metric it does not list (the unblurred
    classes' per-class NC1 of Figure 6), the largest of the profile's, or NaN if any is NaN."""
    table = DRIFT[profile]
    if metric in table:
        return table[metric]
    values = list(table.values())
    return math.nan if any(math.isnan(v) for v in values) else max(values)


def table1_spread(profile: str, dataset: str, loss: str, keys) -> dict:
    """``{key: {setting: SD of the late-phase level of key over seeds}}`` for each of ``keys``,
    from the stored Table 1 runs of ``profile`` (read once; :func:`nclib.analysis.seed_spread`);
    {} for each key if none are stored. MNIST's are the 3K-per-class runs of Figure 4."""
    runs = {k: r for k, r in experiments.stored("table1", profile).items() if k[:2] == (dataset, loss)}
    by = analysis.by_setting(runs) if runs else {}
    return {key: analysis.seed_spread(by, key) if by else {} for key in keys}


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
                    bool(values[-1] < values[0]), f"{values[0]:.4g} -> {values[-1]:.4g}", "runs"))
        falls = int((values[1:] < values[:-1]).sum())
        out.append((f"Fig. 2: {name} falls at every added layer", falls == len(values) - 1,
                    f"falls at {falls} of {len(values) - 1} added layers", "runs"))
    return out


def zero_error(runs: dict, name: str) -> tuple:
    """Every run of ``runs`` (``{(dataset, loss, setting, seed): result}``) reaches zero training
    error; the evidence names the first epoch at zero of each."""
    late = {_run_key(k): analysis.zero_error_epoch(r) for k, r in runs.items()}
    never = [k for k, z in late.items() if z is None]
    evidence = (f"{len(runs) - len(never)} of {len(runs)} runs; never: {', '.join(never)}" if never else
                f"{len(runs)} of {len(runs)} runs, by epoch {max(late.values())}")
    return f"{name}: every run reaches zero training error", not never, evidence, "runs"


def _run_key(key) -> str:
    """``(dataset, loss, setting, seed)`` -> "setting, seed N" (within one figure's group)."""
    from nclib.train import PRESET_LABELS

    return f"{PRESET_LABELS.get(key[2], key[2])}, seed {key[3]}"


def wd_figure(runs: dict, dataset: str, loss: str, name: str, profile: str, depth: bool = False) -> list[tuple]:
    """Figures 3-5 for one (dataset, loss): every run reaches zero training error, and
    :func:`nclib.analysis.wd_claims` on NC1 and NC2 of the deepest features (late-phase levels,
    seeds of each preset; one seed: :func:`table1_spread`). ``depth``: also App. E.2's claim that
    the intermediate features are further from collapse (:func:`nclib.analysis.depth_verdicts`)."""
    group = {k: r for k, r in runs.items() if k[:2] == (dataset, loss)}
    label = f"{name} ({loss.upper()})"
    out = [zero_error(group, label)]
    by = analysis.by_setting(group)
    keys = ("nc1", "nc2")
    spreads = table1_spread(profile, dataset, loss, keys) if min(map(len, by.values())) < 2 else {}
    for key in keys:
        for claim, holds, evidence in analysis.wd_verdicts(by, key, spread=spreads.get(key),
                                                           floor=drift(profile, key)):
            out.append((f"{label} {claim}", holds, evidence, "figure"))
    if depth:
        for key in ("nc1", "nc2"):
            claim, holds, evidence = analysis.depth_verdicts({_run_key(k): r for k, r in group.items()}, key)
            out.append((f"{label} {claim}", holds, evidence, "figure"))
    return out


def table1_columns(stats: dict, column: str) -> list[tuple]:
    """Table 1's claim in one column (``stats``: preset -> (mean log10, se, n) of one metric, from
    :func:`nclib.analysis.level_stats` at the read-out epoch or :func:`nclib.analysis.table_stats`
    on the paper's numbers): the feature-WD change deviates from the baseline more than the
    last-layer change, for doubling and for zeroing (the first two of
    :func:`nclib.analysis.wd_claims`)."""
    return [(claim, holds, evidence, "figure") for claim, holds, evidence in analysis.wd_claims(stats, column)[:2]]


def table1(runs: dict, profile: str, complete: list) -> list[tuple]:
    """Table 1 (App. E.2) on the runs of ``profile`` for each (dataset, loss) column in
    ``complete`` (:func:`complete_groups`): every run reaches zero training error, and
    :func:`table1_columns` for NC1 and NC2 at the profile's read-out epoch, the standard error from
    the seeds."""
    from nclib import profiles

    epoch = profiles.settings("experiments", profile).table1_epoch
    out = []
    for ds, loss in complete:
        group = {k: r for k, r in runs.items() if k[:2] == (ds, loss)}
        name = f"Table 1, {_COLUMN_NAMES[ds]} {loss.upper()}"
        out.append(zero_error(group, name))
        for metric in ("nc1", "nc2"):
            stats = analysis.level_stats(analysis.by_setting(group), metric, epoch=epoch,
                                         floor=drift(profile, metric))
            out += table1_columns(stats, f"{name} {metric.upper()}")
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
    """App. E.2, Figure 6: every run reaches zero training error; the blurred classes have the
    largest per-class NC1 in every blurred run (a premise of reading the figure, not a claim of the
    paper's text); and along the last layer's WD x1 -> x0.1 -> 0 the unblurred classes' per-class
    NC1 and NC1-NC3 rise (:func:`nclib.analysis.fig6_verdicts`). With one seed per setting, the
    spread is that of the Table 1 runs of MNIST, CE, baseline, where they have Figure 6's size; else
    those claims are inconclusive."""
    import numpy as np

    out = [zero_error(runs, "Fig. 6")]
    by = analysis.by_setting(runs)
    order = [s for s in by if s != "baseline"]
    worst = []
    for (_, _, setting, seed), r in runs.items():
        if setting in order:
            late = analysis.per_class_curve(r)[analysis.late_epochs(r)].mean(axis=0)
            worst.append(set(np.argsort(late)[-len(blurred):]) == set(blurred))
    out.append(("Fig. 6 (a premise the paper's text does not state): the blurred digits have the largest "
                "per-class NC1 in every blurred run", all(worst),
                f"{sum(worst)} of {len(worst)} blurred runs", "figure"))
    spread = None
    if min(map(len, by.values())) < 2:
        spread = {}
        for label, key in (("nc1_others", lambda r: analysis.unblurred_nc1(r, blurred)), ("nc1", "nc1"), ("nc2", "nc2"),
                           ("nc3", "nc3")):
            sd = _fig6_baseline_spread(profile, key)
            spread[label] = dict.fromkeys(order, sd) if sd is not None else {}
    for claim, holds, evidence in analysis.fig6_verdicts(by, order, blurred, spread=spread,
                                                        floor={m: drift(profile, m) for m in analysis.FIG6_METRICS}):
        out.append((claim, holds, evidence, "figure"))
    return out


def _fig6_baseline_spread(profile: str, key) -> float | None:
    """SD over seeds of the late-phase level of ``key`` in the Table 1 runs of MNIST, CE, baseline at
    ``profile``, when they have Figure 6's size (the paper's 3K per class); else None."""
    from nclib import profiles

    s = profiles.settings("experiments", profile)
    if s.fig6_per_class != s.mnist3k_per_class:
        return None
    runs = [r for k, r in experiments.stored("table1", profile).items() if k[:3] == ("mnist", "ce", "baseline")]
    return analysis.seed_spread({"baseline": runs}, key).get("baseline")


def record(ledger, rows, anchors: dict) -> None:
    """Add ``rows`` (claim, verdict, evidence, where) to ``ledger``, each linked to
    ``anchors[where]``."""
    for claim, holds, evidence, where in rows:
        ledger.verdict(claim, holds, evidence, anchors[where])

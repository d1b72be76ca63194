"""Read-outs of training runs (the result dicts of :func:`nclib.train.train`) and the computed
verdicts of the claims of Sec. 5 and App. E.

Comparisons of curves use the *late phase*: the epochs after the first learning-rate drop, when
the paper's runs have reached zero training error (epoch 40 of its schedule) and the metrics
sit near their plateaus. A run's *level* of a metric is its late-phase mean of log10 (or log10 at
one epoch, for Table 1), so "twice as large" and "half as large" count the same.

A claimed effect in decades is judged by its confidence interval from the spread between seeds,
beside the paper's own effect where the paper gives one (:mod:`nclib.effects`).
"""

from __future__ import annotations

import math

import numpy as np

from nclib import effects

__all__ = ["select", "by_setting", "curve", "per_class_curve", "zero_error_epoch", "DIVERGENCE_ERROR", "divergences", "run_divergences",
           "lr_drops", "late_epochs",
           "at_epoch", "mean_sd", "level", "levels", "seed_spread", "level_stats", "table_stats", "EXTENSION",
           "wd_claims", "ordering_verdict", "minor_verdict", "unblurred_nc1", "FIG6_METRICS", "fig6_verdicts",
           "depth_verdicts"]


_NAMES = {"nc1": "NC1", "nc1_tilde": "NC1~", "nc2": "NC2", "nc3": "NC3"}


def select(runs: dict, dataset: str | None = None, loss: str | None = None, seed: int | None = 0) -> dict:
    """``{setting: result}`` of the runs of :func:`nclib.experiments.run` (keyed ``(dataset, loss,
    setting, seed)``) that match ``dataset``, ``loss`` and ``seed`` (None matches any)."""
    out = {key[2]: r for key, r in runs.items()
           if all(want is None or got == want for want, got in zip((dataset, loss, None, seed), key))}
    if not out:
        raise KeyError(f"no run matches dataset={dataset!r}, loss={loss!r}, seed={seed!r}")
    return out


def by_setting(runs: dict, dataset: str | None = None, loss: str | None = None) -> dict:
    """``{setting: [result per seed, in seed order]}`` of the runs of :func:`nclib.experiments.run`
    (keyed ``(dataset, loss, setting, seed)``) that match ``dataset`` and ``loss``."""
    out: dict = {}
    for key in sorted((k for k in runs if dataset in (None, k[0]) and loss in (None, k[1])), key=lambda k: k[3]):
        out.setdefault(key[2], []).append(runs[key])
    if not out:
        raise KeyError(f"no run matches dataset={dataset!r}, loss={loss!r}")
    return out


_RECORD_FIELDS = ("epoch", "lr", "train_loss", "train_acc", "train_eval_loss", "train_error", "test_acc", "depth", "seconds")


def curve(result: dict, key: str, features: str = "penultimate") -> np.ndarray:
    """Per-epoch values of ``key``: an NC metric of ``features`` ("nc1", "nc1_tilde", "nc2", "nc3",
    "tr_sw", "tr_sb") or a record field ("train_error", "test_acc", "train_loss", ...). NaN where
    the metric was undefined at that epoch, or not measured (an epoch without the eval pass,
    :meth:`nclib.train.RunConfig.evaluates`)."""
    history = result["history"]
    if key in _RECORD_FIELDS:
        return np.array([h.get(key, np.nan) for h in history], dtype=float)
    measured = [h["nc"] for h in history if "nc" in h]
    if features not in measured[0]:
        raise KeyError(f"features={features!r} not in this run; it has {sorted(measured[0])}")
    return np.array([h["nc"][features].get(key, np.nan) if "nc" in h else np.nan for h in history], dtype=float)


def per_class_curve(result: dict, features: str = "penultimate") -> np.ndarray:
    """Per-class NC1 (App. E.2), shape (epochs, K); NaN rows where it was undefined or not measured."""
    rows = [h["nc"][features].get("nc1_per_class") if "nc" in h else None for h in result["history"]]
    K = next(len(r) for r in rows if r is not None)
    return np.array([r if r is not None else [np.nan] * K for r in rows], dtype=float)


def zero_error_epoch(result: dict) -> int | None:
    """First epoch (1-based) whose eval pass misclassifies no training sample, else None."""
    hits = np.flatnonzero(curve(result, "train_error") == 0.0)
    return int(hits[0]) + 1 if hits.size else None


DIVERGENCE_ERROR = 0.05
"""Training error above which a run that had reached zero training error counts as diverged."""


def divergences(history: list) -> list[dict]:
    """The divergences of a run (its ``history``, :func:`nclib.train.train`): after the first epoch
    whose eval pass misclassifies no training sample, each stretch of epochs whose training error
    (the eval pass's where it ran, else the running error of the epoch) exceeds
    :data:`DIVERGENCE_ERROR`, as ``{"start", "end", "peak_error"}`` (1-based epochs; ``end`` is the
    last epoch above the threshold, None if the run ended above it)."""
    out, fitted, current = [], False, None
    for h in history:
        error = h["train_error"] if "train_error" in h else 1.0 - h["train_acc"]
        if not fitted:
            fitted = h.get("train_error") == 0.0
            continue
        if error > DIVERGENCE_ERROR:
            if current is None:
                current = {"start": h["epoch"], "end": None, "peak_error": error}
                out.append(current)
            current["peak_error"] = max(current["peak_error"], error)
        elif current is not None:
            current["end"], current = h["epoch"] - 1, None
    return out


def run_divergences(result: dict) -> list[dict]:
    """The divergences of a finished run: those its result stores, else :func:`divergences` of its
    history (results made before runs recorded them)."""
    return result["divergences"] if "divergences" in result else divergences(result["history"])


def lr_drops(result: dict) -> tuple:
    """The epochs after which the run's learning rate drops (:meth:`nclib.train.RunConfig.lr_drops`)."""
    config, epochs = result["config"], len(result["history"])
    if config.get("lr_milestones"):
        return tuple(e for e in config["lr_milestones"] if e < epochs)
    return tuple(range(config["lr_step"], epochs, config["lr_step"]))


def late_epochs(result: dict) -> np.ndarray:
    """Boolean mask of the late phase: epochs after the first learning-rate drop (the last third of
    the run if it has no drop)."""
    epochs = np.arange(1, len(result["history"]) + 1)
    drops = lr_drops(result)
    start = drops[0] + 1 if drops else len(epochs) * 2 // 3 + 1
    return epochs >= start


def at_epoch(result: dict, key: str, epoch: int, features: str = "penultimate") -> float:
    """Value of ``key`` at ``epoch`` (1-based), e.g. Table 1's read-out at epoch 100."""
    values = curve(result, key, features)
    if not 1 <= epoch <= len(values):
        raise ValueError(f"epoch={epoch} is outside this run's 1..{len(values)}")
    return float(values[epoch - 1])


def mean_sd(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; NaN for a single value, which has none)."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan


def _values(result: dict, key, features: str) -> np.ndarray:
    return np.asarray(key(result), dtype=float) if callable(key) else curve(result, key, features)


def level(result: dict, key, features: str = "penultimate", epoch: int | None = None) -> float:
    """log10 of a metric: its late-phase mean of log10 (:func:`late_epochs`), or at ``epoch``
    (1-based) if given. ``key``: a metric name of :func:`curve` or a function result -> per-epoch
    values. NaN if the metric is undefined or not positive there."""
    values = _values(result, key, features)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(np.where(values > 0, values, np.nan))
    if epoch is not None:
        if not 1 <= epoch <= len(logs):
            raise ValueError(f"epoch={epoch} is outside this run's 1..{len(logs)}")
        return float(logs[epoch - 1])
    return float(np.mean(logs[late_epochs(result)]))


def _as_list(runs) -> list:
    return list(runs) if isinstance(runs, (list, tuple)) else [runs]


def levels(runs: dict, key, features: str = "penultimate", epoch: int | None = None) -> dict:
    """``{setting: array of :func:`level`, one per seed}`` for ``runs`` (setting -> result or list
    of results)."""
    return {setting: np.array([level(r, key, features, epoch) for r in _as_list(results)])
            for setting, results in runs.items()}


def seed_spread(runs: dict, key, features: str = "penultimate", epoch: int | None = None) -> tuple[float, int]:
    """``(SD, df)`` of :func:`level` between seeds, pooled over the settings of ``runs`` (setting ->
    list of results) that have two or more seeds (:func:`nclib.effects.pooled_sd`)."""
    return effects.pooled_sd(levels(runs, key, features, epoch).values())


def level_stats(runs: dict, key, features: str = "penultimate", epoch: int | None = None,
                spread: tuple[float, int] | None = None) -> dict:
    """``{setting: (mean, se, n, df)}`` of :func:`level` over the seeds of each setting (``runs``:
    setting -> result or list of results), the SD pooled over the settings; with one seed per
    setting, ``spread`` = (SD, df) measured on other runs of the same settings (e.g. Table 1's three
    seeds, :func:`seed_spread`), else NaN (:func:`nclib.effects.level_table`)."""
    return effects.level_table(levels(runs, key, features, epoch), spread)


def table_stats(table: dict, n: int) -> dict:
    """``{setting: (mean, se, n, df)}`` in log10 from a published table ``{setting: (mean, SD)}`` of
    ``n`` seeds: log10(mean), and the SDs of log10 (SD / (mean ln 10), first order in SD / mean)
    pooled over the settings, with ``len(table) (n - 1)`` degrees of freedom."""
    sd_log = [sd / (m * math.log(10)) for m, sd in table.values()]
    pooled, df = math.sqrt(float(np.mean(np.square(sd_log)))), len(table) * (n - 1)
    return {s: (math.log10(m), pooled / math.sqrt(n), n, df) for s, (m, _) in table.items()}


def _distance_effect(stats: dict, h: str, w: str) -> tuple[float, float, float, float, float]:
    """``(|d_H|, |d_W|, effect, se, df)`` of "``h`` moves further from the baseline than ``w``":
    ``d_X = m_X - m_0``, effect ``|d_H| - |d_W|``, variance ``se_H^2 + se_W^2 + (sgn d_H - sgn
    d_W)^2 se_0^2`` (the baseline cancels when both move the same way)."""
    m0, s0 = stats["baseline"][:2]
    dh, dw = stats[h][0] - m0, stats[w][0] - m0
    se = math.sqrt(stats[h][1] ** 2 + stats[w][1] ** 2 + (np.sign(dh) - np.sign(dw)) ** 2 * s0 ** 2)
    df = min(stats[k][3] for k in ("baseline", h, w))
    return abs(dh), abs(dw), abs(dh) - abs(dw), se, df


EXTENSION = " (the book's extension: the paper states it for Fig. 3)"
"""Appended to the direction claims checked on Figs. 4-5, which the paper states for Fig. 3 only."""


def wd_claims(stats: dict, name: str, paper: dict | None = None, directions: bool = True,
              extension: bool = False) -> list[tuple[str, bool | None, str, str]]:
    """Sec. 5's claims about the five WD presets from ``stats`` (:func:`level_stats` or
    :func:`table_stats`: preset -> (mean log10, se, n, df)), as (claim, verdict, evidence,
    qualifier) rows by the rule of :mod:`nclib.effects`; ``paper``: the same statistics of the
    paper's Table 1, whose effects are reported beside these and qualify them:

    * the distance from the baseline is larger for the feature change than for the last-layer
      change (x2: wd2_H vs wd2_W; zeroing: wd0_H vs wd0_W) (:func:`_distance_effect`);
    * with ``directions``: zeroing the feature WD raises the metric (effect ``m_wd0H - m_0``),
      doubling it lowers it (effect ``m_0 - m_wd2H``), variance ``se_X^2 + se_0^2``; marked as the
      book's extension (:data:`EXTENSION`) with ``extension``.
    """
    out = []
    for h, w, what in (("wd2_H", "wd2_W", "doubling"), ("wd0_H", "wd0_W", "zeroing")):
        dh, dw, value, se, df = _distance_effect(stats, h, w)
        e = effects.Effect(value, se, df, _distance_effect(paper, h, w)[2] if paper else None)
        out.append((f"{name}: {what} the feature WD moves it further from the baseline than {what} the "
                    f"last-layer WD", *_judged(e, f"|Δlog10| H {dh:.3f} vs W {dw:.3f}: ")))
    if not directions:
        return out
    m0, s0, _, df0 = stats["baseline"]
    for preset, sign, what in (("wd0_H", 1, "feature WD = 0 raises it above"),
                               ("wd2_H", -1, "feature WD x2 lowers it below")):
        ours = sign * (stats[preset][0] - m0)
        theirs = sign * (paper[preset][0] - paper["baseline"][0]) if paper else None
        e = effects.Effect(ours, math.hypot(stats[preset][1], s0), min(df0, stats[preset][3]), theirs)
        out.append((f"{name}: {what} the baseline" + (EXTENSION if extension else ""), *_judged(e, "")))
    return out


def _judged(effect: "effects.Effect", prefix: str) -> tuple[bool | None, str, str]:
    holds, qualifier = effect.verdict()
    return holds, prefix + effect.describe(), qualifier


def ordering_verdict(stats: dict, order: list, name: str) -> tuple[str, bool | None, str, str]:
    """(claim, verdict, evidence, qualifier): the levels of ``stats`` (:func:`level_stats`) rise
    along ``order``. Holds when every step's interval lies above zero, contradicted when any step's
    lies below it, inconclusive otherwise."""
    steps = [effects.Effect(stats[b][0] - stats[a][0], math.hypot(stats[a][1], stats[b][1]),
                            min(stats[a][3], stats[b][3])) for a, b in zip(order, order[1:])]
    verdicts = [e.verdict()[0] for e in steps]
    verdict = False if False in verdicts else (True if all(v is True for v in verdicts) else None)
    return (f"{name} rises along {' < '.join(order)}", verdict,
            "; ".join(f"{a} -> {b}: {e.describe()}" for (a, b), e in zip(zip(order, order[1:]), steps)), "")


def minor_verdict(stats: dict, base: str, blurred: str, lowest: str, name: str) -> tuple[str, bool | None, str, str]:
    """(claim, verdict, evidence, qualifier): blurring alone moves the level less than lowering the
    last-layer WD then does, ``|m_lowest - m_blurred| - |m_blurred - m_base| > 0`` (Fig. 6 (b): "the
    effect of the blurred classes ... is minor"); variance ``se_lowest^2 + (sgn a + sgn b)^2
    se_blurred^2 + se_base^2`` with ``a = m_lowest - m_blurred``, ``b = m_blurred - m_base``."""
    a = stats[lowest][0] - stats[blurred][0]
    b = stats[blurred][0] - stats[base][0]
    se = math.sqrt(stats[lowest][1] ** 2 + (np.sign(a) + np.sign(b)) ** 2 * stats[blurred][1] ** 2
                   + stats[base][1] ** 2)
    e = effects.Effect(abs(a) - abs(b), se, min(stats[k][3] for k in (base, blurred, lowest)))
    return (f"{name}: blurring alone ({blurred}) moves it less from {base} than lowering the last-layer WD "
            f"({lowest}) then does", *_judged(e, f"|blur| {abs(b):.3f} vs |last-layer WD| {abs(a):.3f}: "))


def unblurred_nc1(result: dict, blurred) -> np.ndarray:
    """Per-epoch mean per-class NC1 (App. E.2) of the classes not in ``blurred``."""
    per_class = per_class_curve(result)
    keep = [k for k in range(per_class.shape[1]) if k not in set(blurred)]
    return per_class[:, keep].mean(axis=1)


FIG6_METRICS = ("nc1_others", "nc1", "nc2", "nc3")
"""The metrics of Figure 6's ordering claims: the unblurred classes' mean per-class NC1, then
NC1, NC2 and NC3 of the deepest features."""


def fig6_verdicts(runs: dict, order: list, blurred, spread: dict | None = None) -> list[tuple]:
    """App. E.2, Fig. 6: along ``order`` (the baseline, then the blurred runs' settings as the last
    layer's WD falls, (a) -> (b) -> (c) -> (d)): blurring alone moves the unblurred classes' mean
    per-class NC1 and NC1 less than lowering the last-layer WD then does (:func:`minor_verdict`,
    (b)), and from (b) on the unblurred classes' mean per-class NC1 and NC1, NC2, NC3 of the
    deepest features all rise (:func:`ordering_verdict` on late-phase levels). ``runs``: setting ->
    result or list of results; ``blurred``: the blurred classes; ``spread``: a name of
    :data:`FIG6_METRICS` -> (SD, df) for one seed per setting (see :func:`level_stats`). Rows:
    (claim, verdict, evidence, qualifier)."""
    def others(result):
        return unblurred_nc1(result, blurred)

    out = []
    for key, name in ((others, "mean per-class NC1 of the unblurred classes"), ("nc1", "NC1"), ("nc2", "NC2"),
                      ("nc3", "NC3")):
        label = "nc1_others" if callable(key) else key
        stats = level_stats({s: runs[s] for s in order}, key, spread=(spread or {}).get(label))
        if label in ("nc1_others", "nc1"):
            out.append(minor_verdict(stats, order[0], order[1], order[-1], f"Fig. 6 (b): {name}"))
        out.append(ordering_verdict(stats, order[1:], f"Fig. 6: {name}"))
    return out


def depth_verdicts(runs: dict, key: str = "nc1") -> tuple[str, bool, str, str]:
    """App. E.2: the intermediate features ("block3") are further from collapse than the deepest
    ("penultimate") in every run of ``runs`` (name -> result), by the late-phase mean of ``key``."""
    ratios = {}
    for p, r in runs.items():
        mask = late_epochs(r)
        ratios[p] = float(np.nanmean(curve(r, key, "block3")[mask]) / np.nanmean(curve(r, key, "penultimate")[mask]))
    name = _NAMES.get(key, key)
    return (f"{name}: intermediate features are further from collapse than the deepest, in every setting",
            all(v > 1 for v in ratios.values()),
            "intermediate / deepest: " + ", ".join(f"{p} {v:.2f}" for p, v in ratios.items()), "")

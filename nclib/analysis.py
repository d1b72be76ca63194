"""Read-outs of training runs (the result dicts of :func:`nclib.train.train`) and the computed
verdicts of the claims of Sec. 5 and App. E.

Comparisons of curves use the *late phase*: the epochs after the first learning-rate drop, when
the paper's runs have reached zero training error (epoch 40 of its schedule) and the metrics
sit near their plateaus. The distance between two curves there is the mean absolute log10 ratio
(:func:`log_ratio`), so "twice as large" and "half as large" count the same.
"""

from __future__ import annotations

import numpy as np

__all__ = ["select", "summary", "curve", "per_class_curve", "zero_error_epoch", "zero_error_verdict", "late_epochs",
           "log_ratio", "at_epoch", "mean_sd", "wd_verdicts", "depth_verdicts"]


_NAMES = {"nc1": "NC1", "nc1_tilde": "NC1~", "nc2": "NC2", "nc3": "NC3"}


def select(runs: dict, dataset: str | None = None, loss: str | None = None, seed: int | None = 0) -> dict:
    """``{setting: result}`` of the runs of :func:`nclib.experiments.run` (keyed ``(dataset, loss,
    setting, seed)``) that match ``dataset``, ``loss`` and ``seed`` (None matches any)."""
    out = {key[2]: r for key, r in runs.items()
           if all(want is None or got == want for want, got in zip((dataset, loss, None, seed), key))}
    if not out:
        raise KeyError(f"no run matches dataset={dataset!r}, loss={loss!r}, seed={seed!r}")
    return out


def summary(runs: dict) -> str:
    """One line per run: its key, the first epoch with zero training error, and the last epoch's
    training error, NC1 and NC2 of the deepest features and test accuracy."""
    lines = [f"{'run':<40} {'zero error at':>13} {'final error':>11} {'NC1':>9} {'NC2':>7} {'test acc':>8}"]
    for key, r in runs.items():
        z = zero_error_epoch(r)
        name = " / ".join(str(k) for k in key)
        lines.append(f"{name:<40} {'never' if z is None else f'epoch {z}':>13} {curve(r, 'train_error')[-1]:11.4f} "
                     f"{curve(r, 'nc1')[-1]:9.3g} {curve(r, 'nc2')[-1]:7.3f} {curve(r, 'test_acc')[-1]:8.3f}")
    return "\n".join(lines)


def curve(result: dict, key: str, features: str = "penultimate") -> np.ndarray:
    """Per-epoch values of ``key``: an NC metric of ``features`` ("nc1", "nc1_tilde", "nc2", "nc3",
    "tr_sw", "tr_sb") or a top-level record field ("train_error", "test_acc", "train_loss", ...).
    NaN where the metric was undefined at that epoch."""
    history = result["history"]
    if key in history[0] and key != "nc":
        return np.array([h[key] for h in history], dtype=float)
    if features not in history[0]["nc"]:
        raise KeyError(f"features={features!r} not in this run; it has {sorted(history[0]['nc'])}")
    return np.array([h["nc"][features].get(key, np.nan) for h in history], dtype=float)


def per_class_curve(result: dict, features: str = "penultimate") -> np.ndarray:
    """Per-class NC1 (App. E.2), shape (epochs, K); NaN rows where it was undefined."""
    rows = [h["nc"][features].get("nc1_per_class") for h in result["history"]]
    K = next(len(r) for r in rows if r is not None)
    return np.array([r if r is not None else [np.nan] * K for r in rows], dtype=float)


def zero_error_epoch(result: dict) -> int | None:
    """First epoch (1-based) whose eval pass misclassifies no training sample, else None."""
    hits = np.flatnonzero(curve(result, "train_error") == 0.0)
    return int(hits[0]) + 1 if hits.size else None


def zero_error_verdict(runs: dict) -> tuple[str, bool, str]:
    """(claim, holds, evidence): every run of ``runs`` (name -> result) reaches zero training error."""
    zero = {name: zero_error_epoch(r) for name, r in runs.items()}
    return ("every setting reaches zero training error", None not in zero.values(),
            "first epoch at zero: " + ", ".join(f"{n} {'never' if z is None else z}" for n, z in zero.items()))


def late_epochs(result: dict) -> np.ndarray:
    """Boolean mask of the late phase: epochs after the first learning-rate drop (the last third of
    the run if it has no drop)."""
    epochs = np.arange(1, len(result["history"]) + 1)
    step = result["config"]["lr_step"]
    start = step + 1 if step < len(epochs) else len(epochs) * 2 // 3 + 1
    return epochs >= start


def log_ratio(result: dict, reference: dict, key: str, features: str = "penultimate") -> tuple[float, float]:
    """``(mean log10(result / reference), mean |log10(result / reference)|)`` of ``key`` over the late
    phase: the signed shift of one curve from another and its size."""
    if len(result["history"]) != len(reference["history"]):
        raise ValueError("the two runs have different numbers of epochs")
    mask = late_epochs(reference)
    r = np.log10(curve(result, key, features)[mask] / curve(reference, key, features)[mask])
    return float(np.mean(r)), float(np.mean(np.abs(r)))


def at_epoch(result: dict, key: str, epoch: int, features: str = "penultimate") -> float:
    """Value of ``key`` at ``epoch`` (1-based), e.g. Table 1's read-out at epoch 100."""
    values = curve(result, key, features)
    if not 1 <= epoch <= len(values):
        raise ValueError(f"epoch={epoch} is outside this run's 1..{len(values)}")
    return float(values[epoch - 1])


def mean_sd(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; 0 for a single value)."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def wd_verdicts(runs: dict, key: str, features: str = "penultimate") -> list[tuple[str, bool, str]]:
    """Sec. 5's claims about the five WD presets, for metric ``key``; ``runs``: preset name
    (:data:`nclib.train.WD_PRESETS`) -> result. Returns (claim, holds, evidence) triples:

    * changing the feature WD moves the curve further from the baseline than changing the last
      layer's WD the same way (x2: wd2_H vs wd2_W; zeroing: wd0_H vs wd0_W), by ``mean |log10 ratio|``;
    * zeroing the feature WD raises the metric above the baseline; doubling it lowers it.
    """
    base = runs["baseline"]
    shift = {p: log_ratio(runs[p], base, key, features) for p in runs if p != "baseline"}
    name = _NAMES.get(key, key)
    out = []
    for h, w, what in (("wd2_H", "wd2_W", "doubling"), ("wd0_H", "wd0_W", "zeroing")):
        out.append((f"{name}: {what} the feature WD moves the curve further from the baseline than {what} "
                    f"the last-layer WD", shift[h][1] > shift[w][1],
                    f"mean |log10 ratio| {shift[h][1]:.3f} (H) vs {shift[w][1]:.3f} (W)"))
    out.append((f"{name}: feature WD = 0 raises it above the baseline", shift["wd0_H"][0] > 0,
                f"mean log10 ratio {shift['wd0_H'][0]:+.3f}"))
    out.append((f"{name}: feature WD x2 lowers it below the baseline", shift["wd2_H"][0] < 0,
                f"mean log10 ratio {shift['wd2_H'][0]:+.3f}"))
    return out


def depth_verdicts(runs: dict, key: str = "nc1") -> tuple[str, bool, str]:
    """App. E.2: the intermediate features ("block3") are further from collapse than the deepest
    ("penultimate") in every run of ``runs`` (name -> result), by the late-phase mean of ``key``."""
    ratios = {}
    for p, r in runs.items():
        mask = late_epochs(r)
        ratios[p] = float(np.mean(curve(r, key, "block3")[mask]) / np.mean(curve(r, key, "penultimate")[mask]))
    name = _NAMES.get(key, key)
    return (f"{name}: intermediate features are further from collapse than the deepest, in every setting",
            all(v > 1 for v in ratios.values()),
            "intermediate / deepest: " + ", ".join(f"{p} {v:.2f}" for p, v in ratios.items()))

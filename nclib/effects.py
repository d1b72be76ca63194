"""Effects in decades with their confidence intervals, and the rule that turns one into a verdict.

An experiment's claim compares levels (log10 of an NC metric, :func:`nclib.analysis.level`)
between settings. The noise of a level is the spread between seeds: the within-setting variances
of a group of settings (one data set, loss and metric) are pooled, with ``sum(n_i - 1)`` degrees
of freedom, so that five settings of three seeds give 10 of them and a t quantile (not a normal
one) sets the interval. An :class:`Effect` carries the estimate, its standard error and degrees
of freedom, and the paper's own effect where the paper gives one (its Table 1), and reads as:

* **holds** -- the 95% interval excludes zero on the paper's side; qualified *smaller than the
  paper's* where the interval also lies below the paper's effect;
* **contradicted** -- the interval excludes zero on the other side;
* **smaller than the paper's** -- the interval contains zero but lies below the paper's effect:
  an effect of the paper's size is excluded, one of the paper's sign is not shown;
* **inconclusive** -- otherwise, or when no standard error exists.

A claim whose premise is not met (runs that never reach zero training error, a premise of reading
a figure that fails) is *premise not met* (:data:`PREMISE`) and is not counted as evidence either
way. The smallest effect a design detects (:attr:`Effect.mde`) is the one that a two-sided test at
5% finds with 80% probability: ``(t_0.975 + t_0.80) SE``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import stats as _st

__all__ = ["LEVEL", "POWER", "SMALLER", "PREMISE", "Effect", "pooled_sd", "level_table"]

LEVEL = 0.95
"""Confidence level of the intervals."""
POWER = 0.80
"""Power at which :attr:`Effect.mde` is the smallest detectable effect."""
SMALLER = "smaller than the paper's"
"""Qualifier of a verdict whose interval lies below the paper's effect."""
PREMISE = "premise not met"
"""Qualifier of a claim that is not judged because its premise fails (verdict None)."""


@dataclasses.dataclass(frozen=True)
class Effect:
    """An effect ``value`` (decades; positive = the paper's direction) with standard error ``se``
    on ``df`` degrees of freedom; ``paper``: the paper's effect on the same scale, or None."""

    value: float
    se: float
    df: float
    paper: float | None = None

    @property
    def defined(self) -> bool:
        return math.isfinite(self.value) and math.isfinite(self.se) and self.df >= 1

    @property
    def ci(self) -> tuple[float, float]:
        """The :data:`LEVEL` confidence interval (t with ``df`` degrees of freedom); NaNs if undefined."""
        if not self.defined:
            return math.nan, math.nan
        half = float(_st.t.ppf(0.5 + LEVEL / 2, self.df)) * self.se
        return self.value - half, self.value + half

    @property
    def mde(self) -> float:
        """Smallest effect found with probability :data:`POWER` by a two-sided test at 1 - :data:`LEVEL`."""
        if not self.defined:
            return math.nan
        return float(_st.t.ppf(0.5 + LEVEL / 2, self.df) + _st.t.ppf(POWER, self.df)) * self.se

    def verdict(self) -> tuple[bool | None, str]:
        """``(holds, qualifier)`` by the rule of the module docstring: holds True / False / None,
        qualifier "" or :data:`SMALLER`."""
        lo, hi = self.ci
        if not self.defined:
            return None, ""
        below_paper = self.paper is not None and self.paper > 0 and hi < self.paper
        if lo > 0:
            return True, SMALLER if below_paper else ""
        if hi < 0:
            return False, ""
        return None, SMALLER if below_paper else ""

    def describe(self) -> str:
        """One line: the effect, its interval, the smallest detectable effect, the paper's."""
        if not self.defined:
            return f"{self.value:+.3f} decades; no standard error (fewer than two seeds and no pooled spread)"
        lo, hi = self.ci
        text = (f"{self.value:+.3f} decades, {LEVEL:.0%} CI [{lo:+.3f}, {hi:+.3f}] (t, {self.df:g} df); "
                f"detectable: {self.mde:.3f}")
        if self.paper is not None:
            text += f"; paper: {self.paper:+.3f}"
            if self.paper > 0 and hi < self.paper:
                text += f" (this CI reaches {max(hi, 0.0) / self.paper:.0%} of it)"
        return text


def pooled_sd(samples) -> tuple[float, int]:
    """``(SD, df)`` of the within-group spread pooled over ``samples`` (an iterable of 1-D arrays,
    one per setting): ``sqrt(sum (n_i - 1) s_i^2 / df)`` with ``df = sum (n_i - 1)``; ``(nan, 0)``
    when no group has two values."""
    ss, df = 0.0, 0
    for values in samples:
        values = np.asarray(values, dtype=float)
        if values.size >= 2:
            ss += float(((values - values.mean()) ** 2).sum())
            df += values.size - 1
    return (math.sqrt(ss / df), df) if df else (math.nan, 0)


def level_table(levels: dict, spread: tuple[float, int] | None = None) -> dict:
    """``{setting: (mean, se, n, df)}`` from ``levels`` (setting -> array of one level per seed).
    The SD is pooled over the settings (:func:`pooled_sd`); where no setting has two seeds,
    ``spread`` = (SD, df) measured on other runs of the same design (e.g. Table 1's seeds), else
    the standard errors are NaN."""
    sd, df = pooled_sd(levels.values())
    if df == 0 and spread is not None:
        sd, df = spread
    out = {}
    for setting, values in levels.items():
        values = np.asarray(values, dtype=float)
        out[setting] = (float(values.mean()), sd / math.sqrt(values.size), int(values.size), df)
    return out

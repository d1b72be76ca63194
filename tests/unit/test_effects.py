"""nclib.effects: the interval of an effect, the verdict rule, and its calibration on synthetic
designs whose true effect is known."""

import math

import numpy as np
import pytest

from nclib import analysis
from nclib.effects import PREMISE, SMALLER, Effect, level_table, pooled_sd

# Student t quantiles from a printed table (two decimals are all the tests need):
T975_10, T80_10 = 2.228, 0.879


def test_interval_and_detectable_effect_use_t_quantiles():
    e = Effect(0.3, 0.1, 10)
    assert e.ci == pytest.approx((0.3 - T975_10 * 0.1, 0.3 + T975_10 * 0.1), abs=1e-3)
    assert e.mde == pytest.approx((T975_10 + T80_10) * 0.1, abs=1e-3)
    assert Effect(0.3, 0.1, 2).ci[0] < e.ci[0]  # fewer degrees of freedom: a wider interval


def test_the_rule():
    assert Effect(0.3, 0.1, 10).verdict() == (True, "")
    assert Effect(0.3, 0.1, 10, paper=1.0).verdict() == (True, SMALLER)  # CI [0.08, 0.52] < 1.0
    assert Effect(0.3, 0.1, 10, paper=0.4).verdict() == (True, "")  # the CI reaches the paper's effect
    assert Effect(-0.3, 0.1, 10, paper=1.0).verdict() == (False, "")
    assert Effect(0.1, 0.1, 10, paper=0.5).verdict() == (None, SMALLER)  # CI [-0.12, 0.32] contains 0, < 0.5
    assert Effect(0.1, 0.1, 10, paper=0.3).verdict() == (None, "")  # 0.32 > 0.3: a paper-size effect fits
    assert Effect(0.3, math.nan, 0).verdict() == (None, "")
    assert "no standard error" in Effect(0.3, math.nan, 0).describe()
    assert "reaches 52% of it" in Effect(0.3, 0.1, 10, paper=1.0).describe()
    assert PREMISE not in (Effect(0.3, 0.1, 10).verdict()[1], Effect(-0.3, 0.1, 10).verdict()[1])


def test_pooled_sd_and_level_table():
    assert pooled_sd([np.array([1.0, 2.0]), np.array([3.0, 5.0]), np.array([7.0])]) == pytest.approx(
        (math.sqrt((0.5 + 2.0) / 2), 2))
    assert math.isnan(pooled_sd([np.array([1.0])])[0])
    table = level_table({"a": np.array([1.0, 2.0]), "b": np.array([4.0])}, spread=(9.0, 9))
    assert table["b"] == pytest.approx((4.0, math.sqrt(0.5), 1, 1))  # the seeds' spread wins over `spread`


def _simulated_verdicts(effect: float, sd: float, seeds: int, reps: int, rng) -> np.ndarray:
    """Verdicts of "zeroing the feature WD raises NC1" on ``reps`` simulated Table 1 columns: five
    presets with ``seeds`` seeds each, log10 levels normal with SD ``sd``, wd0_H above the baseline
    by ``effect`` decades."""
    truth = {"baseline": 0.0, "wd2_W": 0.0, "wd2_H": 0.0, "wd0_W": 0.0, "wd0_H": effect}
    out = []
    for _ in range(reps):
        levels = {p: m + sd * rng.standard_normal(seeds) for p, m in truth.items()}
        out.append(analysis.wd_claims(level_table(levels), "NC1")[2][1])
    return np.array(out, dtype=object)


def test_rule_is_calibrated_on_synthetic_designs():
    rng = np.random.default_rng(0)
    sd, seeds = 0.05, 3
    se = sd * math.sqrt(2 / seeds)
    null = _simulated_verdicts(0.0, sd, seeds, 2000, rng)
    # no effect: "holds" at a two-sided 5% level is a one-sided 2.5% error; 2000 draws put the
    # count's SD at 0.35%, so 4% is more than four SDs away
    assert np.mean(null == True) < 0.04 and np.mean(null == False) < 0.04  # noqa: E712
    mde = (T975_10 + T80_10) * se
    at_mde = _simulated_verdicts(mde, sd, seeds, 1000, rng)
    assert 0.72 < np.mean(at_mde == True) < 0.88  # noqa: E712 -- 80% power at the detectable effect

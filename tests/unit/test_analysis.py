"""nclib.analysis: read-outs of training histories and the Sec. 5 verdicts, on synthetic runs
whose answers are known by construction."""

import math

import numpy as np
import pytest

from nclib import analysis


def fake_run(nc1, nc2=None, block3=None, errors=None, lr_step=4, per_class=None):
    """A result dict shaped like nclib.train.train's, with the given per-epoch curves."""
    nc2 = nc2 if nc2 is not None else [0.5] * len(nc1)
    errors = errors if errors is not None else [0.1] * (len(nc1) - 1) + [0.0]
    history = []
    for e, (a, b, err) in enumerate(zip(nc1, nc2, errors)):
        nc = {"penultimate": {"nc1": a, "nc2": b, "nc1_per_class": per_class[e] if per_class else [a, a]}}
        if block3 is not None:
            nc["block3"] = {"nc1": block3[e], "nc2": b}
        history.append({"epoch": e + 1, "train_error": err, "test_acc": 0.9, "nc": nc})
    return {"config": {"lr_step": lr_step}, "history": history}


def test_curve_reads_metrics_and_record_fields():
    r = fake_run([3.0, 2.0, 1.0], errors=[0.5, 0.0, 0.0])
    np.testing.assert_array_equal(analysis.curve(r, "nc1"), [3.0, 2.0, 1.0])
    np.testing.assert_array_equal(analysis.curve(r, "train_error"), [0.5, 0.0, 0.0])
    assert analysis.zero_error_epoch(r) == 2
    assert analysis.zero_error_epoch(fake_run([1.0, 1.0], errors=[0.2, 0.1])) is None
    with pytest.raises(KeyError, match="features='block3' not in this run"):
        analysis.curve(r, "nc1", "block3")


def test_undefined_metrics_become_nan():
    r = fake_run([1.0, 2.0])
    del r["history"][0]["nc"]["penultimate"]["nc1"]
    assert math.isnan(analysis.curve(r, "nc1")[0])


def test_late_phase_starts_after_the_first_lr_drop():
    r = fake_run([1.0] * 10, lr_step=4)
    assert analysis.late_epochs(r).tolist() == [False] * 4 + [True] * 6
    no_drop = fake_run([1.0] * 9, lr_step=40)  # no drop within the run: the last third
    assert analysis.late_epochs(no_drop).tolist() == [False] * 6 + [True] * 3


def test_at_epoch_and_mean_sd():
    r = fake_run([4.0, 3.0, 2.0])
    assert analysis.at_epoch(r, "nc1", 2) == 3.0
    with pytest.raises(ValueError, match="epoch=4 is outside"):
        analysis.at_epoch(r, "nc1", 4)
    mean, sd = analysis.mean_sd([1.0, 2.0, 3.0])
    assert (mean, sd) == (2.0, 1.0)  # sample SD (ddof = 1)
    mean, sd = analysis.mean_sd([5.0])
    assert mean == 5.0 and math.isnan(sd)  # one seed has no spread, not a zero one


def presets(factors, noise=(1.0,)):
    """Five settings, one run per entry of ``noise``; a run's late-phase NC1 is the baseline's (1.0)
    times ``factors[preset]`` times its ``noise`` factor."""
    return {p: [fake_run([1.0] * 4 + [f * e] * 4) for e in noise] for p, f in factors.items()}


def test_level_is_the_late_phase_mean_of_log10():
    r = fake_run([7.0] * 4 + [10.0, 100.0, 1000.0, 0.1])
    assert analysis.level(r, "nc1") == pytest.approx((1 + 2 + 3 - 1) / 4)
    assert analysis.level(r, "nc1", epoch=2) == pytest.approx(math.log10(7.0))
    assert math.isnan(analysis.level(fake_run([1.0] * 4 + [0.0] * 4), "nc1"))  # Sigma_B = 0 style zeros
    assert analysis.level(r, lambda res: np.full(8, 100.0)) == pytest.approx(2.0)


def test_level_stats_pool_the_seed_spread_over_settings_else_take_the_supplied_one():
    runs = {"a": [fake_run([1.0] * 4 + [10.0] * 4), fake_run([1.0] * 4 + [100.0] * 4)],
            "c": [fake_run([1.0] * 4 + [10.0] * 4), fake_run([1.0] * 4 + [1000.0] * 4)], "b": fake_run([1.0] * 8)}
    stats = analysis.level_stats(runs, "nc1")
    pooled = math.sqrt((0.5 + 2.0) / 2)  # levels (1, 2) and (1, 3): squared deviations 0.5 and 2, 2 df
    assert stats["a"] == pytest.approx((1.5, pooled / math.sqrt(2), 2, 2))
    assert stats["b"] == pytest.approx((0.0, pooled, 1, 2))  # one seed: the pooled SD over sqrt(1)
    assert analysis.seed_spread(runs, "nc1") == pytest.approx((pooled, 2))
    one_seed = {"b": fake_run([1.0] * 8)}
    assert math.isnan(analysis.level_stats(one_seed, "nc1")["b"][1])  # no spread anywhere: unknown noise
    assert analysis.level_stats(one_seed, "nc1", spread=(0.3, 10))["b"] == pytest.approx((0.0, 0.3, 1, 10))


def verdicts_of(rows):
    return [(holds, qualifier) for _, holds, _, qualifier in rows]


def test_wd_claims_hold_when_feature_wd_moves_the_curve_more():
    runs = presets({"baseline": 1.0, "wd2_W": 0.9, "wd2_H": 0.5, "wd0_W": 1.2, "wd0_H": 4.0}, noise=(0.99, 1.01))
    rows = analysis.wd_claims(analysis.level_stats(runs, "nc1"), "NC1")
    assert verdicts_of(rows) == [(True, "")] * 4
    assert all(claim.startswith("NC1: ") for claim, *_ in rows)


def test_wd_claims_are_contradicted_when_last_layer_wd_moves_the_curve_more():
    runs = presets({"baseline": 1.0, "wd2_W": 0.2, "wd2_H": 0.9, "wd0_W": 3.0, "wd0_H": 0.8}, noise=(0.99, 1.01))
    rows = analysis.wd_claims(analysis.level_stats(runs, "nc1"), "NC1")
    assert [h for h, _ in verdicts_of(rows)] == [False, False, False, True]


def test_wd_claims_are_inconclusive_within_seed_noise_or_without_it():
    factors = {"baseline": 1.0, "wd2_W": 0.9, "wd2_H": 0.5, "wd0_W": 1.2, "wd0_H": 4.0}
    noisy = analysis.level_stats(presets(factors, noise=(0.3, 3.0)), "nc1")  # seeds differ by 10x
    assert verdicts_of(analysis.wd_claims(noisy, "NC1")) == [(None, "")] * 4
    one_seed = presets(factors)
    assert verdicts_of(analysis.wd_claims(analysis.level_stats(one_seed, "nc1"), "NC1")) == [(None, "")] * 4
    measured = analysis.level_stats(one_seed, "nc1", spread=(0.01, 10))  # e.g. Table 1's three seeds
    assert verdicts_of(analysis.wd_claims(measured, "NC1")) == [(True, "")] * 4


def test_wd_claims_compare_with_the_paper_and_say_when_smaller():
    factors = {"baseline": 1.0, "wd2_W": 0.9, "wd2_H": 0.5, "wd0_W": 1.2, "wd0_H": 4.0}
    ours = analysis.level_stats(presets(factors, noise=(0.99, 1.01)), "nc1")
    ten_times = analysis.level_stats(presets({p: f ** 10 for p, f in factors.items()}, noise=(0.99, 1.01)), "nc1")
    rows = analysis.wd_claims(ours, "NC1", paper=ten_times)
    assert verdicts_of(rows) == [(True, "smaller than the paper's")] * 4
    assert "paper: +" in rows[0][2] and "of it)" in rows[0][2]
    assert verdicts_of(analysis.wd_claims(ours, "NC1", paper=ours)) == [(True, "")] * 4  # same size: not smaller
    tied = analysis.level_stats(presets(dict.fromkeys(factors, 1.0), noise=(0.99, 1.01)), "nc1")
    assert verdicts_of(analysis.wd_claims(tied, "NC1", paper=ten_times))[2:] == [(None, "smaller than the paper's")] * 2
    assert analysis.wd_claims(ours, "NC1", extension=True)[3][0].endswith(analysis.EXTENSION)
    assert len(analysis.wd_claims(ours, "NC1", directions=False)) == 2


def test_wd_claims_on_a_published_table():
    # Table 1 of the paper, CIFAR-10 MSE NC1 (mean, SD over 3 seeds).
    table = {"baseline": (0.0061, 4e-4), "wd2_W": (0.0055, 3e-4), "wd2_H": (0.0022, 8e-5),
             "wd0_W": (0.0048, 2e-4), "wd0_H": (0.0280, 3e-3)}
    stats = analysis.table_stats(table, n=3)
    sd_log = [sd / (m * math.log(10)) for m, sd in table.values()]
    pooled = math.sqrt(sum(v * v for v in sd_log) / 5)  # equal n: the mean of the variances, 5 x 2 df
    assert stats["wd2_H"] == pytest.approx((math.log10(0.0022), pooled / math.sqrt(3), 3, 10))
    assert verdicts_of(analysis.wd_claims(stats, "NC1")) == [(True, "")] * 4
    # Ten times the SDs (by hand): pooled SD of log10 10 x 0.0287, SE of one setting 0.166, interval
    # half-width t(0.975, 10) = 2.228 times the SE of the effect. Doubling: 0.443 - 0.045 = 0.398,
    # both fall, the baseline cancels, SE 0.234, half-width 0.52: inconclusive. Zeroing: +0.662 vs
    # -0.104, opposite directions, SE sqrt(6) x 0.166 = 0.41: inconclusive. WD = 0 raises by 0.662 >
    # 0.52: holds; WD x2 lowers by 0.443 < 0.52: inconclusive.
    wide = analysis.table_stats({p: (m, 10 * sd) for p, (m, sd) in table.items()}, n=3)
    assert [h for h, _ in verdicts_of(analysis.wd_claims(wide, "NC1"))] == [None, None, True, None]


def test_ordering_verdict_needs_every_step_beyond_noise():
    stats = {"b": (0.0, 0.01, 2, 4), "c": (0.1, 0.01, 2, 4), "d": (0.3, 0.01, 2, 4)}
    assert analysis.ordering_verdict(stats, ["b", "c", "d"], "NC1")[1] is True
    stats["d"] = (0.11, 0.01, 2, 4)  # c -> d within noise
    assert analysis.ordering_verdict(stats, ["b", "c", "d"], "NC1")[1] is None
    stats["d"] = (-0.2, 0.01, 2, 4)  # c -> d falls
    assert analysis.ordering_verdict(stats, ["b", "c", "d"], "NC1")[1] is False


def test_minor_verdict_compares_the_blur_with_the_last_layer_wd_step():
    stats = {"a": (0.0, 0.01, 2, 6), "b": (0.02, 0.01, 2, 6), "d": (0.5, 0.01, 2, 6)}
    assert analysis.minor_verdict(stats, "a", "b", "d", "NC1")[1] is True
    stats["b"] = (0.6, 0.01, 2, 6)  # blurring alone moves it more than the WD step after it
    assert analysis.minor_verdict(stats, "a", "b", "d", "NC1")[1] is False


def test_depth_verdict_compares_intermediate_with_deepest_features():
    deeper = {"a": fake_run([1.0] * 8, block3=[3.0] * 8), "b": fake_run([1.0] * 8, block3=[2.0] * 8)}
    claim, holds, evidence, _ = analysis.depth_verdicts(deeper)
    assert holds and "a 3.00" in evidence
    deeper["b"] = fake_run([1.0] * 8, block3=[0.5] * 8)
    assert not analysis.depth_verdicts(deeper)[1]


def test_epochs_without_the_eval_pass_read_as_nan_and_the_late_phase_follows_milestones():
    r = fake_run([4.0, 3.0, 2.0, 1.0, 1.0, 1.0])
    r["config"]["lr_milestones"] = [3, 5]
    del r["history"][1]["nc"], r["history"][1]["train_error"]
    assert np.isnan(analysis.curve(r, "nc1")[1]) and np.isnan(analysis.curve(r, "train_error")[1])
    assert analysis.lr_drops(r) == (3, 5)
    assert analysis.late_epochs(r).tolist() == [False] * 3 + [True] * 3


def test_divergences_are_the_stretches_above_5_percent_after_zero_training_error():
    errors = [0.5, 0.2, 0.0, 0.01, 0.7, 0.4, None, 0.0, 0.06]
    history = [{"epoch": e + 1, "train_acc": 1 - (err if err is not None else 0.3), **(
        {} if err is None else {"train_error": err})} for e, err in enumerate(errors)]
    # epoch 7 has no eval pass: its running error (0.3) counts
    assert analysis.divergences(history) == [{"start": 5, "end": 7, "peak_error": 0.7},
                                             {"start": 9, "end": None, "peak_error": 0.06}]
    assert analysis.divergences(history[:4]) == []
    never_fitted = [{"epoch": 1, "train_acc": 0.1, "train_error": 0.9}]
    assert analysis.divergences(never_fitted) == []

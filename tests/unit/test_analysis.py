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


def test_three_state_reads_the_effect_against_its_standard_error():
    assert analysis.three_state(0.3, 0.1) is True  # 3 SE
    assert analysis.three_state(-0.3, 0.1) is False
    assert analysis.three_state(0.19, 0.1) is None  # within 2 SE
    assert analysis.three_state(math.nan, 0.1) is None and analysis.three_state(0.3, math.nan) is None


def test_level_is_the_late_phase_mean_of_log10():
    r = fake_run([7.0] * 4 + [10.0, 100.0, 1000.0, 0.1])
    assert analysis.level(r, "nc1") == pytest.approx((1 + 2 + 3 - 1) / 4)
    assert analysis.level(r, "nc1", epoch=2) == pytest.approx(math.log10(7.0))
    assert math.isnan(analysis.level(fake_run([1.0] * 4 + [0.0] * 4), "nc1"))  # Sigma_B = 0 style zeros
    assert analysis.level(r, lambda res: np.full(8, 100.0)) == pytest.approx(2.0)


def test_level_stats_use_the_seed_spread_else_the_supplied_one():
    runs = {"a": [fake_run([1.0] * 4 + [10.0] * 4), fake_run([1.0] * 4 + [100.0] * 4)], "b": fake_run([1.0] * 8)}
    stats = analysis.level_stats(runs, "nc1")
    assert stats["a"][:2] == pytest.approx((1.5, math.sqrt(0.5) / math.sqrt(2)))  # SD of (1, 2) / sqrt(2)
    assert math.isnan(stats["b"][1])  # one seed and no spread: unknown noise
    assert analysis.level_stats(runs, "nc1", spread={"b": 0.3})["b"][1] == pytest.approx(0.3)
    assert analysis.level_stats(runs, "nc1", spread={"b": 0.3}, floor=0.4)["b"][1] == pytest.approx(0.5)
    assert analysis.seed_spread(runs, "nc1") == pytest.approx({"a": math.sqrt(0.5)})


def test_wd_verdicts_hold_when_feature_wd_moves_the_curve_more():
    runs = presets({"baseline": 1.0, "wd2_W": 0.9, "wd2_H": 0.5, "wd0_W": 1.2, "wd0_H": 4.0}, noise=(0.99, 1.01))
    verdicts = analysis.wd_verdicts(runs, "nc1")
    assert len(verdicts) == 4 and all(v is True for _, v, _ in verdicts)
    assert all(claim.startswith("NC1: ") for claim, _, _ in verdicts)


def test_wd_verdicts_are_contradicted_when_last_layer_wd_moves_the_curve_more():
    runs = presets({"baseline": 1.0, "wd2_W": 0.2, "wd2_H": 0.9, "wd0_W": 3.0, "wd0_H": 0.8}, noise=(0.99, 1.01))
    assert [v for _, v, _ in analysis.wd_verdicts(runs, "nc1")] == [False, False, False, True]


def test_wd_verdicts_are_inconclusive_within_seed_noise_or_without_it():
    runs = presets({"baseline": 1.0, "wd2_W": 0.9, "wd2_H": 0.5, "wd0_W": 1.2, "wd0_H": 4.0}, noise=(0.3, 3.0))
    assert [v for _, v, _ in analysis.wd_verdicts(runs, "nc1")] == [None] * 4  # seeds differ by 10x
    one_seed = presets({"baseline": 1.0, "wd2_W": 0.9, "wd2_H": 0.5, "wd0_W": 1.2, "wd0_H": 4.0})
    assert [v for _, v, _ in analysis.wd_verdicts(one_seed, "nc1")] == [None] * 4
    spread = dict.fromkeys(one_seed, 0.01)  # e.g. measured on Table 1's three seeds
    assert [v for _, v, _ in analysis.wd_verdicts(one_seed, "nc1", spread=spread)] == [True] * 4


def test_wd_claims_on_a_published_table():
    # Table 1 of the paper, CIFAR-10 MSE NC1 (mean, SD over 3 seeds).
    table = {"baseline": (0.0061, 4e-4), "wd2_W": (0.0055, 3e-4), "wd2_H": (0.0022, 8e-5),
             "wd0_W": (0.0048, 2e-4), "wd0_H": (0.0280, 3e-3)}
    stats = analysis.table_stats(table, n=3)
    assert stats["wd2_H"][1] == pytest.approx(8e-5 / (0.0022 * math.log(10) * math.sqrt(3)))
    verdicts = [v for _, v, _ in analysis.wd_claims(stats, "NC1")]
    assert verdicts == [True, True, True, True]
    # Ten times the SDs (worked by hand): x2, 0.443 vs 0.045 decades, same direction so the baseline
    # cancels, SE 0.164: holds; zeroing, +0.662 vs -0.104, opposite directions, SE 0.437: 0.558 is
    # within 2 SE, inconclusive; the two direction claims, 0.662 > 2 x 0.315 and 0.443 > 2 x 0.188, hold.
    wide = analysis.table_stats({p: (m, 10 * sd) for p, (m, sd) in table.items()}, n=3)
    assert [v for _, v, _ in analysis.wd_claims(wide, "NC1")] == [True, None, True, True]


def test_ordering_verdict_needs_every_step_beyond_noise():
    stats = {"b": (0.0, 0.01, 2), "c": (0.1, 0.01, 2), "d": (0.3, 0.01, 2)}
    assert analysis.ordering_verdict(stats, ["b", "c", "d"], "NC1")[1] is True
    stats["d"] = (0.11, 0.01, 2)  # c -> d within noise
    assert analysis.ordering_verdict(stats, ["b", "c", "d"], "NC1")[1] is None
    stats["d"] = (-0.2, 0.01, 2)  # c -> d falls
    assert analysis.ordering_verdict(stats, ["b", "c", "d"], "NC1")[1] is False


def test_depth_verdict_compares_intermediate_with_deepest_features():
    deeper = {"a": fake_run([1.0] * 8, block3=[3.0] * 8), "b": fake_run([1.0] * 8, block3=[2.0] * 8)}
    claim, holds, evidence = analysis.depth_verdicts(deeper)
    assert holds and "a 3.00" in evidence
    deeper["b"] = fake_run([1.0] * 8, block3=[0.5] * 8)
    assert not analysis.depth_verdicts(deeper)[1]


def test_select_filters_run_keys():
    runs = {("mnist", "ce", "baseline", 0): 1, ("mnist", "mse", "baseline", 0): 2, ("mnist", "ce", "wd2_H", 1): 3}
    assert analysis.select(runs, "mnist", "ce") == {"baseline": 1}
    assert analysis.select(runs, "mnist", "ce", seed=1) == {"wd2_H": 3}
    with pytest.raises(KeyError, match="no run matches"):
        analysis.select(runs, "cifar10")


def test_per_class_curve_has_a_column_per_class():
    r = fake_run([1.0, 1.0], per_class=[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(analysis.per_class_curve(r), [[1, 2, 3], [4, 5, 6]])


def test_by_setting_groups_seeds_in_order():
    runs = {("mnist", "ce", "baseline", 1): "b1", ("mnist", "ce", "baseline", 0): "b0", ("mnist", "mse", "wd2_H", 0): "x"}
    assert analysis.by_setting(runs, "mnist", "ce") == {"baseline": ["b0", "b1"]}
    with pytest.raises(KeyError, match="no run matches"):
        analysis.by_setting(runs, "cifar10")


def test_fig6_verdicts_read_the_unblurred_classes_and_nc1_to_nc3():
    def run(level, blurred_level, nc_scale):
        per_class = [[blurred_level, level, level]] * 8  # class 0 blurred
        r = fake_run([nc_scale] * 8, nc2=[nc_scale] * 8, per_class=per_class)
        for h in r["history"]:
            h["nc"]["penultimate"]["nc3"] = nc_scale
        return r

    order = ["x1", "x0.1", "0"]
    rising = {"x1": [run(1.0, 50.0, 1.0), run(1.01, 5.0, 1.01)], "x0.1": [run(2.0, 1.0, 2.0), run(2.02, 9.0, 2.02)],
              "0": [run(4.0, 0.1, 4.0), run(4.04, 0.2, 4.04)]}
    verdicts = analysis.fig6_verdicts(rising, order, blurred=(0,))
    assert [v for _, v, _ in verdicts] == [True] * 4  # the blurred class's own NC1 is left out
    assert "unblurred" in verdicts[0][0] and [c.split(": ")[1][:3] for c, _, _ in verdicts[1:]] == ["NC1", "NC2", "NC3"]
    flat = {"x1": rising["x1"], "x0.1": rising["x1"], "0": rising["x0.1"]}  # (b) = (c): within noise
    assert [v for _, v, _ in analysis.fig6_verdicts(flat, order, blurred=(0,))] == [None] * 4


def test_evidence_says_when_there_is_no_standard_error():
    one_seed = presets({"baseline": 1.0, "wd2_W": 0.9, "wd2_H": 0.5, "wd0_W": 1.2, "wd0_H": 4.0})
    (_, verdict, evidence), *_ = analysis.wd_verdicts(one_seed, "nc1")
    assert verdict is None and "no standard error" in evidence and "nan" not in evidence

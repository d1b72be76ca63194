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


def test_log_ratio_is_signed_and_absolute_over_the_late_phase():
    base = fake_run([1.0] * 8)
    other = fake_run([5.0] * 4 + [10.0, 0.1, 10.0, 10.0])  # early epochs must not count
    signed, size = analysis.log_ratio(other, base, "nc1")
    assert signed == pytest.approx((1 - 1 + 1 + 1) / 4) and size == pytest.approx(1.0)
    with pytest.raises(ValueError, match="different numbers of epochs"):
        analysis.log_ratio(fake_run([1.0] * 7), base, "nc1")


def test_at_epoch_and_mean_sd():
    r = fake_run([4.0, 3.0, 2.0])
    assert analysis.at_epoch(r, "nc1", 2) == 3.0
    with pytest.raises(ValueError, match="epoch=4 is outside"):
        analysis.at_epoch(r, "nc1", 4)
    mean, sd = analysis.mean_sd([1.0, 2.0, 3.0])
    assert (mean, sd) == (2.0, 1.0)  # sample SD (ddof = 1)
    assert analysis.mean_sd([5.0]) == (5.0, 0.0)


def presets(factors):
    """Five runs whose late-phase NC1 is the baseline's (1.0) times ``factors[preset]``."""
    return {p: fake_run([1.0] * 4 + [f] * 4) for p, f in factors.items()}


def test_wd_verdicts_hold_when_feature_wd_moves_the_curve_more():
    runs = presets({"baseline": 1.0, "wd2_W": 0.9, "wd2_H": 0.5, "wd0_W": 1.2, "wd0_H": 4.0})
    verdicts = analysis.wd_verdicts(runs, "nc1")
    assert len(verdicts) == 4 and all(holds for _, holds, _ in verdicts)
    assert all(claim.startswith("NC1: ") for claim, _, _ in verdicts)


def test_wd_verdicts_fail_when_last_layer_wd_moves_the_curve_more():
    runs = presets({"baseline": 1.0, "wd2_W": 0.2, "wd2_H": 0.9, "wd0_W": 3.0, "wd0_H": 0.8})
    holds = [h for _, h, _ in analysis.wd_verdicts(runs, "nc1")]
    assert holds == [False, False, False, True]  # larger shifts from W; H=0 lowers; H x2 lowers


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


def test_zero_error_verdict_names_the_runs_that_never_fit():
    runs = {"a": fake_run([1.0] * 3, errors=[0.5, 0.0, 0.0]), "b": fake_run([1.0] * 3, errors=[0.5, 0.2, 0.1])}
    claim, holds, evidence = analysis.zero_error_verdict(runs)
    assert not holds and "a 2" in evidence and "b never" in evidence
    assert analysis.zero_error_verdict({"a": runs["a"]})[1]

"""nclib.verdicts: the claims of Figures 3-6 and Table 1 on synthetic runs of one profile, whose
answers are known by construction."""

import math

import pytest

from nclib import experiments, verdicts


@pytest.fixture(autouse=True)
def no_drift(monkeypatch):
    """Verdicts on the synthetic runs alone; each test that needs a floor sets one."""
    for profile in verdicts.DRIFT:
        monkeypatch.setitem(verdicts.DRIFT, profile, floors(0.0))


def floors(value):
    return dict.fromkeys(("nc1", "nc1_tilde", "nc2", "nc3"), value)


def run(nc1, nc2=1.0, epochs=8, zero_at=5, per_class=None, block3=None):
    """A result dict shaped like nclib.train.train's with constant curves (lr drop after epoch 4)."""
    history = []
    for e in range(epochs):
        nc = {"penultimate": {"nc1": nc1, "nc2": nc2, "nc3": nc2, "nc1_per_class": per_class or [nc1, nc1, nc1]}}
        if block3 is not None:
            nc["block3"] = {"nc1": block3, "nc2": block3}
        history.append({"train_error": 0.0 if zero_at is not None and e + 1 >= zero_at else 0.1, "nc": nc})
    return {"config": {"lr_step": 4}, "history": history}


LEVELS = {"baseline": 1.0, "wd2_W": 0.9, "wd2_H": 0.5, "wd0_W": 1.2, "wd0_H": 4.0}


def figure_runs(levels, seeds=(0, 1), noise=(0.98, 1.02), **kw):
    return {("cifar10", "ce", p, s): run(v * noise[i], v * noise[i], **kw)
            for p, v in levels.items() for i, s in enumerate(seeds)}


def test_wd_figure_holds_when_feature_wd_moves_both_metrics_more():
    rows = verdicts.wd_figure(figure_runs(LEVELS), "cifar10", "ce", "Fig. 3", "medium")
    assert rows[0][:2] == ("Fig. 3 (CE): every run reaches zero training error", True) and rows[0][3] == "runs"
    assert "10 of 10 runs, by epoch 5" in rows[0][2]
    assert len(rows) == 9 and all(h is True for _, h, _, _ in rows[1:])
    assert {where for *_, where in rows[1:]} == {"figure"}


def test_wd_figure_names_the_runs_that_never_fit():
    runs = figure_runs(LEVELS)
    runs["cifar10", "ce", "wd2_H", 1] = run(0.5, zero_at=None)
    claim, holds, evidence, _ = verdicts.wd_figure(runs, "cifar10", "ce", "Fig. 3", "medium")[0]
    assert holds is False and evidence == "9 of 10 runs; never: WDx2 for H, seed 1"


def test_one_seed_takes_table1_spread_and_is_inconclusive_without_it(monkeypatch):
    one = figure_runs(LEVELS, seeds=(0,), noise=(1.0,))
    monkeypatch.setattr(experiments, "stored", lambda experiment, profile: {})
    assert [h for _, h, _, _ in verdicts.wd_figure(one, "cifar10", "ce", "Fig. 3", "small")[1:]] == [None] * 8
    table1 = figure_runs(LEVELS, seeds=(0, 1, 2), noise=(0.99, 1.0, 1.01))  # a small spread: all hold
    monkeypatch.setattr(experiments, "stored", lambda experiment, profile: table1)
    assert [h for _, h, _, _ in verdicts.wd_figure(one, "cifar10", "ce", "Fig. 3", "small")[1:]] == [True] * 8
    wide = figure_runs(LEVELS, seeds=(0, 1, 2), noise=(0.1, 1.0, 10.0))  # seeds 2 decades apart
    monkeypatch.setattr(experiments, "stored", lambda experiment, profile: wide)
    assert [h for _, h, _, _ in verdicts.wd_figure(one, "cifar10", "ce", "Fig. 3", "small")[1:]] == [None] * 8


def test_the_drift_floor_makes_small_effects_inconclusive(monkeypatch):
    close = {"baseline": 1.0, "wd2_W": 0.99, "wd2_H": 0.97, "wd0_W": 1.01, "wd0_H": 1.03}  # ~0.01 decades
    runs = figure_runs(close, noise=(0.9999, 1.0001))
    assert all(h is True for _, h, _, _ in verdicts.wd_figure(runs, "cifar10", "ce", "Fig. 3", "medium")[1:])
    monkeypatch.setitem(verdicts.DRIFT, "medium", floors(0.05))
    assert all(h is None for _, h, _, _ in verdicts.wd_figure(runs, "cifar10", "ce", "Fig. 3", "medium")[1:])
    monkeypatch.setitem(verdicts.DRIFT, "medium", floors(math.nan))  # not measured: nothing can be decided
    assert all(h is None for _, h, _, _ in verdicts.wd_figure(runs, "cifar10", "ce", "Fig. 3", "medium")[1:])


def test_each_metric_has_its_own_drift_floor(monkeypatch):
    close = {"baseline": 1.0, "wd2_W": 0.99, "wd2_H": 0.97, "wd0_W": 1.01, "wd0_H": 1.03}
    runs = figure_runs(close, noise=(0.9999, 1.0001))  # NC1 and NC2 both move ~0.01 decades
    monkeypatch.setitem(verdicts.DRIFT, "medium", floors(0.0) | {"nc2": 0.05})
    rows = verdicts.wd_figure(runs, "cifar10", "ce", "Fig. 3", "medium")[1:]
    assert [h for c, h, _, _ in rows if "NC1" in c] == [True] * 4  # NC2's floor does not touch NC1
    assert [h for c, h, _, _ in rows if "NC2" in c] == [None] * 4
    assert verdicts.drift("medium", "nc1_others") == 0.05  # not measured: the profile's largest
    monkeypatch.setitem(verdicts.DRIFT, "medium", floors(0.0) | {"nc3": math.nan})
    assert math.isnan(verdicts.drift("medium", "nc1_others")) and verdicts.drift("medium", "nc1") == 0.0


def test_complete_groups_need_every_setting_and_seed():
    grid = experiments.grid("fig3", "medium")
    runs = {k: None for k in grid if k[1] == "mse"}
    runs.pop(next(iter(runs)))
    complete, pending = verdicts.complete_groups("fig3", "medium", {k: None for k in grid if k[1] == "ce"})
    assert complete == [("cifar10", "ce")] and pending == [("cifar10", "mse", 0, 10)]
    complete, pending = verdicts.complete_groups("fig3", "medium", runs)
    assert complete == [] and ("cifar10", "mse", 9, 10) in pending


def test_complete_rows_decide_only_complete_groups_and_say_what_is_pending(capsys):
    grid = experiments.grid("fig3", "medium")
    runs = {k: None for k in grid if k[1] == "ce"}
    runs[next(k for k in grid if k[1] == "mse")] = None
    asked = []
    rows = verdicts.complete_rows("fig3", "medium", runs, lambda ds, loss: asked.append((ds, loss)) or [(ds, loss)])
    assert rows == asked == [("cifar10", "ce")]
    assert capsys.readouterr().out == "medium, Fig. 3, CIFAR-10 MSE: 1 of 10 runs stored; no verdict yet\n"


def test_table1_columns_are_the_two_distance_claims():
    stats = {"baseline": (0.0, 0.01, 3), "wd2_W": (-0.05, 0.01, 3), "wd2_H": (-0.4, 0.01, 3),
             "wd0_W": (0.02, 0.01, 3), "wd0_H": (0.01, 0.01, 3)}
    rows = verdicts.table1_columns(stats, "CIFAR-10 MSE NC1")
    assert [h for _, h, _, _ in rows] == [True, None]  # doubling: 0.35 decades; zeroing: within noise
    assert "doubling" in rows[0][0] and "zeroing" in rows[1][0]


def fig6_runs(levels, blurred_level=50.0, seeds=(0, 1)):
    out = {}
    for setting, v in levels.items():
        for i, s in enumerate(seeds):
            x = v * (1 + 0.01 * i)
            blur = blurred_level if setting != "baseline" else x
            out["mnist", "ce", setting, s] = run(x, x, per_class=[x, blur, x, blur])
    return out


def test_fig6_checks_the_blurred_classes_and_the_ordering():
    levels = {"baseline": 1.0, "blur, W WD x1": 1.0, "blur, W WD x0.1": 2.0, "blur, W WD 0": 4.0}
    rows = verdicts.fig6(fig6_runs(levels), "medium", blurred=(1, 3))
    assert [h for _, h, _, _ in rows] == [True, True, True, True, True, True]
    assert "unblurred" in rows[2][0] and "x1 < blur, W WD x0.1 < blur, W WD 0" in rows[2][0]
    falling = {"baseline": 1.0, "blur, W WD x1": 4.0, "blur, W WD x0.1": 2.0, "blur, W WD 0": 1.0}
    assert [h for _, h, _, _ in verdicts.fig6(fig6_runs(falling), "medium", blurred=(1, 3))[2:]] == [False] * 4
    low = fig6_runs(levels, blurred_level=0.01)  # the blurred classes collapse most: the count fails
    assert verdicts.fig6(low, "medium", blurred=(1, 3))[1][1] is False


def test_record_maps_each_row_to_its_section():
    from nclib.ledger import Ledger

    book = Ledger("ch6", "06_x", profile="medium")
    verdicts.record(book, [("a", True, "e", "runs"), ("b", None, "f", "figure")], {"runs": "ch6-r", "figure": "ch6-f"})
    assert [(c.claim, c.holds, c.anchor) for c in book.claims] == [("a", True, "ch6-r"), ("b", None, "ch6-f")]


def test_fig2_compares_first_and_last_layer_and_counts_the_falls():
    r = {"history": [{"nc": {"penultimate": {"nc1": a, "nc1_tilde": b}}} for a, b in ((4.0, 2.0), (3.0, 2.5), (1.0, 1.0))]}
    rows = verdicts.fig2(r)
    assert [h for _, h, _, _ in rows] == [True, True, True, False]
    assert rows[3][2] == "falls at 1 of 2 added layers" and rows[2][2] == "2 -> 1"


def test_table1_on_the_papers_numbers_finds_what_is_within_noise():
    from nclib.report import PAPER_TABLE1

    rows = verdicts.table1_paper(PAPER_TABLE1)
    assert len(rows) == 16 and rows[0][0].startswith("Table 1 (the paper's numbers), CIFAR-10 MSE NC1: doubling")
    assert rows[0][1] is True and rows[1][1] is True  # CIFAR-10 MSE NC1 (worked in test_analysis)
    # MNIST CE NC2, doubling: baseline 0.115 +- 5e-3, WD x2 on W 0.102 +- 3e-3, on H 0.101 +- 3e-3:
    # 0.0565 vs 0.0523 decades, a difference far inside 2 SE (about 0.02): inconclusive.
    mnist_ce_nc2 = [r for r in rows if "MNIST CE NC2" in r[0]]
    assert mnist_ce_nc2[0][1] is None


def test_table1_reads_the_read_out_epoch_of_each_complete_column():
    runs = {}
    for p, v in LEVELS.items():
        for i, s in enumerate((0, 1, 2)):
            r = run(v * (1 + 0.01 * i), v * (1 + 0.01 * i), epochs=40)
            runs["cifar10", "mse", p, s] = r
    rows = verdicts.table1(runs, "medium", [("cifar10", "mse")])
    assert [h for _, h, _, _ in rows] == [True] * 5
    assert rows[0][0] == "Table 1, CIFAR-10 MSE: every run reaches zero training error"
    assert rows[1][0].startswith("Table 1, CIFAR-10 MSE NC1: doubling")

"""nclib.verdicts: the claims of Figures 3-6 and Table 1 on synthetic runs of one profile, whose
answers are known by construction."""

import math

from nclib import experiments, verdicts
from nclib.effects import PREMISE, SMALLER


def run(nc1, nc2=1.0, epochs=8, zero_at=3, per_class=None, block3=None, diverge_at=None):
    """A result dict shaped like nclib.train.train's with constant curves (lr drop after epoch 4)."""
    history = []
    for e in range(epochs):
        nc = {"penultimate": {"nc1": nc1, "nc2": nc2, "nc3": nc2, "nc1_per_class": per_class or [nc1, nc1, nc1]}}
        if block3 is not None:
            nc["block3"] = {"nc1": block3, "nc2": block3}
        error = 0.0 if zero_at is not None and e + 1 >= zero_at else 0.1
        if diverge_at is not None and e + 1 == diverge_at:
            error = 0.7
        history.append({"epoch": e + 1, "train_acc": 1 - error, "train_error": error, "nc": nc})
    return {"config": {"lr_step": 4}, "history": history}


LEVELS = {"baseline": 1.0, "wd2_W": 0.9, "wd2_H": 0.5, "wd0_W": 1.2, "wd0_H": 4.0}


def figure_runs(levels, seeds=(0, 1), noise=(0.98, 1.02), **kw):
    return {("cifar10", "ce", p, s): run(v * noise[i], v * noise[i], **kw)
            for p, v in levels.items() for i, s in enumerate(seeds)}


def judged(rows):
    return [(row[1], row[4]) for row in rows]


def test_wd_figure_holds_when_feature_wd_moves_both_metrics_more():
    rows = verdicts.wd_figure(figure_runs(LEVELS), "cifar10", "ce", "Fig. 3", "medium")
    claim, holds, evidence, where, qualifier, kind = rows[0]
    assert (claim, holds, where, qualifier, kind) == (
        "Fig. 3 (CE): every run reaches zero training error by the first learning-rate drop", True, "runs", "",
        "premise")
    assert evidence.startswith("10 of 10 runs by the first drop (epoch 4); latest at epoch 3")
    assert len(rows) == 9 and judged(rows[1:]) == [(True, "")] * 8
    assert {row[3] for row in rows[1:]} == {"figure"}
    assert rows[1][0].startswith("Fig. 3 (CE) NC1 of the deepest features: doubling")


def test_the_papers_table1_effect_is_reported_and_qualifies_the_verdict():
    rows = verdicts.wd_figure(figure_runs(LEVELS), "cifar10", "ce", "Fig. 3", "medium", paper=True)
    assert all("paper: +" in row[2] for row in rows[1:])
    # WD x2 on H lowers NC1 by log10(2) = 0.30 decades here; the paper's Table 1 (CIFAR-10 CE):
    # 0.062 -> 0.024, 0.41 decades, beyond this interval (0.30 +- a few thousandths): smaller.
    lowers = next(row for row in rows if "NC1" in row[0] and "lowers" in row[0])
    assert (lowers[1], lowers[4]) == (True, SMALLER)


def test_runs_that_fit_after_the_first_drop_or_never_fail_a_premise_not_the_paper():
    late = figure_runs(LEVELS, zero_at=6)
    first = verdicts.wd_figure(late, "cifar10", "ce", "Fig. 3", "medium")[0]
    assert (first[1], first[4]) == (None, PREMISE) and "later or never" in first[2]
    runs = figure_runs(LEVELS)
    runs["cifar10", "ce", "wd2_H", 1] = run(0.5, zero_at=None)
    rows = verdicts.wd_figure(runs, "cifar10", "ce", "Fig. 3", "medium")
    assert "WDx2 for H, seed 1 (never)" in rows[0][2]
    assert judged(rows[1:]) == [(None, PREMISE)] * 8
    assert rows[1][2].startswith("never at zero training error: WDx2 for H, seed 1")


def test_a_diverged_run_is_left_out_and_named():
    runs = figure_runs(LEVELS)
    runs["cifar10", "ce", "wd0_H", 0] = run(100.0, 100.0, diverge_at=6)  # would turn every wd0_H claim
    rows = verdicts.wd_figure(runs, "cifar10", "ce", "Fig. 3", "medium")
    assert judged(rows[1:]) == [(True, "")] * 8
    assert all(row[2].endswith("WD=0 for H, seed 0 diverged at epoch 6 (left out)") for row in rows[1:])
    runs["cifar10", "ce", "wd0_H", 1] = run(100.0, 100.0, diverge_at=7)
    rows = verdicts.wd_figure(runs, "cifar10", "ce", "Fig. 3", "medium")
    assert judged(rows[1:]) == [(None, PREMISE)] * 8 and "every run of wd0_H diverged" in rows[1][2]


def test_one_seed_takes_table1_spread_and_is_inconclusive_without_it(monkeypatch):
    one = figure_runs(LEVELS, seeds=(0,), noise=(1.0,))
    monkeypatch.setattr(experiments, "stored", lambda experiment, profile: {})
    assert judged(verdicts.wd_figure(one, "cifar10", "ce", "Fig. 3", "small")[1:]) == [(None, "")] * 8
    table1 = figure_runs(LEVELS, seeds=(0, 1, 2), noise=(0.99, 1.0, 1.01))  # a small spread: all hold
    monkeypatch.setattr(experiments, "stored", lambda experiment, profile: table1)
    assert judged(verdicts.wd_figure(one, "cifar10", "ce", "Fig. 3", "small")[1:]) == [(True, "")] * 8
    wide = figure_runs(LEVELS, seeds=(0, 1, 2), noise=(0.1, 1.0, 10.0))  # seeds 2 decades apart
    monkeypatch.setattr(experiments, "stored", lambda experiment, profile: wide)
    assert judged(verdicts.wd_figure(one, "cifar10", "ce", "Fig. 3", "small")[1:]) == [(None, "")] * 8


def test_depth_adds_the_intermediate_features_and_the_extension_is_labelled():
    runs = {k: run(v, v, block3=3 * v) for k, v in
            (((("cifar10", "ce", p, s)), lv * (1 + 0.01 * s)) for p, lv in LEVELS.items() for s in (0, 1))}
    rows = verdicts.wd_figure(runs, "cifar10", "ce", "Fig. 4", "medium", depth=True, extension=True)
    assert len(rows) == 1 + 8 + 8 + 2
    assert sum("of the intermediate features" in row[0] for row in rows) == 8
    assert sum(row[0].endswith("(the book's extension: the paper states it for Fig. 3)") for row in rows) == 8
    assert rows[-1][0].endswith("intermediate features are further from collapse than the deepest, in every setting")


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
    stats = {"baseline": (0.0, 0.01, 3, 10), "wd2_W": (-0.05, 0.01, 3, 10), "wd2_H": (-0.4, 0.01, 3, 10),
             "wd0_W": (0.02, 0.01, 3, 10), "wd0_H": (0.01, 0.01, 3, 10)}
    rows = verdicts.table1_columns(stats, "CIFAR-10 MSE NC1")
    assert [h for _, h, _, _, _ in rows] == [True, None]  # doubling: 0.35 decades; zeroing: within noise
    assert "doubling" in rows[0][0] and "zeroing" in rows[1][0]


def fig6_runs(levels, blurred_level=50.0, seeds=(0, 1)):
    out = {}
    for setting, v in levels.items():
        for i, s in enumerate(seeds):
            x = v * (1 + 0.01 * i)
            blur = blurred_level if setting != "baseline" else x
            out["mnist", "ce", setting, s] = run(x, x, per_class=[x, blur, x, blur])
    return out


def test_fig6_checks_the_premise_the_minor_blur_and_the_ordering():
    levels = {"baseline": 1.0, "blur, W WD x1": 1.0, "blur, W WD x0.1": 2.0, "blur, W WD 0": 4.0}
    rows = verdicts.fig6(fig6_runs(levels), "medium", blurred=(1, 3))
    assert len(rows) == 8 and [row[1] for row in rows] == [True] * 8
    assert "(b)" in rows[2][0] and "unblurred" in rows[2][0]
    assert "x1 < blur, W WD x0.1 < blur, W WD 0" in rows[3][0]
    falling = {"baseline": 1.0, "blur, W WD x1": 4.0, "blur, W WD x0.1": 2.0, "blur, W WD 0": 1.0}
    orderings = [row for row in verdicts.fig6(fig6_runs(falling), "medium", blurred=(1, 3)) if "rises" in row[0]]
    assert [row[1] for row in orderings] == [False] * 4
    low = fig6_runs(levels, blurred_level=0.01)  # the blurred classes collapse most: the premise fails
    assert judged(verdicts.fig6(low, "medium", blurred=(1, 3))[1:2]) == [(None, PREMISE)]


def test_record_maps_each_row_to_its_section():
    from nclib.ledger import Ledger

    book = Ledger("ch6", "06_x", profile="medium", kind="sec5")
    verdicts.record(book, [("a", True, "e", "runs", ""), ("b", None, "f", "figure", PREMISE, "premise")],
                    {"runs": "ch6-r", "figure": "ch6-f"})
    assert [(c.claim, c.holds, c.anchor, c.qualifier, c.kind) for c in book.claims] == [
        ("a", True, "ch6-r", "", "sec5"), ("b", None, "ch6-f", PREMISE, "premise")]


def test_premise_rows_carry_their_kind_and_the_claims_take_the_ledgers():
    """The premises (every run at zero training error; Fig. 6's blurred digits worst) are
    recorded as kind "premise" whatever their wording; the weight-decay claims as the ledger's."""
    from nclib.ledger import Ledger

    book = Ledger("ch6", "06_x", profile="medium", kind="sec5")
    rows = verdicts.wd_figure(figure_runs(LEVELS), "cifar10", "ce", "Fig. 3", "medium")
    rows += verdicts.fig6(fig6_runs({"baseline": 1.0, "blur, W WD x1": 1.0, "blur, W WD 0": 4.0}), "medium", blurred=(1, 3))[:2]
    verdicts.record(book, rows, {"runs": "ch6-r", "figure": "ch6-f"})
    premises = [c.claim for c in book.claims if c.kind == "premise"]
    assert len(premises) == 3 and all("zero training error" in p or "blurred" in p for p in premises)
    assert {c.kind for c in book.claims if c.claim not in premises} == {"sec5"}


def test_fig2_compares_first_and_last_layer_and_counts_the_falls():
    r = {"history": [{"nc": {"penultimate": {"nc1": a, "nc1_tilde": b}}} for a, b in ((4.0, 2.0), (3.0, 2.5), (1.0, 1.0))]}
    rows = verdicts.fig2(r)
    assert [h for _, h, _, _, _ in rows] == [True, True, True, False]
    assert rows[3][2] == "falls at 1 of 2 added layers" and rows[2][2] == "2 -> 1"


def test_the_rule_decides_what_the_papers_own_sds_separate():
    from nclib.report import PAPER_TABLE1

    rows = verdicts.table1_paper(PAPER_TABLE1)
    assert len(rows) == 16 and rows[0][0].startswith("Table 1 (the paper's numbers), CIFAR-10 MSE NC1: doubling")
    # Independently of the pooled rule: a comparison is clearly separated when the gap between the
    # two distances from the baseline survives moving each of the three means one SD (of log10, on
    # the paper's three seeds) the wrong way. 14 of the 16 are; the other two have gaps of 0.32
    # and 0.10 of that sum.
    separated = 0
    for row in rows:
        _, rest = row[0].split("(the paper's numbers), ", 1)
        column, claim = rest.split(": ", 1)
        ds, loss, metric = column.split(" ")
        key = ("cifar10" if ds == "CIFAR-10" else "mnist", loss.lower(), metric.lower())
        h, w = ("wd2_H", "wd2_W") if claim.startswith("doubling") else ("wd0_H", "wd0_W")
        (m0, s0), (mh, sh), (mw, sw) = (PAPER_TABLE1[(*key[:2], p, key[2])] for p in ("baseline", h, w))
        gap = abs(math.log10(mh / m0)) - abs(math.log10(mw / m0))
        noise = sum(sd / (m * math.log(10)) for m, sd in ((m0, s0), (mh, sh), (mw, sw)))
        if gap > noise:
            separated += 1
            assert row[1] is True, row
    assert separated == 14 and sum(row[1] is True for row in rows) == 14
    # MNIST CE NC2, doubling: baseline 0.115 +- 5e-3, WD x2 on W 0.102 +- 3e-3, on H 0.101 +- 3e-3:
    # 0.0565 vs 0.0523 decades, within noise: inconclusive.
    assert [r[1] for r in rows if "MNIST CE NC2: doubling" in r[0]] == [None]


def test_table1_reads_the_read_out_epoch_of_each_complete_column():
    runs = {}
    for p, v in LEVELS.items():
        for i, s in enumerate((0, 1, 2)):
            runs["cifar10", "mse", p, s] = run(v * (1 + 0.01 * i), v * (1 + 0.01 * i), epochs=40)
    rows = verdicts.table1(runs, "medium", [("cifar10", "mse")])
    assert [row[1] for row in rows] == [True] * 5
    assert rows[0][0] == "Table 1, CIFAR-10 MSE: every run reaches zero training error by the first learning-rate drop"
    assert rows[1][0].startswith("Table 1, CIFAR-10 MSE NC1: doubling")
    assert "(t, 10 df)" in rows[1][2] and "paper: +" in rows[1][2]

"""nclib.report: result tables as HTML that wraps in the page column, verdict first, with the
profile badge; the claims ledger's table; the introduction's findings."""

import re

import pytest

from nclib import ledger, report


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("NCLIB_RESULTS", str(tmp_path))
    return tmp_path


def _rows(html: str) -> list[str]:
    return re.findall(r"<tr[ >].*?</tr>", html)


def test_table_escapes_text_and_keeps_markup_and_ids():
    table = report.Table(["a", "b"], [["<x>", report.Cell("y", "<b>y</b>", cls="k")], "group"],
                         profile="small", caption="two rows", row_ids=["r1", "g"])
    html = table._repr_html_()
    assert "&lt;x&gt;" in html and '<td class="k"><b>y</b></td>' in html
    assert '<tr id="r1">' in html and '<tr class="nc-group" id="g"><th colspan="2">group</th></tr>' in html
    assert 'nc-badge-small' in html and html.index("nc-badge") < html.index("<table")
    assert str(table).splitlines() == ["[profile: small] two rows", "a | b", "<x> | y", "-- group --"]


def test_table_rejects_rows_of_the_wrong_length():
    with pytest.raises(ValueError, match="rows: a row has 1 cells for 2 columns"):
        report.Table(["a", "b"], [["only one"]])
    with pytest.raises(ValueError, match="row_ids"):
        report.Table(["a"], [["x"]], row_ids=[])


def test_verdict_table_puts_the_coloured_verdict_first_with_an_id_per_claim():
    book = ledger.Ledger("ch9", "09_x", profile="medium")
    book.verdict("NC1 falls", True, "3 -> 1", "ch9-runs")
    book.verdict("NC2 falls", False, "1 -> 3", "ch9-runs")
    book.verdict("NC3 falls", None, "NaN", "ch9-fig")
    html = report.verdict_table(book.claims, "medium")._repr_html_()
    rows = _rows(html)[1:]  # after the header
    assert [re.search(r'class="nc-verdict (nc-\w+)"', r).group(1) for r in rows] == [
        "nc-holds", "nc-contradicted", "nc-inconclusive"]
    assert all(r.index("nc-verdict") < r.index(">NC") for r in rows)  # the verdict comes first
    ids = [re.search(r'<tr id="([^"]+)"', r).group(1) for r in rows]
    assert ids == [report.claim_id("ch9", f"NC{i} falls", book.profile) for i in (1, 2, 3)] and len(set(ids)) == 3
    assert '<a class="nc-cell-link" href="#ch9-fig">' in rows[2]
    assert "1 holds, 1 contradicted, 1 inconclusive" in html and "profile: medium" in html


def test_claim_id_is_stable_and_tells_claims_and_profiles_apart():
    claim = "Fig. 3 (MSE): every setting reaches zero training error"
    a = report.claim_id("ch6", claim, "medium")
    assert a == report.claim_id("ch6", claim, "medium")
    assert re.fullmatch(r"claim-medium-ch6-fig-3-mse-every-setting-reaches-[0-9a-f]{6}", a)
    assert a != report.claim_id("ch6", claim + "!", "medium")
    assert a != report.claim_id("ch7", claim, "medium")
    assert a != report.claim_id("ch6", claim, "small")  # stored and live verdicts share a page


def _save(profile, chapter, page, claims):
    book = ledger.Ledger(chapter, page, profile=profile)
    for claim, holds in claims:
        book.verdict(claim, holds, f"{profile} numbers", f"{chapter}-runs")
    book.save()


def test_claims_table_shows_the_best_evidence_first_and_leaves_smoke_out(results):
    _save("smoke", "ch9", "09_x", [("a", False), ("b", False)])
    _save("small", "ch9", "09_x", [("a", True), ("b", False)])
    _save("medium", "ch9", "09_x", [("a", None)])
    _save("small", "ch1", "01_y", [("c", True)])
    found = {p: ledger.load(p) for p in ("smoke", *report.EVIDENCE_ORDER)}
    table = report.claims_table(found, built=ledger.load("smoke"))
    assert table.columns == ["#", "claim (link: where it is computed)", "best evidence", "medium", "small"]
    html = table._repr_html_()
    rows = _rows(html)[1:]
    assert len(rows) == 3 and "01_y.html" in rows[0]  # chapter order
    a = next(r for r in rows if ">a</a>" in r)
    assert "inconclusive</span> <small>(medium)</small>" in a  # medium beats small
    # per profile: the mark, with the word in a span that phones hide visually (custom.css)
    assert '<span class="nc-verdict nc-inconclusive">?<span class="nc-word"> inconclusive</span></span>' in a
    b = next(r for r in rows if ">b</a>" in r)
    assert "contradicted</span> <small>(small)</small>" in b and "not run" in b  # no medium verdict
    # built at smoke: a claim the build ran links to its verdict row, the others to their section
    assert f'09_x.html#{report.claim_id("ch9", "a", "smoke")}' in a  # the row the smoke build shows
    table = report.claims_table(found, built=ledger.load("small"))
    a = next(r for r in _rows(table._repr_html_())[1:] if ">a</a>" in r)
    assert f'09_x.html#{report.claim_id("ch9", "a", "small")}' in a  # medium's row is not on the page
    assert '01_y.html#ch1-runs' in rows[0]
    assert "smoke numbers" not in html


def test_settings_table_marks_what_differs_from_the_paper():
    table = report.settings_table("fig3", "small")
    rows = {row[0].text: row for row in table.rows}
    assert rows["width"][1].text == "16" and rows["width"][2].text == "64" and rows["width"][3].text == "differs"
    assert rows["lr"][3].text == "" and rows["model"][1].text == rows["model"][2].text == "resnet18"
    assert table.profile == "small"


def _run(errors, nc1, seconds=60.0):
    history = [{"train_error": e, "test_acc": 0.5, "nc": {"penultimate": {"nc1": v, "nc2": 0.25}}}
               for e, v in zip(errors, nc1)]
    return {"history": history, "wall_time_s": seconds, "provenance": {"device": "cpu (test)"},
            "config": {"lr_step": 1}}


def test_runs_table_names_each_run_by_what_it_is():
    runs = {("cifar10", "ce", "wd2_H", 0): _run([0.5, 0.0], [2.0, 1.0]),
            ("mnist", "mse", "baseline", 1): _run([0.5, 0.1], [3.0, 2.0])}
    table = report.runs_table(runs, "small")
    assert [c.text for c in table.rows[0][:2]] == ["CIFAR-10, CE, WDx2 for H, seed 0", "2"]
    assert [c.text for c in table.rows[1][:2]] == ["MNIST, MSE, Baseline, seed 1", "never"]
    assert table.rows[0][4].text == "1" and "2 runs, 2.0 min on cpu (test)" in table.caption
    assert table.rows[0][2].text == "none"
    diverged = _run([0.5, 0.0, 0.0, 0.7, 0.0], [2.0, 1.0, 1.0, 9.0, 1.0])
    for e, h in enumerate(diverged["history"]):
        h.update(epoch=e + 1, train_acc=1 - h["train_error"])
    assert report.runs_table({("cifar10", "ce", "baseline", 0): diverged}, "small").rows[0][2].text == \
        "epoch 4 (error 0.70)"
    assert report.run_label(("mnist", "ce", "wd0_W", 2)) == "MNIST, CE, WD=0 for W, seed 2"


def test_table1_table_sets_ours_beside_the_paper():
    ours = {("cifar10", "mse", "baseline", "nc1"): (0.0071, 0.001)}
    table = report.table1_table(ours, "small")
    first = table.rows[1]  # after the "CIFAR-10, MSE" group row
    assert table.rows[0] == "CIFAR-10, MSE"
    assert [c.text for c in first[:4]] == ["Baseline", "0.0061 ± 0.0004", "0.0071 ± 0.001", "+0.001"]
    assert first[5].text == "-"  # no NC2 of ours given
    assert len([r for r in table.rows if isinstance(r, str)]) == 4


def test_paper_table1_is_the_papers():
    assert report.PAPER_TABLE1["cifar10", "mse", "baseline", "nc1"] == (0.0061, 4e-4)
    assert report.PAPER_TABLE1["mnist", "ce", "wd0_H", "nc2"] == (0.198, 8e-3)
    assert report.PAPER_TABLE1["mnist", "mse", "wd0_H", "nc1"] == (0.041, 2e-3)  # "41e-3"
    assert len(report.PAPER_TABLE1) == 5 * 4 * 2


def test_errata_are_found_with_the_label_above_them(tmp_path):
    (tmp_path / "03_x.md").write_text(
        "(ch3-a)=\n## A\n\n```{admonition} Erratum (Eq. 1): a slip\n:class: warning\ntext\n```\n"
        "### The metric is not monotone\n\n(ch3-b)=\n## B\n:::{admonition} Counterexample: one\n:::\n"
        "```{admonition} Remark\n```\n", encoding="utf-8")
    (tmp_path / "intro.md").write_text("```{admonition} Erratum: not a chapter\n```\n", encoding="utf-8")
    assert report.errata(tmp_path) == [
        {"page": "03_x", "label": "ch3-a", "title": "Erratum (Eq. 1): a slip"},
        {"page": "03_x", "label": "ch3-a", "title": "The metric is not monotone"},
        {"page": "03_x", "label": "ch3-b", "title": "Counterexample: one"}]


def test_findings_count_each_verdict_per_profile_and_say_what_is_pending(results, tmp_path):
    _save("small", "ch9", "09_x", [("a", True), ("b", False), ("c", None)])
    _save("smoke", "ch9", "09_x", [("a", True)])
    book = tmp_path / "book"
    book.mkdir()
    (book / "04_y.md").write_text("(ch4-z)=\n```{admonition} Erratum: $x$ slip\n```\n", encoding="utf-8")
    text = report.findings(book)
    assert text.startswith(":::{admonition} Findings at a glance")
    assert "| `small` | 1 | 3 | 1 | 1 | 0 | 1 | 0 |" in text and "`smoke`" not in text.split("**Scales")[0]
    assert "- {ref}`Chapter 4 <ch4-z>`: Erratum: $x$ slip" in text
    assert "no profile has all its Table 1 runs stored yet" in text
    scales = text.split("**Scales.**")[1]
    assert "`small`: pending — verdicts saved for 1 chapter (training-run files stored: 0 of" in scales
    assert "`medium`: pending — no verdicts saved yet" in scales and "`paper`: pending" in scales
    assert scales.index("`small`") < scales.index("`medium`") < scales.index("`paper`")


def test_verdict_counts_of_saved_dicts_and_claims():
    claims = [{"holds": True}, {"holds": True}, {"holds": None}]
    assert report.verdict_counts(claims) == {"holds": 2, "contradicted": 0, "smaller than the paper's": 0, "inconclusive": 1, "premise not met": 0}


def test_qualified_verdicts_read_in_words_and_count_apart():
    claims = [{"holds": True, "qualifier": "smaller than the paper's"}, {"holds": None, "qualifier": "premise not met"},
              {"holds": None, "qualifier": "smaller than the paper's"}, {"holds": False}]
    assert report.verdict_counts(claims) == {"holds": 1, "contradicted": 1, "smaller than the paper's": 1,
                                             "inconclusive": 0, "premise not met": 1}
    assert report.verdict_word(True, "smaller than the paper's") == "holds, smaller than the paper's"
    assert report.verdict_word(None, "premise not met") == "premise not met"
    assert "nc-premise" in report.verdict_cell(None, "premise not met").cls

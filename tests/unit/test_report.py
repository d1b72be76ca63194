"""nclib.report: result tables as HTML that wraps in the page column, verdict first, with the
profile badge; the claims ledger's table; the introduction's findings."""

import html as html_module
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


def _save(profile, chapter, page, claims, kind="sec5"):
    book = ledger.Ledger(chapter, page, profile=profile, kind=kind)
    for claim, holds, *rest in claims:
        book.verdict(claim, holds, f"{profile} numbers", f"{chapter}-runs", *rest)
    book.save()


def _book(tmp_path, pages=("01_y", "09_x")):
    """A book folder whose chapters have titles (the group rows name them)."""
    book = tmp_path / "book"
    book.mkdir(exist_ok=True)
    for page in pages:
        (book / f"{page}.md").write_text(f"# Chapter {page}\n", encoding="utf-8")
    return book


def test_claims_table_shows_the_best_evidence_first_and_leaves_smoke_out(results, tmp_path):
    _save("smoke", "ch9", "09_x", [("a", False), ("b", False)])
    _save("small", "ch9", "09_x", [("a", True), ("b", False)])
    _save("medium", "ch9", "09_x", [("a", None)])
    _save("small", "ch1", "01_y", [("c", True)], kind="theory")
    found = {p: ledger.load(p) for p in ("smoke", *report.EVIDENCE_ORDER)}
    table = report.claims_table(found, built=ledger.load("smoke"), book=_book(tmp_path))
    assert table.columns == ["#", "claim (link: where it is computed)", "best evidence", "medium", "small"]
    html = table._repr_html_()
    rows = _rows(html)[1:]
    claims = [r for r in rows if "nc-group" not in r]
    assert len(claims) == 3 and "01_y.html" in claims[0]  # chapter order
    a = next(r for r in rows if ">a</a>" in r)
    assert "inconclusive</span> <small>(medium)</small>" in a  # medium beats small
    # per profile: the mark, with the word in a span that phones hide visually (custom.css)
    assert '<span class="nc-verdict nc-inconclusive">?<span class="nc-word"> inconclusive</span></span>' in a
    b = next(r for r in rows if ">b</a>" in r)
    assert "contradicted</span> <small>(small)</small>" in b and "not run" in b  # no medium verdict
    # built at smoke: a claim the build ran links to its verdict row, the others to their section
    assert f'09_x.html#{report.claim_id("ch9", "a", "smoke")}' in a  # the row the smoke build shows
    table = report.claims_table(found, built=ledger.load("small"), book=_book(tmp_path))
    a = next(r for r in _rows(table._repr_html_())[1:] if ">a</a>" in r)
    assert f'09_x.html#{report.claim_id("ch9", "a", "small")}' in a  # medium's row is not on the page
    assert '01_y.html#ch1-runs' in claims[0]
    assert "smoke numbers" not in html


def test_claims_table_groups_by_chapter_and_kind_with_data_for_the_filter(results, tmp_path):
    _save("small", "ch9", "09_x", [("Fig. 6: every run reaches zero training error", True, "", "premise"), ("w", False),
                                   ("v", None, "smaller than the paper's")])
    book = ledger.Ledger("ch9", "09_x", profile="small", kind="sec5")
    _save("medium", "ch9", "09_x", [("w", None, "premise not met")])
    _save("small", "ch1", "01_y", [("c", True), ("s", True)], kind="theory")
    book = ledger.Ledger("ch1", "01_y", profile="small")  # a second ledger of ch1 replaces the first
    book.verdict("c", True, "e", "ch1-a")
    book.verdict("s", True, "e", "ch1-a", kind="self-check")
    book.verdict("t", None, "e", "ch1-a", kind="published-data")
    book.save()
    found = {p: ledger.load(p) for p in report.EVIDENCE_ORDER}
    table = report.claims_table(found, book=_book(tmp_path))
    groups = [r for r in table.rows if isinstance(r, str)]
    assert groups == ["Chapter 01_y — the paper's theory, checked numerically (1 claim)",
                      "Chapter 01_y — Sec. 5 claims on the published Table 1 (1 claim)",
                      "Chapter 01_y — the book's own set-up and code (1 claim)",
                      "Chapter 09_x — the paper's experiments (Sec. 5), on the book's runs (2 claims)",
                      "Chapter 09_x — premises of the Sec. 5 claims (1 claim)"]
    html = table._repr_html_()
    assert 'data-profiles="medium small"' in html
    assert 'data-kinds="theory sec5 premise published-data self-check"' in html
    w = next(r for r in _rows(html) if ">w</a>" in r)
    assert 'data-kind="sec5" data-best="premise" data-v-medium="premise" data-v-small="contradicted"' in w
    v = next(r for r in _rows(html) if ">v</a>" in r)
    assert 'data-best="smaller"' in v and "data-v-medium" not in v
    t = next(r for r in _rows(html) if ">t</a>" in r)
    assert f"<small>(published Table {NOWRAP}1</span>)</small>" in t  # not the profile it was computed at
    numbers = [row[0].text for row in table.rows if not isinstance(row, str)]
    assert numbers == [str(i) for i in range(1, 7)]


def test_counts_table_counts_each_kind_per_profile(results):
    _save("small", "ch9", "09_x", [("a", True), ("b", False), ("c", None, "premise not met")])
    _save("medium", "ch9", "09_x", [("a", None, "smaller than the paper's")])
    _save("small", "ch1", "01_y", [("d", True), ("e", True)], kind="theory")
    table = report.counts_table({p: ledger.load(p) for p in report.EVIDENCE_ORDER})
    assert [r if isinstance(r, str) else [c.text for c in r] for r in table.rows] == [
        "theory: the paper's theory, checked numerically",
        ["small", "2", "2", "0", "0", "0", "0"],
        "sec5: the paper's experiments (Sec. 5), on the book's runs",
        ["medium", "1", "0", "0", "1", "0", "0"],
        ["small", "3", "1", "1", "0", "0", "1"]]


def test_kinds_are_defined_once_and_listed_for_the_ledger_page():
    text = report.kinds_markdown()
    assert all(f"`{kind}`\n: {meaning}." in text for kind, meaning in report.KINDS.items())
    assert ledger.KINDS is report.KINDS and report.UNCLASSIFIED not in report.KINDS


def test_verdict_slug_names_the_category_verdict_counts_uses():
    assert [report.verdict_slug(h, q) for h, q in ((True, ""), (True, "smaller than the paper's"), (False, ""),
                                                   (None, ""), (None, "smaller than the paper's"),
                                                   (None, "premise not met"))] == [
        "holds", "holds", "contradicted", "inconclusive", "smaller", "premise"]


def test_table_attributes_are_data_attributes_only():
    table = report.Table(["a"], [["x"], "g"], row_attrs=[{"data-kind": 'a"b'}, None], attrs={"data-k": "1"})
    html = table._repr_html_()
    assert '<tr data-kind="a&quot;b">' in html and '<table class="nc-table " data-k="1">' in html
    with pytest.raises(ValueError, match="only data-"):
        report.Table(["a"], [["x"]], row_attrs=[{"onclick": "x()"}])
    with pytest.raises(ValueError, match="row_attrs: 0 attribute sets for 1 rows"):
        report.Table(["a"], [["x"]], row_attrs=[])


def test_settings_table_marks_what_differs_from_the_published_settings():
    table = report.settings_table("fig3", "small")
    assert table.columns == ["setting", "small profile", "published", ""]
    rows = {row[0].text: row for row in table.rows}
    assert rows["width"][1].text == "16" and rows["width"][2].text == "64" and rows["width"][3].text == "differs"
    assert rows["lr"][3].text == "" and rows["model"][1].text == rows["model"][2].text == "resnet18"
    assert table.profile == "small"
    # bfloat16 is this book's choice at the paper profile: the paper does not state it
    bf16 = rows["bf16 (this book's choice)"]
    assert bf16[2].text == "not stated" and bf16[3].text == "" and "bf16" not in rows
    paper = {row[0].text: row for row in report.settings_table("fig3", "paper").rows}
    assert paper["bf16 (this book's choice)"][1].text == "True"
    assert paper["bf16 (this book's choice)"][2].text == "not stated"


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


def test_table1_table_sets_ours_beside_the_published_table():
    ours = {("cifar10", "mse", "baseline", "nc1"): (0.0071, 0.001)}
    table = report.table1_table(ours, "small")
    assert table.columns == ["setting", "NC1 published", "NC1 this book", "diff", "NC2 published", "NC2 this book",
                             "diff"]
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


def _fixture_ledgers():
    """Claims of every kind at two profiles, with verdicts of every category."""
    _save("small", "ch2", "02_t", [("theory a", True), ("theory b", True), ("theory c", False)], kind="theory")
    book = ledger.Ledger("ch4", "04_t", profile="small")
    book.verdict("theory d", True, "e", "ch4-a")
    book.verdict("Erratum: x", True, "e", "ch4-a", kind="erratum")
    book.verdict("own result", True, "e", "ch4-a", kind="extension")
    book.verdict("solver converged", True, "e", "ch4-a", kind="self-check")
    book.verdict("solver at scale", False, "e", "ch4-a", kind="self-check")
    book.save()
    _save("small", "ch8", "08_t", [("Table 1 (published), CE NC1: zeroing moves it further", True),
                                   ("Table 1 (published), CE NC2: zeroing moves it further", None)],
          kind="published-data")
    _save("small", "ch6", "06_t", [("Fig. 3 (CE): every run reaches zero training error by the first drop", None,
                                    "premise not met", "premise"),
                                   ("Fig. 3 (CE) NC1: feature WD = 0 raises it", None, "premise not met"),
                                   ("Fig. 3 (CE) NC1: feature WD x2 lowers it", None, "premise not met"),
                                   ("Fig. 2: NC1 falls", True)])
    _save("medium", "ch6", "06_t", [("Fig. 3 (CE): every run reaches zero training error by the first drop", True, "",
                                     "premise"),
                                    ("Fig. 3 (CE) NC1: feature WD = 0 raises it", True),
                                    ("Fig. 3 (CE) NC1: feature WD x2 lowers it", True, "smaller than the paper's"),
                                    ("Fig. 3 (CE) NC2: feature WD = 0 raises it", None, "smaller than the paper's"),
                                    ("Fig. 3 (CE) NC2: feature WD x2 lowers it", None),
                                    ("Fig. 3 (CE) NC2: zeroing moves it further", False)])


def _naive(saved, profile, kind):
    """The verdict categories of ``kind``'s claims at ``profile``, counted one by one."""
    n = {"holds": 0, "contradicted": 0, "smaller": 0, "inconclusive": 0, "premise": 0}
    for entry in saved[profile]:
        for c in entry["claims"]:
            if c["kind"] != kind:
                continue
            if c["holds"] is True:
                n["holds"] += 1
            elif c["holds"] is False:
                n["contradicted"] += 1
            elif c["qualifier"] == "smaller than the paper's":
                n["smaller"] += 1
            elif c["qualifier"] == "premise not met":
                n["premise"] += 1
            else:
                n["inconclusive"] += 1
    return n


def test_findings_group_the_verdicts_by_kind_with_counts_recomputed_from_the_ledgers(results, tmp_path):
    _fixture_ledgers()
    _save("smoke", "ch6", "06_t", [("Fig. 3 (CE) NC1: feature WD = 0 raises it", False)])
    book = tmp_path / "book"
    book.mkdir()
    (book / "04_y.md").write_text("(ch4-z)=\n```{admonition} Erratum: $x$ slip\n```\n### NC1 is not monotone\n",
                                  encoding="utf-8")
    saved = {p: ledger.load(p) for p in ("smoke", *report.EVIDENCE_ORDER)}
    text = report.findings(saved, book)
    assert text.startswith("::::{admonition} Findings at a glance") and text.endswith("::::")
    assert "smoke" not in text.split("**Scales")[0]
    # the Sec. 5 table: one row per profile, equal to the naive count of the sec5 claims
    for p in ("medium", "small"):
        n = _naive(saved, p, "sec5")
        row = f"| `{p}` | {sum(n.values())} | {n['holds']} | {n['contradicted']} | {n['smaller']} | " \
              f"{n['inconclusive']} | {n['premise']} |"
        assert row in text, row
    decided = {p: sum(1 for e in saved[p] for c in e["claims"] if c["kind"] == "sec5" and c["holds"] is not None)
               for p in ("medium", "small")}
    assert f"At `medium` the runs decide {decided['medium']} of 5 claims (2 hold, 1 contradicted)." in text
    assert f"At `small` the runs decide {decided['small']} of 3 claims (1 holds)." in text
    # the premises: met at medium, not met at small, with the failing premise named
    assert ("**Premises**, checked on the same runs: at `medium`, 1 of 1 met; at `small`, 0 of 1 met (every run "
            "reaches zero training error by the first drop: not met for Fig. 3 (CE)).") in text
    # kinds counted once, at their best profile
    theory = _naive(saved, "small", "theory")
    assert (f"**The paper's theory: {sum(theory.values())} claims checked; {theory['holds']} hold, "
            f"{theory['contradicted']} contradicted.**") in text
    assert "- theory c: contradicted (small numbers)" in text  # a failed theory claim is named
    assert "**Errata: 1 found in the paper**, each in its chapter, with 1 numerical checks (1 holds):" in text
    assert "- {ref}`Chapter 4 <ch4-z>`: Erratum: $x$ slip" in text
    assert "**Beyond the paper: 1 results of the book's own** (1 holds)" in text
    assert "among them: NC1 is not monotone ({ref}`Chapter 4 <ch4-z>`)." in text
    assert "of its 2 weight-decay comparisons, 1 are decided (1 holds)" in text
    assert "**The book's own checks**" in text and ": 2, 1 holds, 1 contradicted." in text
    # the decided claims, listed by subject, the undecided counted
    assert ("- Fig. 3 (CE) NC1: feature WD = 0 raises it (holds); feature WD x2 lowers it (holds, smaller than the "
            "paper's)") in text
    assert "- Fig. 3 (CE) NC2: zeroing moves it further (contradicted); 2 more not decided" in text
    # no training runs stored: none at the paper's size, the Table 1 baseline pending
    assert "No ResNet18 run at the paper's size exists here: the `paper` profile has no stored runs" in text
    assert "no profile has a column of Table 1's baseline runs stored yet" in text
    scales = text.split("**Scales.**")[1]
    assert "`small`: pending — verdicts saved for 4 chapters (training-run files stored: 0 of" in scales
    assert "`paper` profile: pending — no verdicts saved yet" in scales
    assert scales.index("`small`") < scales.index("`medium`") < scales.index("`paper` profile")


def test_findings_define_the_profiles_with_their_size_computed_from_the_profiles(results, tmp_path):
    from nclib import experiments, profiles

    text = report.findings({}, _book(tmp_path))
    for p in ("small", "medium"):
        s, paper = profiles.settings("experiments", p), profiles.settings("experiments", "paper")
        cfg = experiments.grid("table1", p)["cifar10", "ce", "baseline", 0]
        read_out = (s.table1_epoch or cfg.epochs) * experiments.steps_per_epoch("cifar10", s.cifar_per_class,
                                                                                  s.batch_size)
        expected = (f"width {s.width} of {paper.width} (1/{paper.width // s.width}); CIFAR-10: {s.cifar_per_class:,} "
                    f"of 5,000 training images per class (1/{5000 / s.cifar_per_class:.0f}) and {read_out:,} of "
                    f"{100 * 196:,} SGD steps to Table 1's read-out")
        assert expected in report.size_against_paper(p) and expected in text, expected
    assert report.size_against_paper("paper") == ""
    assert text.index("`small` (the default)\n: ") < text.index("`medium`\n: ") < text.index("`paper` profile\n: ")
    assert "bfloat16 on a GPU, this book's choice: the paper does not state it" in text
    assert "**Saved before kinds were recorded**" not in text


def test_findings_show_ledgers_saved_before_kinds_and_runs_at_the_paper_size(results, tmp_path):
    import json

    from nclib import experiments
    from nclib.train import result_file

    folder = results / "small" / "ledger"
    folder.mkdir(parents=True)
    claims = [dict(chapter="ch9", page="09_x", anchor="ch9-a", claim=f"c{i}", holds=h, evidence="e", profile="small")
              for i, h in enumerate((True, False, None))]
    (folder / "ch9.json").write_text(json.dumps({"chapter": "ch9", "page": "09_x", "profile": "small",
                                                 "provenance": {}, "claims": claims}))
    config = experiments.grid("table1", "paper")["cifar10", "ce", "baseline", 0]
    path = result_file(experiments.results_dir("paper"), config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}")
    text = report.findings({p: ledger.load(p) for p in report.EVIDENCE_ORDER}, _book(tmp_path))
    assert "| `small` | 3 | 1 | 1 | 0 | 1 | 0 |" in text.split("**Saved before kinds were recorded**")[1]
    assert "Stored at the paper's size: Fig. 3 (1 of 10 runs), Table 1 (1 of 60 runs)." in text  # shared runs


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


def test_the_paper_profile_is_named_as_a_profile_not_as_the_published_paper(results, tmp_path):
    _save("paper", "ch5", "05_z", [("Fig. 2: NC1 falls", True)])
    _save("small", "ch5", "05_z", [("Fig. 2: NC1 falls", True)])
    found = {p: ledger.load(p) for p in report.EVIDENCE_ORDER}
    table = report.claims_table(found, book=_book(tmp_path, ("05_z",)))
    assert table.columns[3:] == ["paper profile", "small"]
    assert "<small>(paper profile)</small>" in table._repr_html_()
    counts = report.counts_table(found)
    assert [row[0].text for row in counts.rows if not isinstance(row, str)] == ["paper profile", "small"]
    text = report.findings(found, _book(tmp_path, ("05_z",)))
    assert "| `paper` profile | 1 | 1 | 0 | 0 | 0 | 0 |" in text and "| paper |" not in text


def test_evidence_keeps_each_number_on_one_line():
    """In the verdict and ledger tables a narrow column may break evidence between numbers, not
    inside one ("1.3e-04" split after "1.3e-" read as another number)."""
    book = ledger.Ledger("ch4", "04_x", profile="small")
    book.verdict("a", True, "min eig 1.3e-02 -> -1.3e-04; at 0: |x| < 1e-10, 95% <b>", "ch4-a")
    html = report.verdict_table(book.claims, "small")._repr_html_()
    spans = re.findall(r'<span style="white-space:nowrap">([^<]*)</span>', html)
    assert spans == ["1.3e-02", "-1.3e-04", "0", "1e-10", "95%"]
    assert "&lt;b&gt;" in html and "<b>" not in html  # the text around them still escaped
    assert str(report.verdict_table(book.claims, "small")).endswith("min eig 1.3e-02 -> -1.3e-04; at 0: |x| < 1e-10, 95% <b>")


NOWRAP = '<span style="white-space:nowrap">'


def _loose_numbers(html: str) -> list[str]:
    """The numbers of a table's cells (:data:`nclib.report._NUMBER`) that are not each inside
    one nowrap span: the table's text (tags and their attributes left out) once those spans are
    removed."""
    table = html[html.index("<table"):html.index("</table>")]
    rest = re.sub(re.escape(NOWRAP) + r"[^<]*</span>", "", table)
    return report._NUMBER.findall(html_module.unescape(re.sub(r"<[^>]+>", " ", rest)))


def test_a_plain_text_cell_keeps_each_number_on_one_line_and_stays_escaped():
    """A cell given as text (no markup), a header label and a group heading: each number in one
    nowrap span (an exponent's "4.0e-" / "05" not split), the text around it escaped."""
    cell = report.Cell("4.0e-05 and 1,024 < 2%")
    assert cell.html() == (f"<td>{NOWRAP}4.0e-05</span> and {NOWRAP}1,024</span> &lt; "
                           f"{NOWRAP}2%</span></td>")
    assert report.Cell("x", "<b>4.0e-05</b>").html() == "<td><b>4.0e-05</b></td>"  # markup as given
    table = report.Table(["NC1 at epoch 1e-3 <x>", "b"], ["WD 5e-4 & <y>", [cell, "-2.5e+01"]])
    html = table._repr_html_()
    assert f"<th>NC{NOWRAP}1</span> at epoch {NOWRAP}1e-3</span> &lt;x&gt;</th>" in html
    assert f'<th colspan="2">WD {NOWRAP}5e-4</span> &amp; &lt;y&gt;</th>' in html
    assert f"<td>{NOWRAP}-2.5e+01</span></td>" in html
    assert "<x>" not in html and "<y>" not in html and _loose_numbers(html) == []
    assert str(table).splitlines() == ["NC1 at epoch 1e-3 <x> | b", "-- WD 5e-4 & <y> --",
                                           "4.0e-05 and 1,024 < 2% | -2.5e+01"]


def test_every_number_of_the_books_tables_keeps_to_one_line(results, tmp_path):
    """The tables of nclib.report: claims (verdict table, ledger page with its group rows),
    counts, Table 1, runs and settings: no number of a cell outside its nowrap span."""
    book = ledger.Ledger("ch9", "09_x", profile="small")
    book.verdict("Fig. 6 (WD 5e-4): NC1 < 1.5e-02 at epoch 1,000", True, "1.3e-02 -> -1.3e-04", "ch9-a")
    book.verdict("NC2 falls by 95%", False, "0.5 -> 2.5e+01", "ch9-b", kind="extension")
    book.save()
    assert _loose_numbers(report.verdict_table(book.claims, "small")._repr_html_()) == []
    found = {p: ledger.load(p) for p in report.EVIDENCE_ORDER}
    claims = report.claims_table(found, book=_book(tmp_path, ("09_x",)))._repr_html_()
    assert f">Fig. {NOWRAP}6</span> (WD {NOWRAP}5e-4</span>): NC{NOWRAP}1</span> &lt; " in claims
    assert _loose_numbers(claims) == []
    assert _loose_numbers(report.counts_table(found)._repr_html_()) == []
    ours = {("cifar10", "mse", "baseline", "nc1"): (4.1e-5, 3e-6)}
    assert _loose_numbers(report.table1_table(ours, "small")._repr_html_()) == []
    runs = {("cifar10", "ce", "wd2_H", 0): _run([0.5, 0.0], [2.0, 1.5e-5])}
    assert _loose_numbers(report.runs_table(runs, "small")._repr_html_()) == []
    assert _loose_numbers(report.settings_table("fig3", "small")._repr_html_()) == []
    # the check itself sees a number left bare
    assert _loose_numbers('<table><td class="x1">a 4.0e-05</td></table>') == ["4.0e-05"]


def test_the_ledger_answer_counts_each_kind_once_at_its_best_evidence(results):
    _save("medium", "ch6", "06_t", [("w", True), ("v", None)])
    _save("small", "ch6", "06_t", [("w", False), ("u", None, "premise not met")])
    _save("small", "ch2", "02_t", [("t", True)], kind="theory")
    text = report.ledger_answer({p: ledger.load(p) for p in report.EVIDENCE_ORDER})
    assert text.startswith(":::{admonition} What the book checks\n:class: nc-answer\n") and text.endswith(":::")
    assert ("4 claims, each counted once at its best evidence: the paper's theory, checked numerically: 1 (1 holds); "
            "the paper's experiments (Sec. 5), on the book's runs: 3 (1 holds, 1 inconclusive, 1 premise not met).") in text

"""nclib.ledger: claims, three-state verdicts, saved ledgers, and a chapter's verdicts shown."""

import json
import math

import pytest

from nclib import ledger


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("NCLIB_RESULTS", str(tmp_path))
    return tmp_path


def test_check_holds_only_within_tolerance():
    book = ledger.Ledger("ch9", "09_x", profile="smoke")
    assert book.check("a", 1e-12, 1e-10, "ch9-a")
    assert not book.check("b", 2.0, 1.0, "ch9-a")
    assert not book.check("c", math.nan, 1.0, "ch9-a")  # a NaN never passes
    assert [c.holds for c in book.claims] == [True, False, False] and not book.all_hold
    assert book.claims[1].evidence == "2.00e+00 > 1.0e+00"


def test_anchor_must_be_a_section_label():
    book = ledger.Ledger("ch9", "09_x", profile="smoke")
    for bad in ("Ch9 Table", "ch9_table", "", None):
        with pytest.raises(ValueError, match="anchor="):
            book.verdict("claim", True, "", bad)


def test_save_and_load_round_trip(results):
    book = ledger.Ledger("ch9", "09_x", profile="small")
    book.verdict("it works", True, "3 of 3", "ch9-runs")
    path = book.save()
    assert path == results / "small" / "ledger" / "ch9.json"
    (saved,) = ledger.load("small")
    assert saved["claims"][0]["claim"] == "it works" and saved["profile"] == "small"
    assert "git commit" in saved["provenance"]
    assert ledger.load("paper") == []
    assert not list(path.parent.glob("*.tmp"))  # written atomically: no temporary left behind


def test_a_rebuild_with_the_same_verdicts_leaves_the_saved_ledger_alone(results):
    """Same claims, verdicts and evidence: the file (provenance included) is not rewritten; a
    changed verdict or evidence is."""
    def build(holds, evidence):
        book = ledger.Ledger("ch9", "09_x", profile="small")
        book.verdict("it works", holds, evidence, "ch9-runs")
        return book.save()

    path = build(True, "3 of 3")
    stamped = json.loads(path.read_text())
    stamped["provenance"]["git commit"] = "the first build"
    path.write_text(json.dumps(stamped))
    build(True, "3 of 3")
    assert json.loads(path.read_text())["provenance"]["git commit"] == "the first build"
    for holds, evidence in ((True, "2 of 3"), (None, "2 of 3")):
        build(holds, evidence)
        saved = json.loads(path.read_text())
        assert saved["provenance"]["git commit"] != "the first build"
        assert (saved["claims"][0]["holds"], saved["claims"][0]["evidence"]) == (holds, evidence)
        stamped = saved | {"provenance": {**saved["provenance"], "git commit": "the first build"}}
        path.write_text(json.dumps(stamped))
    path.write_text("{truncated")
    build(None, "2 of 3")
    assert json.loads(path.read_text())["claims"][0]["holds"] is None  # a corrupt file is rewritten


def test_verdict_has_three_states_and_saves_them_as_json(results):
    book = ledger.Ledger("ch9", "09_x", profile="medium")
    assert book.verdict("a", True, "", "ch9-a") is True
    assert book.verdict("b", 0, "", "ch9-a") is False  # any falsy value but None is "contradicted"
    assert book.verdict("c", None, "NC1 undefined", "ch9-a") is None
    assert not book.all_hold
    text = book.save().read_text()
    assert '"holds": null' in text and '"holds": false' in text and '"holds": true' in text
    (saved,) = ledger.load("medium")
    assert [c["holds"] for c in saved["claims"]] == [True, False, None]


def test_a_ledger_saved_with_two_states_still_loads_and_renders(results):
    """Ledgers saved before verdicts had three states (JSON true/false, as results/small/ledger/
    was committed) load as they are."""
    from nclib import report

    folder = results / "small" / "ledger"
    folder.mkdir(parents=True)
    claims = [dict(chapter="ch9", page="09_x", anchor="ch9-a", claim=f"claim {i}", holds=h, evidence="e",
                   profile="small") for i, h in enumerate((True, False))]
    (folder / "ch9.json").write_text(json.dumps({"chapter": "ch9", "page": "09_x", "profile": "small",
                                                 "provenance": {}, "claims": claims}))
    (saved,) = ledger.load("small")
    assert report.verdict_counts(saved["claims"]) == {"holds": 1, "contradicted": 1, "smaller than the paper's": 0, "inconclusive": 0, "premise not met": 0}


def test_show_prints_the_verdicts_outside_a_notebook(capsys):
    book = ledger.Ledger("ch9", "09_x", profile="small")
    book.verdict("NC1 falls", True, "3 -> 1", "ch9-a")
    book.verdict("NC2 falls", None, "NaN", "ch9-b")
    book.show()
    out = capsys.readouterr().out
    assert "[profile: small]" in out
    assert "✓ holds | NC1 falls | 3 -> 1" in out and "? inconclusive | NC2 falls | NaN" in out


def test_require_records_the_claim_and_stops_when_it_fails():
    book = ledger.Ledger("ch9", "09_x", profile="smoke")
    book.require("fine", 1e-12, 1e-10, "ch9-a")
    with pytest.raises(AssertionError, match=r"too big: 3.00e\+00 > 1.0e\+00"):
        book.require("too big", 3.0, 1.0, "ch9-a")
    assert [c.holds for c in book.claims] == [True, False]


def test_rendered_is_the_active_profile_and_every_stored_ledger(results, monkeypatch):
    monkeypatch.setenv("NCLIB_PROFILE", "small")
    for chapter, profile in (("ch1", "small"), ("ch1", "medium"), ("ch6", "medium"), ("ch6", "small")):
        book = ledger.Ledger(chapter, "0x", profile=profile)
        book.verdict("a", True, "", f"{chapter}-runs")
        book.save()
    assert [(e["chapter"], e["profile"], e["stored"]) for e in ledger.rendered("small")] == [
        ("ch1", "small", False), ("ch6", "small", False), ("ch1", "medium", True), ("ch6", "medium", True)]
    monkeypatch.setenv("NCLIB_PROFILE", "medium")  # a medium build re-saves ch1 as its live run
    book = ledger.Ledger("ch1", "0x")
    book.verdict("a", True, "", "ch1-runs")
    book.save()
    assert [(e["chapter"], e["profile"]) for e in ledger.rendered("paper")] == [("ch6", "medium")]


def test_a_qualifier_is_one_of_the_known_ones_and_premise_not_met_has_no_verdict():
    book = ledger.Ledger("ch6", "06_x", profile="medium")
    book.verdict("a", True, "e", "ch6-a", "smaller than the paper's")
    assert book.claims[0].qualifier == "smaller than the paper's"
    with pytest.raises(ValueError, match="qualifier='maybe' is unknown"):
        book.verdict("b", None, "e", "ch6-a", "maybe")
    with pytest.raises(ValueError, match="premise is not met has no verdict"):
        book.verdict("c", False, "e", "ch6-a", "premise not met")


def test_a_stored_evidence_ledger_names_the_profile_of_its_runs(results, monkeypatch):
    monkeypatch.setenv("NCLIB_PROFILE", "small")
    book = ledger.Ledger("ch6", "06_x", profile="medium")
    book.verdict("a", True, "e", "ch6-a")
    saved = json.loads(book.save().read_text())
    assert saved["provenance"]["profile"] == "medium" and saved["provenance"]["built at profile"] == "small"


def test_each_claim_has_a_kind_from_the_ledger_or_the_call():
    book = ledger.Ledger("ch4", "04_x", profile="smoke")
    assert book.kind == "theory"  # the default
    book.check("a", 0.0, 1.0, "ch4-a")
    book.check("b", 0.0, 1.0, "ch4-a", kind="self-check")
    book.verdict("c", True, "e", "ch4-a", kind="erratum")
    book.require("d", 0.0, 1.0, "ch4-a", kind="extension")
    assert [c.kind for c in book.claims] == ["theory", "self-check", "erratum", "extension"]
    sec5 = ledger.Ledger("ch6", "06_x", profile="smoke", kind="sec5")
    sec5.verdict("Fig. 3 (CE) NC1: feature WD = 0 raises it", None, "e", "ch6-a")
    assert sec5.claims[0].kind == "sec5"


def test_an_unknown_kind_is_refused_with_the_known_ones_named():
    with pytest.raises(ValueError, match=r"kind='theorem' is unknown; expected one of \('theory', "):
        ledger.Ledger("ch4", "04_x", profile="smoke", kind="theorem")
    book = ledger.Ledger("ch4", "04_x", profile="smoke")
    for call in (lambda: book.verdict("a", True, "e", "ch4-a", kind="Theory"),
                 lambda: book.check("a", 0.0, 1.0, "ch4-a", kind=""),
                 lambda: book.of_kind("unclassified")):  # only a load reads that one
        with pytest.raises(ValueError, match="is unknown; expected one of"):
            call()
    assert book.claims == []  # a refused claim is not recorded


def test_of_kind_adds_to_the_same_ledger_with_another_default(results):
    book = ledger.Ledger("ch3", "03_x", profile="small")
    checks = book.of_kind("self-check")
    book.check("theory claim", 0.0, 1.0, "ch3-a")
    checks.check("solver converged", 0.0, 1.0, "ch3-a")
    checks.verdict("an erratum after all", True, "e", "ch3-a", kind="erratum")  # the call's kind wins
    assert book.kind == "theory" and checks.kind == "self-check"
    assert [(c.claim, c.kind) for c in book.claims] == [
        ("theory claim", "theory"), ("solver converged", "self-check"), ("an erratum after all", "erratum")]
    book.save()
    (saved,) = ledger.load("small")
    assert [c["kind"] for c in saved["claims"]] == ["theory", "self-check", "erratum"]


def test_a_ledger_saved_without_kinds_loads_as_unclassified_and_a_rebuild_classifies_it(results):
    folder = results / "small" / "ledger"
    folder.mkdir(parents=True)
    claim = dict(chapter="ch9", page="09_x", anchor="ch9-a", claim="it works", holds=True, evidence="e",
                 profile="small", qualifier="")
    (folder / "ch9.json").write_text(json.dumps({"chapter": "ch9", "page": "09_x", "profile": "small",
                                                 "stored": False, "provenance": {"git commit": "old"},
                                                 "claims": [claim]}))
    (saved,) = ledger.load("small")
    assert saved["claims"][0]["kind"] == ledger.UNCLASSIFIED == "unclassified"
    book = ledger.Ledger("ch9", "09_x", profile="small", kind="sec5")
    book.verdict("it works", True, "e", "ch9-a")
    path = book.save()  # the same verdict, now with a kind: written again
    stored = json.loads(path.read_text())
    assert stored["claims"][0]["kind"] == "sec5" and stored["provenance"]["git commit"] != "old"


def test_ledger_and_report_import_one_way_only():
    """nclib.ledger uses nclib.report; nclib.report never imports nclib.ledger, and each imports alone."""
    import subprocess
    import sys

    for module, absent in (("nclib.report", "nclib.ledger"), ("nclib.ledger", None)):
        code = f"import sys, {module}; assert {absent!r} not in sys.modules, sorted(sys.modules)"
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
    import nclib.report
    source = open(nclib.report.__file__, encoding="utf-8").read()
    assert "import ledger" not in source and "nclib.ledger import" not in source


def test_the_answer_box_counts_each_claim_once_at_its_best_evidence_by_kind(results):
    """A chapter's answer box: the paper's claim, then its page's claims, each at the best profile
    that saved it, counted by kind under the evidence they rest on; the contradicted claims and
    the premises not met named; other pages' claims left out."""
    stored = ledger.Ledger("ch6", "06_x", profile="medium", kind="sec5")
    stored.verdict("Fig. 3 (CE) NC1: feature WD moves it more", True, "0.3 [0.1, 0.5]", "ch6-stored")
    stored.verdict("Fig. 3 (CE) NC2: feature WD moves it more", False, "-0.3 [-0.5, -0.1]", "ch6-stored")
    stored.verdict("Fig. 3 (MSE): every run reaches zero training error", None, "1 of 2", "ch6-stored",
                   "premise not met", kind="premise")
    stored.save()
    live = ledger.Ledger("ch6", "06_x", profile="small", kind="sec5")
    live.verdict("Fig. 3 (CE) NC1: feature WD moves it more", None, "small runs", "ch6-runs")  # medium's counts
    live.verdict("a small-only claim", True, "e", "ch6-runs")
    live.save()
    other = ledger.Ledger("ch3", "03_x", profile="small")
    other.verdict("a theory claim", True, "e", "ch3-a")
    other.save()
    box = ledger.answer("06_x", "Feature WD\n  matters more.").data
    lines = box.splitlines()
    assert lines[:3] == [":::{admonition} In short", ":class: nc-answer", "**The paper.** Feature WD matters more."]
    assert lines[-1] == ":::" and "{ref}`below <ch6-stored>`" in box
    medium = box.index("*On the stored runs of `medium`")
    small = box.index("*On the runs of `small`")
    assert medium < small
    assert ("- The paper's experiments (Sec. 5), on the book's runs: 2 claims, 1 holds, 1 contradicted; "
            "contradicted: Fig. 3 (CE) NC2: feature WD moves it more.") in box[medium:small]
    assert ("- Premises of the Sec. 5 claims: 1 claim, 1 premise not met (every run reaches zero training "
            "error: not met for Fig. 3 (MSE)).") in box[medium:small]
    assert "- The paper's experiments (Sec. 5), on the book's runs: 1 claim, 1 holds." in box[small:]
    assert "theory" not in box and "small runs" not in box
    assert "No verdicts saved yet" in ledger.answer("09_y", "A claim.").data

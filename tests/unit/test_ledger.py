"""nclib.ledger: claims, verdicts, saved ledgers and the HTML table of the ledger page."""

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


def test_html_table_links_each_claim_and_marks_missing_profiles(results):
    for profile, holds in (("smoke", True), ("small", False)):
        book = ledger.Ledger("ch9", "09_x", profile=profile)
        book.verdict("claim <one>", holds, "x < y", "ch9-runs")
        book.save()
    other = ledger.Ledger("ch1", "01_y", profile="smoke")
    other.check("first", 0.0, 1.0, "ch1-gd")
    other.save()
    html = ledger.html_table({p: ledger.load(p) for p in ("smoke", "small")})
    assert '<a href="09_x.html#ch9-runs">claim &lt;one&gt;</a>' in html  # escaped
    assert html.index("01_y.html#ch1-gd") < html.index("09_x.html#ch9-runs")  # chapter order
    assert html.count("<tr><td>") == 2 and "not run" in html  # ch1 has no small ledger
    assert 'class="fails"' in html and 'class="holds"' in html
    json.dumps(html)


def test_require_records_the_claim_and_stops_when_it_fails():
    book = ledger.Ledger("ch9", "09_x", profile="smoke")
    book.require("fine", 1e-12, 1e-10, "ch9-a")
    with pytest.raises(AssertionError, match=r"too big: 3.00e\+00 > 1.0e\+00"):
        book.require("too big", 3.0, 1.0, "ch9-a")
    assert [c.holds for c in book.claims] == [True, False]

"""nclib.evidence: a measured value below the floor is recorded as that bound (and holds), larger
values as Ledger.check writes them, and a violation still fails."""

from __future__ import annotations

import pytest

from nclib import evidence
from nclib.ledger import Ledger


def test_bound_and_check():
    assert evidence.bound(3.11e-15, 1e-12) == "|x| < 1e-12" and evidence.bound(2.5e-3, 1e-12) == "2.50e-03"
    led = Ledger("chx", "xx_page", profile="smoke")
    assert evidence.check(led, "tiny", 1.55e-15, 1e-12, "sec")
    assert evidence.check(led, "tiny again", -3.11e-15, 1e-12, "sec")
    assert led.claims[0].evidence == led.claims[1].evidence == "|x| < 1e-14 <= 1.0e-12"
    assert evidence.check(led, "raw", 5e-13, 1e-12, "sec") and led.claims[-1].evidence.startswith("5.00e-13")
    assert not evidence.check(led, "fails", 2e-12, 1e-12, "sec")
    assert not evidence.check(led, "nan", float("nan"), 1e-12, "sec")
    assert evidence.check(led, "own floor", 5e-13, 1e-12, "sec", floor=1e-12)
    assert led.claims[-1].evidence == "|x| < 1e-12 <= 1.0e-12"
    record = evidence.recorder(led)
    record("ok", 0.0, 0, "sec")
    with pytest.raises(AssertionError, match="measured > tolerance"):
        record("stops", 1.0, 0.5, "sec")

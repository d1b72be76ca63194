"""Evidence strings that do not change with round-off.

A check whose measured error sits at the rounding level (``1.55e-15`` on one build, ``3.11e-15``
on the next) would rewrite a stored ledger on every rebuild although its verdict is the same.
:func:`check` records such a value as a bound instead: a measured ``|x| < floor`` (default
``floor = tol / 100``) is written ``"|x| < 1e-14 <= 1.0e-12"``; larger values go to
:meth:`nclib.ledger.Ledger.check` unchanged. :func:`bound` formats a number the same way for a
printout or a verdict's evidence.
"""

from __future__ import annotations

import math

__all__ = ["bound", "check", "require", "recorder"]


def bound(value: float, floor: float, fmt: str = ".2e") -> str:
    """``value`` formatted with ``fmt``, or ``"|x| < floor"`` if ``|value| < floor``."""
    value, floor = float(value), float(floor)
    return f"|x| < {floor:.0e}" if abs(value) < floor else format(value, fmt)


def check(ledger, claim: str, measured: float, tol: float, anchor: str, floor: float | None = None) -> bool:
    """:meth:`nclib.ledger.Ledger.check` (holds when ``measured <= tol``), except that a measured
    value with ``|measured| < floor`` (``tol > 0``; default ``floor = tol / 100``) is recorded as
    that bound, which holds. Returns the verdict."""
    measured, tol = float(measured), float(tol)
    floor = tol / 100 if floor is None else float(floor)
    if tol > 0 and 0 < floor <= tol and not math.isnan(measured) and abs(measured) < floor:
        return ledger.verdict(claim, True, f"{bound(measured, floor)} <= {tol:.1e}", anchor)
    return ledger.check(claim, measured, tol, anchor)


def require(ledger, claim: str, measured: float, tol: float, anchor: str, floor: float | None = None) -> None:
    """:func:`check`, then stop (``AssertionError``) if the claim does not hold."""
    if not check(ledger, claim, measured, tol, anchor, floor):
        raise AssertionError(f"{claim}: {ledger.claims[-1].evidence} (measured > tolerance)")


def recorder(ledger):
    """``record(claim, measured, tol, anchor, floor=None)``: :func:`require` on ``ledger``, the form a
    chapter uses for the checks it must pass to go on."""

    def record(claim: str, measured: float, tol: float, anchor: str, floor: float | None = None) -> None:
        require(ledger, claim, measured, tol, anchor, floor)

    return record

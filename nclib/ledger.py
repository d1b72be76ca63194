"""The claims ledger: every claim the book checks, its kind, its computed verdict, the profile it
was computed at, and the cell that computes it.

A chapter keeps one :class:`Ledger`, adds each claim where it is computed (:meth:`Ledger.check`
for a measured error against a tolerance, :meth:`Ledger.verdict` for a finding such as
"feature WD moves NC1 further from the baseline than last-layer WD"), shows its verdicts
(:meth:`Ledger.show`) and saves it at its end. A verdict has three states: ``True`` (holds),
``False`` (contradicted) and ``None`` (inconclusive).

Every claim has a *kind* (:data:`KINDS`): what sort of statement it is. The ledger's ``kind`` is
the default of its claims, and each call may name another (``kind=``); :meth:`Ledger.of_kind`
gives the same ledger with another default, for helpers that add claims without naming a kind
(:func:`nclib.evidence.recorder`, :func:`nclib.verdicts.record`).

Saved ledgers live in ``<results>/<profile>/ledger/<chapter>.json``
(:func:`nclib._io.results_root`); :func:`load` reads them, and :mod:`nclib.report` renders them
(this module depends on :mod:`nclib.report`, never the reverse). A claim saved before kinds were
recorded loads with the kind ``"unclassified"`` (:data:`UNCLASSIFIED`) until its chapter runs again.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
from pathlib import Path

from nclib import profiles, report
from nclib._io import atomic_write_text, results_root
from nclib.effects import PREMISE, SMALLER
from nclib.report import KINDS, UNCLASSIFIED

__all__ = ["KINDS", "UNCLASSIFIED", "QUALIFIERS", "Claim", "Ledger", "ledger_dir", "load", "answer", "rendered"]

QUALIFIERS = ("", SMALLER, PREMISE)
"""What may qualify a verdict (:mod:`nclib.effects`)."""

_ANCHOR = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is unknown; expected one of {tuple(KINDS)}")
    return kind


@dataclasses.dataclass(frozen=True)
class Claim:
    """One checked claim. ``holds``: the verdict, True (holds), False (contradicted) or None
    (inconclusive), and its ``qualifier``; ``evidence``: the numbers behind it; ``page`` /
    ``anchor``: the book page and the label of the section whose cell computes it; ``kind``: one
    of :data:`KINDS`."""

    chapter: str
    page: str
    anchor: str
    claim: str
    holds: bool | None
    evidence: str
    profile: str
    qualifier: str = ""
    """"" or a qualifier of :mod:`nclib.effects`: "smaller than the paper's", "premise not met"."""
    kind: str = "theory"


class Ledger:
    """The claims of one chapter (``chapter``: short name, e.g. ``"ch3"``; ``page``: the book page,
    e.g. ``"03_within_class_variability"``) at the active profile; ``kind``: the kind of its claims
    where a call names none (:data:`KINDS`)."""

    def __init__(self, chapter: str, page: str, profile: str | None = None, kind: str = "theory"):
        self.chapter, self.page = chapter, page
        self.profile = profiles.current() if profile is None else profile
        self.stored = self.profile != profiles.current()  # verdicts of stored runs, shown at any profile
        self.kind = _kind(kind)
        self.claims: list[Claim] = []

    def of_kind(self, kind: str) -> Ledger:
        """This ledger (the same claims, saved together) with ``kind`` as the default kind: for
        helpers that call :meth:`check` or :meth:`verdict` without naming one."""
        view = copy.copy(self)  # shares self.claims
        view.kind = _kind(kind)
        return view

    def _add(self, claim: str, holds: bool | None, evidence: str, anchor: str, qualifier: str = "",
             kind: str | None = None) -> bool | None:
        if not isinstance(anchor, str) or not _ANCHOR.match(anchor):
            raise ValueError(f"anchor={anchor!r} must be a section label of lowercase letters, digits and '-'")
        if qualifier not in QUALIFIERS:
            raise ValueError(f"qualifier={qualifier!r} is unknown; expected one of {QUALIFIERS}")
        if qualifier == PREMISE and holds is not None:
            raise ValueError(f"a claim whose premise is not met has no verdict (holds=None), got holds={holds!r}")
        if kind is None:
            kind = self.kind
        if holds is not None:
            holds = bool(holds)
        self.claims.append(Claim(self.chapter, self.page, anchor, str(claim), holds, evidence, self.profile,
                                 qualifier, _kind(kind)))
        return holds

    def check(self, claim: str, measured: float, tol: float, anchor: str, kind: str | None = None) -> bool:
        """A claim checked numerically: it holds when ``measured <= tol``; otherwise (a NaN
        included) it is contradicted. ``kind``: default the ledger's."""
        measured, tol = float(measured), float(tol)
        holds = not math.isnan(measured) and measured <= tol
        return self._add(claim, holds, f"{measured:.2e} {'<=' if holds else '>'} {tol:.1e}", anchor, kind=kind)

    def require(self, claim: str, measured: float, tol: float, anchor: str, kind: str | None = None) -> None:
        """:meth:`check`, then stop (``AssertionError``) if the claim does not hold: for checks
        that a chapter must pass to go on."""
        if not self.check(claim, measured, tol, anchor, kind):
            raise AssertionError(f"{claim}: {self.claims[-1].evidence} (measured > tolerance)")

    def verdict(self, claim: str, holds: bool | None, evidence: str, anchor: str, qualifier: str = "",
                kind: str | None = None) -> bool | None:
        """A finding: ``holds`` True (holds), False (contradicted) or None (inconclusive), with
        the numbers it rests on in ``evidence``, a ``qualifier`` of :data:`QUALIFIERS` and a
        ``kind`` of :data:`KINDS` (default the ledger's)."""
        return self._add(claim, holds, str(evidence), anchor, qualifier, kind)

    @property
    def all_hold(self) -> bool:
        return all(c.holds is True for c in self.claims)

    def show(self) -> None:
        """Display the chapter's verdicts (:func:`nclib.report.verdict_table`): an HTML table in
        a notebook, a few lines of text in a terminal."""
        report.show(report.verdict_table(self.claims, self.profile))

    def save(self) -> Path:
        """Write the ledger (atomically) to :func:`ledger_dir` and return the file's path. A saved
        ledger with the same claims, kinds, verdicts and evidence is left as it is, provenance
        included: it names the build that first computed them, and a rebuild leaves the results
        unchanged."""
        path = ledger_dir(self.profile) / f"{self.chapter}.json"
        record = {"chapter": self.chapter, "page": self.page, "profile": self.profile, "stored": self.stored,
                  "claims": [dataclasses.asdict(c) for c in self.claims]}
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError):
            old = None
        if isinstance(old, dict) and {k: old.get(k) for k in record} == record:
            return path
        built = {} if self.profile == profiles.current() else {"built at profile": profiles.current()}
        provenance = profiles.provenance(profile=self.profile, **built)  # the runs' profile, not the build's
        atomic_write_text(path, json.dumps({**record, "provenance": provenance}, indent=1))
        return path


def ledger_dir(profile: str) -> Path:
    """Folder of the saved ledgers of ``profile``."""
    return results_root() / profile / "ledger"


def load(profile: str) -> list[dict]:
    """The saved ledgers of ``profile`` (each a dict with ``chapter``, ``page``, ``profile``,
    ``provenance`` and ``claims``; a claim's ``holds`` is true, false or null; a claim saved
    without a kind reads :data:`UNCLASSIFIED`); [] if there are none."""
    out = []
    for path in sorted(ledger_dir(profile).glob("*.json")):
        entry = json.loads(path.read_text())
        for claim in entry.get("claims", []):
            claim.setdefault("kind", UNCLASSIFIED)
        out.append(entry)
    return out


def answer(page: str, claim: str):
    """The answer box under a chapter's title (:func:`nclib.report.chapter_answer`): ``claim``,
    what the paper claims (MyST), and what the saved ledgers of every profile of
    :data:`nclib.report.EVIDENCE_ORDER` say of the claims of ``page``, as a Markdown display object."""
    from IPython.display import Markdown

    return Markdown(report.chapter_answer(page, claim, {p: load(p) for p in report.EVIDENCE_ORDER}))


def rendered(profile: str) -> list[dict]:
    """The saved ledgers that a build of the book at ``profile`` shows on its chapter pages: those
    of ``profile`` and those of stored runs (a chapter's stored-evidence section, saved with
    ``stored`` true), which every build shows."""
    return [entry for p in profiles.PROFILES for entry in load(p) if p == profile or entry.get("stored")]

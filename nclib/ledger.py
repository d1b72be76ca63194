"""The claims ledger: every claim the book checks, its computed verdict, the profile it was
computed at, and the cell that computes it.

A chapter keeps one :class:`Ledger`, adds each claim where it is computed (:meth:`Ledger.check`
for a measured error against a tolerance, :meth:`Ledger.verdict` for a yes/no finding such as
"feature WD moves NC1 further from the baseline than last-layer WD"), and saves it at its end.
Saved ledgers live in ``<results>/<profile>/ledger/<chapter>.json`` (:func:`nclib._io.results_root`);
the ledger page reads all of them with :func:`load` and renders them with :func:`html_table`.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re
from pathlib import Path

from nclib import profiles
from nclib._io import atomic_write_text, results_root

__all__ = ["Claim", "Ledger", "ledger_dir", "load", "html_table"]

_ANCHOR = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclasses.dataclass(frozen=True)
class Claim:
    """One checked claim. ``holds``: the verdict; ``evidence``: the numbers behind it;
    ``page`` / ``anchor``: the book page and the label of the section whose cell computes it."""

    chapter: str
    page: str
    anchor: str
    claim: str
    holds: bool
    evidence: str
    profile: str


class Ledger:
    """The claims of one chapter (``chapter``: short name, e.g. ``"ch3"``; ``page``: the book page,
    e.g. ``"03_within_class_variability"``) at the active profile."""

    def __init__(self, chapter: str, page: str, profile: str | None = None):
        self.chapter, self.page = chapter, page
        self.profile = profiles.current() if profile is None else profile
        self.claims: list[Claim] = []

    def _add(self, claim: str, holds: bool, evidence: str, anchor: str) -> bool:
        if not isinstance(anchor, str) or not _ANCHOR.match(anchor):
            raise ValueError(f"anchor={anchor!r} must be a section label of lowercase letters, digits and '-'")
        self.claims.append(Claim(self.chapter, self.page, anchor, str(claim), bool(holds), evidence, self.profile))
        return bool(holds)

    def check(self, claim: str, measured: float, tol: float, anchor: str) -> bool:
        """A claim checked numerically: it holds when ``measured <= tol`` (a NaN never holds)."""
        measured, tol = float(measured), float(tol)
        holds = not math.isnan(measured) and measured <= tol
        return self._add(claim, holds, f"{measured:.2e} {'<=' if holds else '>'} {tol:.1e}", anchor)

    def require(self, claim: str, measured: float, tol: float, anchor: str) -> None:
        """:meth:`check`, then stop (``AssertionError``) if the claim does not hold: for checks
        that a chapter must pass to go on."""
        if not self.check(claim, measured, tol, anchor):
            raise AssertionError(f"{claim}: {self.claims[-1].evidence} (measured > tolerance)")

    def verdict(self, claim: str, holds: bool, evidence: str, anchor: str) -> bool:
        """A yes/no finding, with the numbers it rests on in ``evidence``."""
        return self._add(claim, holds, str(evidence), anchor)

    @property
    def all_hold(self) -> bool:
        return all(c.holds for c in self.claims)

    def print_table(self) -> None:
        """Print the claims, their evidence and verdicts, one per line."""
        width = max((len(c.claim) for c in self.claims), default=5)
        ev = max((len(c.evidence) for c in self.claims), default=8)
        print(f"{'claim':<{width}}  {'evidence':<{ev}}  verdict   [profile: {self.profile}]")
        for c in self.claims:
            print(f"{c.claim:<{width}}  {c.evidence:<{ev}}  {'holds' if c.holds else 'NOT SUPPORTED'}")

    def save(self) -> Path:
        """Write the ledger (atomically) to :func:`ledger_dir` and return the file's path."""
        path = ledger_dir(self.profile) / f"{self.chapter}.json"
        record = {"chapter": self.chapter, "page": self.page, "profile": self.profile,
                  "provenance": profiles.provenance(), "claims": [dataclasses.asdict(c) for c in self.claims]}
        atomic_write_text(path, json.dumps(record, indent=1))
        return path


def ledger_dir(profile: str) -> Path:
    """Folder of the saved ledgers of ``profile``."""
    return results_root() / profile / "ledger"


def load(profile: str) -> list[dict]:
    """The saved ledgers of ``profile`` (each a dict with
    ``chapter``, ``page``, ``profile``, ``provenance`` and ``claims``); [] if there are none."""
    return [json.loads(p.read_text()) for p in sorted(ledger_dir(profile).glob("*.json"))]


def html_table(ledgers_by_profile: dict) -> str:
    """One HTML table of every claim: rows in chapter order, a verdict column per profile
    (``{profile: load(profile)}``), each claim linked to the section that computes it."""
    rows: dict[tuple, dict] = {}
    for profile, ledgers in ledgers_by_profile.items():
        for ledger in ledgers:
            for c in ledger["claims"]:
                key = (c["page"], c["claim"])
                rows.setdefault(key, {"claim": c, "verdicts": {}})["verdicts"][profile] = c
    cols = list(ledgers_by_profile)
    head = "".join(f"<th>{html.escape(p)}</th>" for p in cols)
    out = ['<table class="claims-ledger">',
           f"<thead><tr><th>#</th><th>claim (link: the cell that computes it)</th>{head}</tr></thead>", "<tbody>"]
    for i, (_, row) in enumerate(sorted(rows.items(), key=lambda kv: kv[0][0]), 1):  # stable: page order
        c = row["claim"]
        link = f'<a href="{html.escape(c["page"])}.html#{html.escape(c["anchor"])}">{html.escape(c["claim"])}</a>'
        cells = []
        for p in cols:
            v = row["verdicts"].get(p)
            if v is None:
                cells.append("<td>not run</td>")
            else:
                mark = "holds" if v["holds"] else "not supported"
                cells.append(f'<td class="{"holds" if v["holds"] else "fails"}"><b>{mark}</b><br>'
                             f'<small>{html.escape(v["evidence"])}</small></td>')
        out.append(f"<tr><td>{i}</td><td>{link}</td>{''.join(cells)}</tr>")
    out += ["</tbody>", "</table>"]
    return "\n".join(out)

"""Retention classes and rules as pure functions (R6, R9, R11).

A clip's class follows from its labels and designation, recomputed whenever they change:
- ``evidence`` (R7): designated as evidence — kept with the case file (案卷); the station
  never lets it expire on its own.
- ``long_term`` (R9): a dispute, complaint, obstruction or assault of officers, mass
  incident or emergency — preserved long-term, never expires on its own.
- ``case`` (R6, 003:14): labelled with a penalty/coercion case but not evidence — kept at
  least the general period and at least until the litigation period after labelling ends.
- ``general`` (R6): everything else — ``general_months`` after recording (3 in 000:27 and
  004:26, 6 in 003:14).
A legal hold stops any expiry while it lasts. Nothing here deletes: :func:`expired` only
says whether the retention period is over; deletion needs an approver (``evidence_station``).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

LONG_TERM_CATEGORIES = ("dispute", "complaint", "obstruction", "assault", "mass_incident",
                        "emergency")


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months, clamped to the month's end (01-31 + 1 → 02-28/29)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Policy:
    general_months: int = 3
    litigation_months: int = 6
    long_term_categories: tuple[str, ...] = LONG_TERM_CATEGORIES


@dataclass(frozen=True)
class ClipFacts:
    clip_id: str
    sha256: str
    recorded_on: date | None  # the camera's date; the ingest date when unknown
    ingested_on: date
    case_number: str | None = None
    category: str | None = None
    labelled_on: date | None = None
    evidence: bool = False
    holds: Sequence[str] = field(default_factory=tuple)  # reasons of active holds


@dataclass(frozen=True)
class Retention:
    clip_id: str
    sha256: str
    klass: str  # evidence | long_term | case | general
    rule: str  # the rule and article that set the date
    expires: date | None  # None: never on its own
    held: bool

    def expired(self, today: date) -> bool:
        return not self.held and self.expires is not None and today >= self.expires


def classify(facts: ClipFacts, policy: Policy) -> Retention:
    start = facts.recorded_on or facts.ingested_on
    general = add_months(start, policy.general_months)
    held = bool(facts.holds)
    if facts.evidence:
        return Retention(facts.clip_id, facts.sha256, "evidence",
                         "R7 (000:27, 004:26): kept with the case file", None, held)
    if facts.category in policy.long_term_categories:
        return Retention(facts.clip_id, facts.sha256, "long_term",
                         f"R9 (003:15): {facts.category}, preserved long-term", None, held)
    if facts.case_number:
        litigation = add_months(facts.labelled_on or start, policy.litigation_months)
        if litigation > general:
            return Retention(facts.clip_id, facts.sha256, "case",
                             f"R6 (003:14): case {facts.case_number}, {policy.litigation_months} "
                             "months of litigation period after labelling", litigation, held)
        return Retention(facts.clip_id, facts.sha256, "case",
                         f"R6 (000:27): {policy.general_months} months after recording", general, held)
    return Retention(facts.clip_id, facts.sha256, "general",
                     f"R6 (000:27, 004:26): {policy.general_months} months after recording",
                     general, held)


def sweep(clips: Sequence[ClipFacts], policy: Policy, today: date) -> list[Retention]:
    """The clips whose retention is over on ``today`` (and not held)."""
    return [r for r in (classify(c, policy) for c in clips) if r.expired(today)]


def deletion_refusal(retention: Retention, today: date, *, requested_by: str | None,
                     approver: str) -> str | None:
    """Why a deletion may not happen now (R11), or ``None`` when it may."""
    if retention.held:
        return f"{retention.clip_id} is under a legal hold; release the hold first"
    if retention.expires is None:
        return f"{retention.clip_id} is {retention.klass} ({retention.rule}): it never expires here"
    if today < retention.expires:
        return (f"{retention.clip_id} is inside its retention period until "
                f"{retention.expires.isoformat()} ({retention.rule}); R11 forbids destroying it")
    if requested_by is None:
        return f"{retention.clip_id}: nobody requested its deletion; request it first"
    if requested_by == approver:
        return f"{retention.clip_id}: the approver must be someone other than the requester ({approver})"
    return None

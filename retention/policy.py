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
Periods run from the *later* of the recorded time the camera claims and the time the
station ingested the file: a camera whose clock is wrong (1970, 2010) can never make
footage expire early, while a camera clock in the future only keeps it longer. A clip with
an unresolved time flag (drift, implausible time) cannot be deleted at all until a person
resolves the flag (R1/R13: its times are not yet trustworthy).
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
    time_flags: Sequence[str] = field(default_factory=tuple)  # unresolved clock/time review flags


@dataclass(frozen=True)
class Retention:
    clip_id: str
    sha256: str
    klass: str  # evidence | long_term | case | general
    rule: str  # the rule and article that set the date
    expires: date | None  # None: never on its own
    held: bool
    time_flags: Sequence[str] = ()

    def expired(self, today: date) -> bool:
        return not self.held and self.expires is not None and today >= self.expires


def retention_start(recorded_on: date | None, ingested_on: date) -> date:
    """The later of the camera's recorded date and the station's ingest date (R11: a wrong
    camera clock must never shorten retention)."""
    return max(recorded_on, ingested_on) if recorded_on else ingested_on


def classify(facts: ClipFacts, policy: Policy) -> Retention:
    start = retention_start(facts.recorded_on, facts.ingested_on)
    general = add_months(start, policy.general_months)
    held = bool(facts.holds)
    flags = tuple(facts.time_flags)

    def decided(klass: str, rule: str, expires: date | None) -> Retention:
        return Retention(facts.clip_id, facts.sha256, klass, rule, expires, held, flags)

    if facts.evidence:
        return decided("evidence", "R7 (000:27, 004:26): kept with the case file", None)
    if facts.category in policy.long_term_categories:
        return decided("long_term", f"R9 (003:15): {facts.category}, preserved long-term", None)
    if facts.case_number:
        litigation = add_months(max(facts.labelled_on or start, start), policy.litigation_months)
        if litigation > general:
            return decided("case", f"R6 (003:14): case {facts.case_number}, {policy.litigation_months} "
                           "months of litigation period after labelling", litigation)
        return decided("case", f"R6 (000:27): {policy.general_months} months after recording "
                       "(or ingest, whichever is later)", general)
    return decided("general", f"R6 (000:27, 004:26): {policy.general_months} months after "
                   "recording (or ingest, whichever is later)", general)


def sweep(clips: Sequence[ClipFacts], policy: Policy, today: date) -> list[Retention]:
    """The clips whose retention is over on ``today`` (and not held)."""
    return [r for r in (classify(c, policy) for c in clips) if r.expired(today)]


def deletion_refusal(retention: Retention, today: date, *, requested_by: str | None,
                     approver: str, approver_is_admin: bool = True) -> str | None:
    """Why a deletion may not happen now (R11), or ``None`` when it may. ``today`` is the
    station's date, never one a caller chose."""
    if retention.time_flags:
        return (f"{retention.clip_id} has unresolved time flags ({', '.join(retention.time_flags)}): "
                "its recorded time is not trustworthy yet (R1/R13); resolve them with `review resolve`")
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
    if not approver_is_admin:
        return f"{retention.clip_id}: only an admin account may approve a deletion ({approver} is not one)"
    return None

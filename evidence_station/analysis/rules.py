"""The analysis rules as pure functions: facts in, review flags out, each citing its rule.

Articles are cited as ``file:article`` of ``regulations/`` (see its README): a clerk
reading a flag can look up exactly which duty it is about.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from retention.workdays import DeadlineRule, WorkdayCalendar, storage_deadline

ARTICLES = {
    "clock_drift": "R1/R13 (000:7, 004:7, 001:17)",
    "clock_ahead": "R1 (000:7, 004:7)",
    "statement_needed": "R2 (000:7, 004:7, 002:12, 001:13)",
    "statement_unreadable": "R2 (000:7, 004:7, 002:12, 001:13)",
    "statement_unsure": "R1/R2/R13 (000:7, 004:7, 001:17)",
    "interruption_unexplained": "R3 (000:7, 001:15, 002:13)",
    "overlap": "R1/R13 (000:7, 001:17)",
    "missing_files": "R3/R15 (000:7, 000:31)",
    "late_storage": "R4 (000:26, 004:25, 001:17, 002:22)",
    "media_damaged": "R3 (000:7): an unrecoverable stop is explained in writing",
}


@dataclass(frozen=True)
class Flag:
    kind: str
    clip_id: str
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def article(self) -> str:
        return ARTICLES[self.kind]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "clip_id": self.clip_id, "article": self.article,
                "figures": self.figures}


def statement_flags(clip_id: str, *, name_time: datetime | None, spoken: datetime | None,
                    backend: bool, transcript: str | None, threshold_s: int,
                    alternatives: Sequence[datetime] = (), confidence: float = 1.0,
                    min_confidence: float = 0.8, notes: Sequence[str] = (),
                    no_backend_reason: str = "no speech backend configured") -> list[Flag]:
    """R2 and R1/R13: is there a stated time, and does the camera clock agree with it?

    ``name_time`` is the camera's time at the moment the statement was spoken. The camera
    agrees when any reading the words allow (``spoken`` or an ``alternatives`` one: 两点
    is 02:00 or 14:00) is within ``threshold_s`` — a misheard number that happens to agree
    with the camera is too unlikely to matter. When none agrees, a confident reading is
    clock drift (the smallest difference is reported), an unsure one is a question for a
    person (``statement_unsure``), never a drift figure that may be wrong."""
    if not backend:
        return [Flag("statement_needed", clip_id, {"reason": no_backend_reason})]
    if spoken is None:
        return [Flag("statement_unreadable", clip_id, {"transcript": transcript or ""})]
    if name_time is None:
        return []
    readings = [spoken, *alternatives]
    drifts = sorted(((name_time - reading).total_seconds(), reading) for reading in readings)
    drift, closest = min(drifts, key=lambda item: abs(item[0]))
    if abs(drift) <= threshold_s:
        return []
    if confidence < min_confidence:
        return [Flag("statement_unsure", clip_id, {
            "camera_time": name_time.isoformat(), "spoken_time": spoken.isoformat(),
            "readings": [reading.isoformat() for reading in readings],
            "confidence_pct": round(confidence * 100), "notes": list(notes),
            "transcript": transcript or ""})]
    return [Flag("clock_drift", clip_id, {
        "camera_time": name_time.isoformat(), "spoken_time": closest.isoformat(),
        "drift_s": int(drift), "threshold_s": threshold_s})]


def statement_status(flags: Sequence[Flag], *, spoken: datetime | None, has_camera_time: bool) -> str:
    """One word for the statement check, kept on the analysis event: ``verified`` (the
    camera agrees with the stated time), ``drift``, ``unsure``, ``none`` (no time found),
    ``no_model``, or ``unchecked`` (a stated time but no camera time to compare)."""
    kinds = {flag.kind for flag in flags}
    for kind, status in (("statement_needed", "no_model"), ("statement_unreadable", "none"),
                         ("statement_unsure", "unsure"), ("clock_drift", "drift")):
        if kind in kinds:
            return status
    return "verified" if spoken is not None and has_camera_time else "unchecked"


def clock_ahead_flag(clip_id: str, *, end: datetime, docked_at: datetime,
                     tolerance_s: int) -> list[Flag]:
    """A recording that ends after the camera was docked: the camera clock is ahead."""
    ahead = (end - docked_at).total_seconds()
    if ahead > tolerance_s:
        return [Flag("clock_ahead", clip_id, {"recording_end": end.isoformat(),
                                              "docked_at": docked_at.isoformat(),
                                              "ahead_by_at_least_s": int(ahead)})]
    return []


def media_flags(clip_id: str, problems: Sequence[str]) -> list[Flag]:
    return [Flag("media_damaged", clip_id, {"problems": list(problems)})] if problems else []


@dataclass(frozen=True)
class TimedClip:
    """One clip of a device on the device's own clock."""

    clip_id: str
    start: datetime
    duration_s: float | None
    has_statement: bool
    seq: int | None = None

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.duration_s or 0)


def interruption_flags(clips: Sequence[TimedClip], *, restart_window_s: int,
                       overlap_tolerance_s: int) -> list[Flag]:
    """R3: a clip that starts within ``restart_window_s`` of the previous one's end is a
    restart, and must state why; a clip starting before the previous ended means the
    clock jumped (or two recordings claim the same time)."""
    flags: list[Flag] = []
    ordered = sorted(clips, key=lambda clip: clip.start)
    for previous, current in pairwise(ordered):
        gap = (current.start - previous.end).total_seconds()
        if gap < -overlap_tolerance_s and previous.duration_s is not None:
            flags.append(Flag("overlap", current.clip_id, {
                "previous_clip": previous.clip_id, "previous_end": previous.end.isoformat(),
                "start": current.start.isoformat(), "overlap_s": int(-gap)}))
        elif 0 <= gap <= restart_window_s and not current.has_statement:
            flags.append(Flag("interruption_unexplained", current.clip_id, {
                "previous_clip": previous.clip_id, "gap_s": int(gap)}))
    return flags


def sequence_flags(clips: Sequence[TimedClip]) -> list[Flag]:
    """Files the camera numbered but the station never received: a hash proves a file
    was not changed, only the numbering shows one was left behind."""
    numbered = sorted((clip.seq, clip.clip_id) for clip in clips if clip.seq is not None)
    flags = []
    for (low, _), (high, clip_id) in pairwise(numbered):
        if high - low > 1:
            missing = list(range(low + 1, high))
            flags.append(Flag("missing_files", clip_id, {
                "missing_numbers": missing[:100], "count": len(missing)}))
    return flags


def late_storage_flag(clip_id: str, *, recorded_at: datetime, ingested_at: datetime,
                      rule: DeadlineRule, calendar: WorkdayCalendar,
                      returned_at: datetime | None = None,
                      remote_rule: DeadlineRule | None = None) -> list[Flag]:
    """R4: recorded-at (local, naive) vs ingested-at (same zone) under the unit's rule.
    Footage recorded during remote or continuous work counts from the officer's return
    (``returned_at``) under ``remote_rule`` (1 working day in 004, 2 in 001, 24 h in 002)."""
    remote = returned_at is not None and remote_rule is not None and recorded_at <= returned_at
    if remote:
        assert returned_at is not None and remote_rule is not None
        deadline, applied = storage_deadline(returned_at, remote_rule, calendar), remote_rule
    else:
        deadline, applied = storage_deadline(recorded_at, rule, calendar), rule
    if ingested_at > deadline.due:
        figures = {
            "recorded_at": recorded_at.isoformat(), "ingested_at": ingested_at.isoformat(),
            "due": deadline.due.isoformat(), "rule": str(applied),
            "late_by_s": int((ingested_at - deadline.due).total_seconds()),
            "calendar_published": deadline.published_calendar}
        if remote:
            assert returned_at is not None
            figures["returned_at"] = returned_at.isoformat()
        return [Flag("late_storage", clip_id, figures)]
    return []

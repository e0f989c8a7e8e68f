"""R14 case files at the station: facts from the catalog, the rule from
``retention.case_files``, and the two requests (``case.end``, ``case.close``) that go
through the one door (``casework.service.perform``).

The station's date decides (``casework.retention.today``); a date a clerk attests
(``--on``) is kept as attested, and "on time" is judged on the station's date of the
event that recorded it (DESIGN.md, "Clock").
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from evidence_station.casework.retention import today as station_today
from evidence_station.errors import RefusedError
from evidence_station.identity import Actor
from evidence_station.station import Station

if TYPE_CHECKING:  # the calendar loads when a case is judged (issue 16: `review` starts fast)
    from retention.workdays import WorkdayCalendar
from retention.case_files import (
    FORMED_LATE,
    LATE,
    CaseFacts,
    CaseFileState,
    case_file_state,
    enforcement_end,
    refuse_close,
    refuse_end,
)


def calendar_of(station: Station) -> WorkdayCalendar:
    return _calendar(*_calendar_source(station))


def _calendar_source(station: Station) -> tuple[tuple[Path, ...], tuple[tuple[str, int, int], ...]]:
    """The calendar's directories and the year files in them: an added, changed or
    removed file makes a new calendar (an admin drops next year's schedule in; the web UI
    need not restart)."""
    from retention.workdays import DATA_DIR

    directories = (DATA_DIR, *station.config.analysis.calendar_dirs)
    found = []
    for directory in directories:
        for path in sorted(Path(directory).glob("*.toml")):
            with contextlib.suppress(OSError):
                info = path.stat()
                found.append((str(path), info.st_mtime_ns, info.st_size))
    return directories, tuple(found)


@functools.lru_cache(maxsize=4)
def _calendar(directories: tuple[Path, ...], files: tuple[tuple[str, int, int], ...]) -> WorkdayCalendar:
    """One calendar per set of files, kept with the days it has answered (the review
    queue asks the same weeks for thousands of cases on every view, issue 16)."""
    from retention.workdays import WorkdayCalendar

    return WorkdayCalendar.load(directories)


def local_date(moment: str | None, zone: str) -> date | None:
    """The station-local date of an RFC 3339 time (a camera's time with its offset, or
    an event's UTC time); None when there is none or it does not parse."""
    if not moment:
        return None
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(zone))
    return parsed.astimezone(ZoneInfo(zone)).date()


def case_facts(station: Station, case_number: str | None = None) -> list[CaseFacts]:
    """Every case number with a labelled recording (or a recorded case file), with the day
    of its last labelled recording (the camera's recorded time; the ingest time when the
    camera gave none) and what clerks recorded."""
    zone = station.config.station.timezone
    # the latest instant's local day is the latest local day (one zone): one row a case
    last = {number: local_date(moment, zone) for number, moment in
            station.catalog.case_files.last_recordings(case_number).items()}
    recorded = station.catalog.case_files.case_files()
    if case_number is not None:
        recorded = {k: v for k, v in recorded.items() if k == case_number}
    facts = []
    for number in sorted(set(last) | set(recorded)):
        row = recorded.get(number) or {}
        facts.append(CaseFacts(
            number, last.get(number),
            recorded_end=date.fromisoformat(row["ended_on"]) if row.get("ended_on") else None,
            formed_on=date.fromisoformat(row["formed_on"]) if row.get("formed_on") else None,
            formed_recorded=local_date(row.get("formed_at"), zone)))
    return facts


def case_states(station: Station, *, as_of: date | None = None,
                case_number: str | None = None) -> list[CaseFileState]:
    """R14 state of every case number (or one), as of the station's date.

    Every case's state is kept for the catalog as of its last applied event, the day and
    the calendar: the review queue asks on every view, and at 10^6 clips there are
    thousands of cases (issue 16). Anything that changes a case is a ledger event, which
    the catalog applies with ``applied_seq`` in the same transaction."""
    if not station.catalog.case_files.any_case():
        return []  # no case yet: the working-day calendar is not even read
    day = as_of or station_today(station)
    source = _calendar_source(station)
    key: tuple[Any, ...] | None = None
    if case_number is None:
        key = (str(station.catalog.path), station.catalog.applied_seq, day,
               station.config.station.timezone, source)
        cached = _ALL_STATES.get(key)
        if cached is not None:
            return list(cached)
    calendar = _calendar(*source)
    states = [case_file_state(case, day, calendar.is_workday)
              for case in case_facts(station, case_number)]
    if key is not None:
        _ALL_STATES.clear()  # the latest only: a station's catalog moves on
        _ALL_STATES[key] = tuple(states)
    return states


_ALL_STATES: dict[tuple[Any, ...], tuple[CaseFileState, ...]] = {}


def late_cases(station: Station, as_of: date) -> tuple[tuple[str, str], ...]:
    """R14 for the compliance report (R15): every case whose case file was late as of
    ``as_of`` — not formed by its last day, or formed after it — with that last day."""
    return tuple((state.case_number, state.deadline.isoformat())
                 for state in case_states(station, as_of=as_of)
                 if state.state in (LATE, FORMED_LATE) and state.deadline is not None)


def state_dict(state: CaseFileState) -> dict[str, Any]:
    """A JSON-able row (``case list --json``, the review queue)."""
    return {"case_number": state.case_number, "state": state.state,
            "ended_on": state.ended_on.isoformat() if state.ended_on else None,
            "end_source": state.end_source,
            "deadline": state.deadline.isoformat() if state.deadline else None,
            "day": state.day, "days_left": state.days_left,
            "formed_on": state.formed_on.isoformat() if state.formed_on else None,
            "article": state.article}


def _attested_date(fields: Mapping[str, Any], key: str) -> date:
    value = fields.get(key)
    try:
        return date.fromisoformat(str(value))
    except ValueError as err:
        raise RefusedError(f"`{key}` {value!r} is not a date like 2026-12-03") from err


def _known_case(station: Station, fields: Mapping[str, Any]) -> CaseFacts:
    number = fields.get("case_number")
    if not isinstance(number, str) or not number.strip():
        raise RefusedError("name the case number (案号)")
    facts = case_facts(station, number.strip())
    if not facts or (facts[0].last_recording is None and facts[0].recorded_end is None):
        raise RefusedError(f"no recording is labelled with case number {number.strip()!r}; "
                           "label its recordings first (`label … --case-number`)")
    return facts[0]


def build_case_end(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
    """R14: a clerk records the day the enforcement action ended (else the last labelled
    recording counts)."""
    facts = _known_case(station, fields)
    on = _attested_date(fields, "ended_on")
    today = station_today(station)
    refusal = refuse_end(on, today)
    if refusal:
        raise RefusedError(refusal)
    if facts.formed_on is not None:
        raise RefusedError(f"the case file of {facts.case_number} was already recorded as formed "
                           f"on {facts.formed_on}")
    return {"case_number": facts.case_number, "ended_on": on.isoformat(),
            "last_recording": facts.last_recording.isoformat() if facts.last_recording else None,
            "today": today.isoformat()}


def build_case_close(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
    """R14: "case file formed", with the end and the last day it was judged against."""
    facts = _known_case(station, fields)
    if facts.formed_on is not None:
        raise RefusedError(f"the case file of {facts.case_number} was already recorded as formed "
                           f"on {facts.formed_on}")
    on = _attested_date(fields, "formed_on")
    today = station_today(station)
    ended_on, _ = enforcement_end(facts)
    refusal = refuse_close(on, today, ended_on)
    if refusal:
        raise RefusedError(refusal)
    state = case_file_state(CaseFacts(facts.case_number, facts.last_recording, facts.recorded_end,
                                      on, today), today, calendar_of(station).is_workday)
    return {"case_number": facts.case_number, "formed_on": on.isoformat(),
            "ended_on": ended_on.isoformat() if ended_on else None,
            "end_source": state.end_source,
            "deadline": state.deadline.isoformat() if state.deadline else None,
            "on_time": state.state != "formed_late", "today": today.isoformat()}


def review_items(station: Station, *, as_of: date | None = None) -> list[dict[str, Any]]:
    """R14 cases that need a clerk, shaped like review flags (the review queue shows
    them beside the clips' flags): due soon from day 20, late once the last day passed.
    They are not ledger flags: they are judged afresh on the station's date and vanish
    when `case close` is recorded."""
    items = []
    for state in case_states(station, as_of=as_of):
        if not state.needs_attention:
            continue
        kind = "case_file_late" if state.state == "late" else "case_file_due"
        items.append({
            "flag_id": f"case:{state.case_number}", "clip_id": None, "kind": kind,
            "article": state.article, "state": "open", "case_number": state.case_number,
            "figures": {"ended_on": state.ended_on.isoformat() if state.ended_on else None,
                        "end": state.end_source, "day": state.day,
                        "deadline": state.deadline.isoformat() if state.deadline else None}})
    return items

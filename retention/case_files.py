"""R14: a case file (案卷) is formed within 30 days after the enforcement action ends.

Pure rules: dates in, a state out, each naming the article that made it. The station
gathers the facts (the last labelled recording, a clerk's recorded end, the recorded
"case file formed") and the calendar; these functions only decide.

How the 30 days are counted — read from the articles, not guessed:
- "在行政执法行为终结之日起 30 日内 … 形成相应案卷" (000:26, 004:25; 002:23 the same).
  The text says 日, not 工作日: calendar days. Where the rules mean working days they say
  so (R4, "2 个工作日"), and the Administrative Penalty Law counts only its 2/3/5/7-day
  periods in working days (行政处罚法 第八十五条), so 30 日 stays calendar days.
- The day the action ends is not counted; the count starts the next day (民法典
  第二百零一条: "开始的当日不计入，自下一日开始计算"). Day 30 is ``end + 30 days``.
- When day 30 is a statutory rest day (a weekend or holiday not made a working day), the
  period ends on the first working day after it (民法典 第二百零三条: "期间的最后一日是法定
  休假日的，以法定休假日结束的次日为期间的最后一日"), by the station's working-day calendar.
- A reminder from day 20 (the issue's choice: ten days to act), a flag once the last
  day has passed without "case file formed" recorded.
- On time or late is judged on the station's date of the event that recorded the case
  file as formed, never on the date a person attested (DESIGN.md, "Clock").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

# R14: 000:26, 004:25, 002:23
ARTICLE = "R14 (000:26, 004:25, 002:23)"
PERIOD_DAYS = 30
REMIND_FROM_DAY = 20

# the states a case file can be in, in the order a clerk cares about them
LATE = "late"  # R14: past the last day, no case file recorded
DUE_SOON = "due_soon"  # R14: day 20 or later, still within the period
OPEN = "open"  # within the first 19 days
FORMED = "formed"  # recorded as formed on time
FORMED_LATE = "formed_late"  # recorded as formed, but after the last day
NO_END = "no_end"  # no labelled recording with a time, no recorded end: nothing to count from


@dataclass(frozen=True)
class CaseFacts:
    """What the station knows about one case number."""

    case_number: str
    last_recording: date | None  # station-local date of its last labelled recording
    recorded_end: date | None = None  # the end a clerk recorded (`case end --on`)
    formed_on: date | None = None  # the date the clerk attested (`case close --on`)
    formed_recorded: date | None = None  # the station's date of that event


@dataclass(frozen=True)
class CaseFileState:
    case_number: str
    state: str
    ended_on: date | None
    end_source: str | None  # "recorded" (a clerk's) or "last_recording"
    deadline: date | None
    day: int | None  # days since the end, as of today (day 1 = the day after the end)
    days_left: int | None  # until the last day; negative = days late
    formed_on: date | None
    article: str = ARTICLE

    @property
    def needs_attention(self) -> bool:
        return self.state in (DUE_SOON, LATE)


def enforcement_end(facts: CaseFacts) -> tuple[date | None, str | None]:
    """The end of the enforcement action: the one a clerk recorded, else the day of the
    last recording labelled with the case number (the issue's rule)."""
    if facts.recorded_end is not None:
        return facts.recorded_end, "recorded"
    if facts.last_recording is not None:
        return facts.last_recording, "last_recording"
    return None, None


def last_day(ended_on: date, is_workday: Callable[[date], bool]) -> date:
    """The last day to form the case file: day 30 counted from the day after the end
    (民法典 201), moved to the next working day when it is a rest day (民法典 203)."""
    day = ended_on + timedelta(days=PERIOD_DAYS)
    if not is_workday(day):
        day += timedelta(days=1)
        while not is_workday(day):
            day += timedelta(days=1)
    return day


def case_file_state(facts: CaseFacts, today: date,
                    is_workday: Callable[[date], bool]) -> CaseFileState:
    """R14: where one case number stands on ``today`` (the station's date)."""
    ended_on, source = enforcement_end(facts)
    if ended_on is None:
        state = FORMED if facts.formed_on is not None else NO_END
        return CaseFileState(facts.case_number, state, None, None, None, None, None, facts.formed_on)
    deadline = last_day(ended_on, is_workday)
    day = (today - ended_on).days
    if facts.formed_on is not None:
        judged_on = facts.formed_recorded or facts.formed_on
        state = FORMED if judged_on <= deadline else FORMED_LATE
    elif today > deadline:
        state = LATE
    elif day >= REMIND_FROM_DAY:
        state = DUE_SOON
    else:
        state = OPEN
    return CaseFileState(facts.case_number, state, ended_on, source, deadline, day,
                         (deadline - today).days, facts.formed_on)


def refuse_end(on: date, today: date) -> str | None:
    """Why an attested end date cannot be recorded, or None."""
    if on > today:
        return f"the end of enforcement {on} is after today ({today}); record it when it has happened"
    return None


def refuse_close(on: date, today: date, ended_on: date | None) -> str | None:
    """Why an attested "case file formed" date cannot be recorded, or None."""
    if on > today:
        return f"the case file cannot be formed on {on}, after today ({today})"
    if ended_on is not None and on < ended_on:
        return (f"the case file cannot be formed on {on}, before the enforcement ended "
                f"({ended_on}); record the end first (`case end`) if it ended earlier")
    return None

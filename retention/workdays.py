"""The China working-day calendar, with adjusted workdays (调休).

``chinese-calendar`` (maintained, follows each year's State Council notice) answers for
the years it covers; data files in ``retention/calendar/*.toml`` (or a unit's own
folder) answer for the others and override it. A year neither covers falls back to
Monday–Friday, and every answer says whether it came from a published schedule, so a
deadline computed on a guess is shown as such, never as a fact.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import chinese_calendar

DATA_DIR = Path(__file__).with_name("calendar")


class CalendarError(ValueError):
    """A calendar data file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class YearData:
    year: int
    published: bool
    holidays: frozenset[date]
    workdays: frozenset[date]


def parse_year(text: str, path: Path) -> YearData:
    try:
        raw = tomllib.loads(text)
        year = int(raw["year"])
        days = {key: frozenset(date.fromisoformat(item) for item in raw.get(key, []))
                for key in ("holidays", "workdays")}
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as err:
        raise CalendarError(f"{path}: {err}; expected year = N, holidays = [\"YYYY-MM-DD\", …], "
                            "workdays = […], published = true|false") from err
    for key, values in days.items():
        stray = sorted(str(d) for d in values if d.year != year)
        if stray:
            raise CalendarError(f"{path}: {key} outside {year}: {', '.join(stray)}")
    return YearData(year, bool(raw.get("published", False)), days["holidays"], days["workdays"])


@dataclass
class WorkdayCalendar:
    overrides: dict[int, YearData] = field(default_factory=dict)
    # A day's answer never changes for one calendar: remembered, because chinese_calendar
    # scans its whole holiday table to validate every date (~20 µs), and the R14 review
    # items ask for the same few weeks' days for each of thousands of cases (issue 16).
    _known: dict[date, bool] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def load(cls, directories: Iterable[Path] = (DATA_DIR,)) -> WorkdayCalendar:
        overrides: dict[int, YearData] = {}
        for directory in directories:
            for path in sorted(Path(directory).glob("*.toml")):
                data = parse_year(path.read_text(encoding="utf-8"), path)
                overrides[data.year] = data
        return cls(overrides)

    def is_workday(self, day: date) -> bool:
        known = self._known.get(day)
        if known is None:
            known = self._known[day] = self._is_workday(day)
        return known

    def _is_workday(self, day: date) -> bool:
        data = self.overrides.get(day.year)
        if data is not None:
            if day in data.workdays:
                return True
            return day.weekday() < 5 and day not in data.holidays
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            return day.weekday() < 5

    def is_published(self, year: int) -> bool:
        """Whether working days of ``year`` follow a published schedule (not a guess)."""
        data = self.overrides.get(year)
        if data is not None:
            return data.published
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def end_of_nth_workday_after(self, day: date, count: int) -> date:
        """The ``count``-th working day strictly after ``day``."""
        current, found = day, 0
        while found < count:
            current += timedelta(days=1)
            if self.is_workday(current):
                found += 1
        return current


@dataclass(frozen=True)
class DeadlineRule:
    """R4: footage reaches the station within N working days or N hours of recording."""

    amount: int
    unit: str  # "wd" (working days) | "h" (hours)

    @classmethod
    def parse(cls, text: str) -> DeadlineRule:
        value = text.strip().lower()
        for unit in ("wd", "h"):
            if value.endswith(unit) and value[: -len(unit)].strip().isdigit():
                amount = int(value[: -len(unit)])
                if amount > 0:
                    return cls(amount, unit)
        raise ValueError(f"storage deadline {text!r}: write it as '2wd' (working days) or '24h'")

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


@dataclass(frozen=True)
class Deadline:
    due: datetime  # naive local time
    rule: DeadlineRule
    published_calendar: bool


def storage_deadline(recorded_at: datetime, rule: DeadlineRule,
                     calendar: WorkdayCalendar) -> Deadline:
    """Pure given the calendar: when footage recorded at ``recorded_at`` (local, naive)
    must be on the station. N working days = by the end of the N-th working day after
    the recording day."""
    if rule.unit == "h":
        return Deadline(recorded_at + timedelta(hours=rule.amount), rule, True)
    last = calendar.end_of_nth_workday_after(recorded_at.date(), rule.amount)
    years = range(recorded_at.year, last.year + 1)
    published = all(calendar.is_published(year) for year in years)
    return Deadline(datetime.combine(last, time(23, 59, 59)), rule, published)

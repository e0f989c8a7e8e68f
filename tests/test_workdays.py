"""R4 storage deadlines on the China working-day calendar: weekends, holidays,
adjusted workdays (调休), the 24-hour rule, and years only a data file covers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from retention.workdays import CalendarError, DeadlineRule, WorkdayCalendar, parse_year, storage_deadline

CALENDAR = WorkdayCalendar.load()
TWO_WD, ONE_WD, DAY = DeadlineRule.parse("2wd"), DeadlineRule.parse("1wd"), DeadlineRule.parse("24h")


@pytest.mark.parametrize(("recorded", "rule", "due"), [
    # ordinary week: Tuesday → end of Thursday
    ("2026-11-03 14:30", TWO_WD, "2026-11-05 23:59:59"),
    # across a weekend: Friday → Monday, Tuesday
    ("2026-11-06 16:00", TWO_WD, "2026-11-10 23:59:59"),
    ("2026-11-06 16:00", ONE_WD, "2026-11-09 23:59:59"),
    # recorded on a Saturday
    ("2026-11-07 10:00", TWO_WD, "2026-11-10 23:59:59"),
    # across National Day 2026 (10/1–10/7 off), with 9/27 not a workday and 10/10 (Sat) a 调休 workday
    ("2026-09-30 18:00", TWO_WD, "2026-10-09 23:59:59"),
    ("2026-10-09 09:00", ONE_WD, "2026-10-10 23:59:59"),  # a Saturday that is a working day
    # across the Spring Festival 2026 (2/15–2/23 off; 2/14 and 2/28 are 调休 workdays)
    ("2026-02-13 12:00", ONE_WD, "2026-02-14 23:59:59"),
    ("2026-02-14 12:00", ONE_WD, "2026-02-24 23:59:59"),
    # 24 hours ignores the calendar
    ("2026-10-01 08:00", DAY, "2026-10-02 08:00:00"),
    # into 2027, covered only by the data file (statutory days, no 调休 yet): 2027-01-01 is a holiday
    ("2026-12-31 10:00", ONE_WD, "2027-01-04 23:59:59"),
])
def test_storage_deadline(recorded: str, rule: DeadlineRule, due: str) -> None:
    deadline = storage_deadline(datetime.fromisoformat(recorded), rule, CALENDAR)
    assert deadline.due == datetime.fromisoformat(due)


def test_a_year_without_a_published_schedule_is_marked() -> None:
    assert storage_deadline(datetime(2026, 11, 3, 9), TWO_WD, CALENDAR).published_calendar
    assert not storage_deadline(datetime(2026, 12, 31, 9), TWO_WD, CALENDAR).published_calendar
    assert not CALENDAR.is_published(2031)
    assert CALENDAR.is_workday(datetime(2031, 3, 3).date())  # falls back to Monday–Friday
    # a year neither chinese-calendar nor a data file knows: Monday–Friday, and marked
    late = storage_deadline(datetime(2031, 3, 6, 9), TWO_WD, CALENDAR)  # a Thursday
    assert late.due == datetime(2031, 3, 10, 23, 59, 59) and not late.published_calendar


def test_a_units_data_file_overrides(tmp_path: Path) -> None:
    (tmp_path / "2026.toml").write_text(
        'year = 2026\npublished = true\nholidays = ["2026-11-04"]\nworkdays = ["2026-11-08"]\n')
    calendar = WorkdayCalendar.load([tmp_path])
    assert not calendar.is_workday(datetime(2026, 11, 4).date())
    assert calendar.is_workday(datetime(2026, 11, 8).date())  # a Sunday made a working day
    deadline = storage_deadline(datetime(2026, 11, 3, 9), TWO_WD, calendar)
    assert deadline.due == datetime(2026, 11, 6, 23, 59, 59)


@pytest.mark.parametrize(("text", "message"), [
    ('year = 2026\nholidays = ["2026-13-01"]\n', "month must be"),
    ('holidays = []\n', "'year'"),
    ('year = 2026\nholidays = ["2027-01-01"]\n', "outside 2026"),
])
def test_bad_calendar_file(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        parse_year(text, tmp_path / "bad.toml")


@pytest.mark.parametrize("text", ["2 days", "0wd", "wd", "-1h", ""])
def test_bad_rule(text: str) -> None:
    with pytest.raises(ValueError, match="2wd"):
        DeadlineRule.parse(text)


def test_remote_work_counts_from_the_return() -> None:
    from evidence_station.analysis.rules import late_storage_flag

    recorded = datetime(2026, 11, 2, 10, 0)  # Monday, on a week-long remote inspection
    returned = datetime(2026, 11, 6, 18, 0)  # back on Friday evening
    # stored Monday 11-09: late by the normal 2-working-day rule (due Wed 11-04) ...
    normal = late_storage_flag("c", recorded_at=recorded, ingested_at=datetime(2026, 11, 9, 9),
                               rule=TWO_WD, calendar=CALENDAR)
    assert normal and normal[0].figures["due"] == "2026-11-04T23:59:59"
    # ... but on time under "1 working day after returning" (due Mon 11-09, 004:25)
    assert late_storage_flag("c", recorded_at=recorded, ingested_at=datetime(2026, 11, 9, 9),
                             rule=TWO_WD, calendar=CALENDAR, returned_at=returned,
                             remote_rule=ONE_WD) == []
    late = late_storage_flag("c", recorded_at=recorded, ingested_at=datetime(2026, 11, 10, 9),
                             rule=TWO_WD, calendar=CALENDAR, returned_at=returned, remote_rule=ONE_WD)
    assert late[0].figures["rule"] == "1wd" and late[0].figures["returned_at"] == "2026-11-06T18:00:00"

"""R14 case files: the counting as pure rules (calendar days, the day of the end not
counted, a last day on a rest day moved to the next working day), and the commands:
`case end/close/list`, the review queue, refusals that leave nothing behind, roles."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from evidence_station.cli import main
from evidence_station.clock import FixedClock
from evidence_station.demo import make_demo_camera
from retention.case_files import (
    DUE_SOON,
    FORMED,
    FORMED_LATE,
    LATE,
    NO_END,
    OPEN,
    CaseFacts,
    case_file_state,
    last_day,
    refuse_close,
    refuse_end,
)
from retention.workdays import WorkdayCalendar
from tests.accounts import run_as


def weekdays(day: date) -> bool:
    """A calendar with weekends only, so the rules are tested apart from holiday data."""
    return day.weekday() < 5


def test_thirty_calendar_days_from_the_day_after_the_end() -> None:
    # Tuesday 2026-11-03 ends; day 1 is 11-04; day 30 is Thursday 12-03
    assert last_day(date(2026, 11, 3), weekdays) == date(2026, 12, 3)
    # day 30 a Saturday or a Sunday → the next working day, Monday 11-30 (民法典 203)
    assert date(2026, 11, 30).weekday() == 0 and date(2026, 11, 28).weekday() == 5
    assert last_day(date(2026, 10, 29), weekdays) == date(2026, 11, 30)  # day 30 = Sat 11-28
    assert last_day(date(2026, 10, 30), weekdays) == date(2026, 11, 30)  # day 30 = Sun 11-29
    assert last_day(date(2026, 10, 31), weekdays) == date(2026, 11, 30)  # day 30 = Mon itself


def test_a_last_day_in_the_national_day_holiday_moves_past_it() -> None:
    calendar = WorkdayCalendar.load()
    # day 30 after 2025-09-01 is 2025-10-01; the holiday runs to 10-08 → 10-09
    assert last_day(date(2025, 9, 1), calendar.is_workday) == date(2025, 10, 9)
    # a working weekend day (调休 Saturday 2025-10-11) is a working day: no move
    assert last_day(date(2025, 9, 11), calendar.is_workday) == date(2025, 10, 11)


@pytest.mark.parametrize(("today", "state", "day", "left"), [
    (date(2026, 11, 4), OPEN, 1, 29),
    (date(2026, 11, 22), OPEN, 19, 11),
    (date(2026, 11, 23), DUE_SOON, 20, 10),  # the reminder starts on day 20
    (date(2026, 12, 3), DUE_SOON, 30, 0),  # the last day itself is still in time
    (date(2026, 12, 4), LATE, 31, -1),  # the flag: after day 30
])
def test_reminder_from_day_20_and_flag_after_the_last_day(today: date, state: str, day: int,
                                                          left: int) -> None:
    result = case_file_state(CaseFacts("A-1", date(2026, 11, 3)), today, weekdays)
    assert (result.state, result.day, result.days_left) == (state, day, left)
    assert result.needs_attention == (state in (DUE_SOON, LATE))
    assert result.article.startswith("R14") and result.end_source == "last_recording"


def test_a_recorded_end_wins_over_the_last_recording() -> None:
    facts = CaseFacts("A-1", last_recording=date(2026, 11, 3), recorded_end=date(2026, 11, 20))
    result = case_file_state(facts, date(2026, 12, 10), weekdays)
    assert (result.ended_on, result.end_source, result.state) == (date(2026, 11, 20), "recorded", DUE_SOON)


def test_formed_is_judged_on_the_station_date_of_the_record_not_the_attested_date() -> None:
    base = CaseFacts("A-1", date(2026, 11, 3), formed_on=date(2026, 12, 1))
    on_time = CaseFacts(**{**base.__dict__, "formed_recorded": date(2026, 12, 3)})
    late = CaseFacts(**{**base.__dict__, "formed_recorded": date(2026, 12, 4)})
    assert case_file_state(on_time, date(2027, 1, 1), weekdays).state == FORMED
    assert case_file_state(late, date(2027, 1, 1), weekdays).state == FORMED_LATE
    assert case_file_state(CaseFacts("B", None), date(2027, 1, 1), weekdays).state == NO_END


def test_attested_dates_are_refused_in_the_future_or_before_the_end() -> None:
    today = date(2026, 12, 3)
    assert refuse_end(date(2026, 12, 4), today) and refuse_end(today, today) is None
    assert refuse_close(date(2026, 12, 4), today, date(2026, 11, 3))
    assert "before the enforcement ended" in str(refuse_close(date(2026, 11, 2), today, date(2026, 11, 3)))
    assert refuse_close(date(2026, 11, 3), today, date(2026, 11, 3)) is None


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def station(tmp_path: Path, capsys: pytest.CaptureFixture[str],
            monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Run, FixedClock]:
    data = tmp_path / "data"
    recorded = datetime(2026, 11, 3, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    clock = FixedClock(recorded + timedelta(hours=5))

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(["--data-dir", str(data), "--lang", "en", *args], clock=clock)
        out, err = capsys.readouterr()
        return code, out, err

    camera = make_demo_camera(tmp_path / "cam", count=2, seconds=0.5, start=recorded)
    assert run("init", "--station", "cases")[0] == 0
    assert run("ingest", str(camera))[0] == 0
    ids = [c["id"] for c in json.loads(run("clips", "--json")[1])]
    for name, role in (("li", "clerk"), ("zhou", "officer"), ("sun", "auditor")):
        extra = ["--officer-id", "010203"] if role == "officer" else []
        assert run("user", "add", name, "--role", role, "--password-stdin", *extra,
                   stdin="correct horse battery\n")[0] == 0
    assert run("label", *ids, "--case-number", "A-1", "--party", "张三", "--handler", "李四")[0] == 0
    return data, run, clock


def _ledger_size(data: Path) -> int:
    return (data / "ledger" / "events.jsonl").read_text().count("\n")


def test_case_commands_review_queue_and_refusals(station: tuple[Path, Run, FixedClock]) -> None:
    data, run, clock = station
    rows = json.loads(run("case", "list", "--json")[1])
    # the demo clips were recorded on 2026-11-03 (Beijing): that is the end by default
    assert rows == [{"case_number": "A-1", "state": "open", "ended_on": "2026-11-03",
                     "end_source": "last_recording", "deadline": "2026-12-03", "day": 0,
                     "days_left": 30, "formed_on": None, "article": "R14 (000:26, 004:25, 002:23)"}]
    assert not [r for r in json.loads(run("review", "--json")[1]) if r["kind"].startswith("case_file")]

    clock.set(datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))  # day 20
    due = [r for r in json.loads(run("review", "--json")[1]) if r["kind"].startswith("case_file")]
    assert [(r["kind"], r["case_number"], r["figures"]["day"]) for r in due] == [("case_file_due", "A-1", 20)]
    code, out, _ = run("review")
    assert "case file due soon" in out and "A-1" in out

    # refusals leave nothing behind: unknown case, bad date, future date, wrong role
    before = _ledger_size(data)
    assert run("case", "end", "NO-SUCH", "--on", "2026-11-05")[0] == 2
    assert run("case", "end", "A-1", "--on", "5 Nov")[0] == 2
    assert run("case", "end", "A-1", "--on", "2026-11-24")[0] == 2
    assert run("case", "close", "A-1", "--on", "2026-11-02")[0] == 2  # before the end
    code, out, err = run_as(data, "zhou", "case", "close", "A-1", "--on", "2026-11-20", clock=clock)
    assert code != 0 and "may not casefile" in err
    code, out, err = run_as(data, "sun", "case", "end", "A-1", "--on", "2026-11-20", clock=clock)
    assert code != 0
    assert _ledger_size(data) == before

    # a clerk records the end later than the last recording: the count starts again
    code, out, err = run_as(data, "li", "case", "end", "A-1", "--on", "2026-11-10", clock=clock)
    assert code == 0 and "last day 2026-12-10" in out, out + err
    assert json.loads(run("case", "list", "--json")[1])[0]["state"] == "open"  # day 13

    clock.set(datetime(2026, 12, 11, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))  # day 31
    late = [r for r in json.loads(run("review", "--json")[1]) if r["kind"].startswith("case_file")]
    assert [r["kind"] for r in late] == ["case_file_late"]
    code, out, err = run_as(data, "li", "case", "close", "A-1", "--on", "2026-12-09", clock=clock)
    assert code == 0 and "after the last day 2026-12-10" in out, out + err  # recorded on 12-11
    event = json.loads((data / "ledger" / "events.jsonl").read_text().splitlines()[-1])
    assert (event["type"], event["actor"], event["formed_on"], event["on_time"]) == \
        ("case.close", "li", "2026-12-09", False)
    assert json.loads(run("case", "list", "--json")[1])[0]["state"] == "formed_late"
    assert not [r for r in json.loads(run("review", "--json")[1]) if r["kind"].startswith("case_file")]
    assert run("case", "close", "A-1", "--on", "2026-12-10")[0] == 2  # once
    assert json.loads(run("case", "list", "--json", "--open")[1]) == []
    code, out, _ = run("--lang", "zh", "case", "list")
    assert "已形成（逾期）" in out

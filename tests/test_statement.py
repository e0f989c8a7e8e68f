"""The spoken-statement time parser, table-tested on Chinese and English phrasings,
including the ways a speech recogniser writes them."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from evidence_station.analysis.statement import normalise, parse_statement

ON = date(2026, 11, 3)  # the recording's own date

PHRASINGS = [
    # Chinese: numerals, digits, mixed, periods of the day, 半/刻/整, relative days
    ("二〇二六年十一月三日下午两点三十分", "2026-11-03T14:30:00"),
    ("2026年11月3日14时30分", "2026-11-03T14:30:00"),
    ("今天是11月3号下午两点半", "2026-11-03T14:30:00"),
    ("现在时间十四点零五分", "2026-11-03T14:05:00"),
    ("现在是二〇二六年十一月三日上午九点十五分，地点人民路", "2026-11-03T09:15:00"),
    ("现在是2026年11月3日上午9点", "2026-11-03T09:00:00"),
    ("现在时间是早上八点整", "2026-11-03T08:00:00"),
    ("今天是十一月三日，晚上七点四十分，我们在执法现场", "2026-11-03T19:40:00"),
    ("现在是凌晨一点二十分", "2026-11-03T01:20:00"),
    ("中午十二点半", "2026-11-03T12:30:00"),
    ("中午一点", "2026-11-03T13:00:00"),
    ("下午三点一刻", "2026-11-03T15:15:00"),
    ("下午三点三刻", "2026-11-03T15:45:00"),
    ("傍晚六点", "2026-11-03T18:00:00"),
    ("二〇二六年十一月三日十四时三十分二十秒", "2026-11-03T14:30:20"),
    ("２０２６年１１月３日　１４：３０", "2026-11-03T14:30:00"),  # full-width
    ("26年11月3日下午2点30分", "2026-11-03T14:30:00"),  # two-digit year
    ("11月2号晚上十点", "2026-11-02T22:00:00"),
    ("昨天晚上十一点五十分", "2026-11-02T23:50:00"),
    ("今天下午两点", "2026-11-03T14:00:00"),
    ("我是执法人员，警号010203，现在是下午2点", "2026-11-03T14:00:00"),
    ("二零二六年十一月三号下午两点零五分", "2026-11-03T14:05:00"),
    ("现在时间 14:30，地点：中山路", "2026-11-03T14:30:00"),
    ("十一月三日 上午 十点", "2026-11-03T10:00:00"),
    ("现在是夜里十一点", "2026-11-03T23:00:00"),
    ("2026年12月31日23点59分", "2026-12-31T23:59:00"),
    # English, as people say it and as Whisper writes it
    ("November 3rd 2026 at 2:30 pm", "2026-11-03T14:30:00"),
    ("Today is November 3, 2026. The time is 2.30pm, location main street.", "2026-11-03T14:30:00"),
    ("The time is 1430 hours", "2026-11-03T14:30:00"),
    # Whisper writes "twenty twenty six" as "2020 6" (seen in CI): the year is joined back
    ("Today is November 3rd, 2020 6. The time is 1400 hours.", "2026-11-03T14:00:00"),
    ("It is 14:30 on 3 November 2026", "2026-11-03T14:30:00"),
    ("the 3rd of November, two thirty p.m.", "2026-11-03T14:30:00"),
    ("Now it's 9 a.m.", "2026-11-03T09:00:00"),
    ("it is ten o'clock in the morning", "2026-11-03T10:00:00"),
    ("It is half past two in the afternoon", "2026-11-03T14:30:00"),
    ("quarter past nine in the evening", "2026-11-03T21:15:00"),
    ("Date 2026-11-03, time 08:05", "2026-11-03T08:05:00"),
    ("Nov. 3, 2026, 11:45 a.m.", "2026-11-03T11:45:00"),
    ("Tuesday November the third twenty twenty six, 2 30 pm", "2026-11-03T14:30:00"),
    ("today is november third, the time is three o'clock", "2026-11-03T03:00:00"),
    ("recording started at 12:00 a.m.", "2026-11-03T00:00:00"),
    ("12 pm", "2026-11-03T12:00:00"),
    ("Sept 30 2026 6:10 pm", "2026-09-30T18:10:00"),
]


@pytest.mark.parametrize(("text", "expected"), PHRASINGS, ids=[p[0][:40] for p in PHRASINGS])
def test_statement_phrasings(text: str, expected: str) -> None:
    stated = parse_statement(text, ON)
    assert stated is not None, f"no time found in {text!r}"
    assert stated.when == datetime.fromisoformat(expected)


def test_at_least_forty_phrasings() -> None:
    assert len(PHRASINGS) >= 40


@pytest.mark.parametrize("text", [
    "", "执法记录仪开始录像", "地点：人民路与中山路交叉口", "this is officer Li on patrol",
    "November 3rd 2026",  # a date alone is not a time
    "现在是二〇二六年十一月三日",
    "25点70分",  # impossible time
])
def test_unparseable_says_so(text: str) -> None:
    assert parse_statement(text, ON) is None


def test_missing_date_comes_from_the_recording() -> None:
    stated = parse_statement("下午两点", date(2027, 1, 4))
    assert stated is not None and stated.when == datetime(2027, 1, 4, 14, 0) and not stated.has_date


def test_normalise() -> None:
    assert normalise("二〇二六年十一月三日") == "2026年11月3日"
    assert normalise("十四点零五分") == "14点05分"
    assert normalise("二十三点五十九分") == "23点59分"
    assert normalise("ＡＢＣ　１２") == "abc 12"

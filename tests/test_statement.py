"""The spoken-statement time parser, table-tested on Chinese and English phrasings,
including the ways a speech recogniser writes them."""

from __future__ import annotations

from datetime import date, datetime, timedelta

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


# -- what a speech recogniser really writes (Whisper base on Mandarin, measured here) -------
ASR_WRITTEN = [
    # (transcript, expected time, confident?)
    ("現在是天,下午兩點我是法人員", "2026-11-03T14:00:00", True),  # traditional characters
    ("現在是下午兩點三十分", "2026-11-03T14:30:00", True),
    ("现在是2026年11月3日下午2点30分", "2026-11-03T14:30:00", True),
    ("现在是下午两点30分", "2026-11-03T14:30:00", True),  # numerals and digits mixed
    ("现在是下午二点半", "2026-11-03T14:30:00", True),  # 二 for 两
    ("现在是晚上八點", "2026-11-03T20:00:00", True),
    ("现在时间十四时五分", "2026-11-03T14:05:00", True),  # 零 dropped, 时 for 点
    ("现在是二零二六年十一月三日上午九点十五分", "2026-11-03T09:15:00", True),  # year digit by digit
    ("现在是两千零二十六年十一月三日十四点零五", "2026-11-03T14:05:00", True),
    ("现在是20 26年11月3日晚上八点", "2026-11-03T20:00:00", True),  # a year cut in two
    # homophones for the unit words: read, but not trusted
    ("现在是下午兩天三十分", "2026-11-03T14:30:00", False),  # 天 for 点
    ("现在是天,上午十点领五分", "2026-11-03T10:05:00", False),  # 领 for 零
    ("现在是下午3点30份", "2026-11-03T15:30:00", False),  # 份 for 分
    # 十一月 heard as 是一月: a date months away is a misreading until a person checks
    ("現在是二零二六年是一月三日下午兩點三十分", "2026-01-03T14:30:00", False),
    # minutes garbled after a bare 点 (十三分 heard as 是山沸; 三十分 as 餐): not trusted
    ("现在是下午四点 是山沸地", "2026-11-03T16:00:00", False),
    ("天才是天下午五點餐吃飯", "2026-11-03T17:00:00", False),
    ("现在时间，下午两点。我是执法人员", "2026-11-03T14:00:00", True),
    # 点 written as a decimal point, and Chinese read by the English patterns: loose
    ("现在是9.25分,开始执法记录", "2026-11-03T09:25:00", False),
    ("现在是 2.30pm,开始执法记录", "2026-11-03T14:30:00", False),
    # two different times in one statement: one of them was misheard
    ("现在是上午9点30分。 下午9点30分。", "2026-11-03T09:30:00", False),
]


@pytest.mark.parametrize(("text", "expected", "confident"), ASR_WRITTEN, ids=[a[0][:30] for a in ASR_WRITTEN])
def test_what_asr_writes(text: str, expected: str, confident: bool) -> None:
    stated = parse_statement(text, ON)
    assert stated is not None, text
    assert stated.when == datetime.fromisoformat(expected)
    assert (stated.confidence >= 0.8) is confident, stated


@pytest.mark.parametrize("text", [
    "现在是下午认天派,开始录。",  # the numbers were lost: no statement, not a guess
    "今天天气很好",  # 天 after 今 is not a homophone of 点
    "语音说明了日期、时间、地点和执法人员。",
])
def test_asr_text_without_a_time(text: str) -> None:
    assert parse_statement(text, ON) is None


def test_hour_without_period_has_both_readings() -> None:
    stated = parse_statement("现在时间两点半", ON)
    assert stated is not None and stated.when == datetime(2026, 11, 3, 2, 30)
    assert stated.alternatives == (datetime(2026, 11, 3, 14, 30),)
    assert parse_statement("下午两点半", ON).alternatives == ()  # type: ignore[union-attr]
    assert parse_statement("十四点三十分", ON).alternatives == ()  # type: ignore[union-attr]


def test_a_misheard_date_keeps_the_time_on_the_recording_date() -> None:
    stated = parse_statement("是一月三日下午两点", ON)
    assert stated is not None and stated.confidence < 0.8
    assert datetime(2026, 11, 3, 14, 0) in stated.readings


# -- the rule: drift only from a confident reading that no reading can explain -----------
def _flags(spoken: datetime, *, camera: datetime, confidence: float = 1.0,
           alternatives: tuple[datetime, ...] = ()) -> list[str]:
    from evidence_station.analysis.rules import statement_flags

    return [flag.kind for flag in statement_flags(
        "c", name_time=camera, spoken=spoken, backend=True, transcript="t", threshold_s=120,
        alternatives=alternatives, confidence=confidence, min_confidence=0.8)]


def test_statement_rule_verified_drift_unsure() -> None:
    two, fourteen = datetime(2026, 11, 3, 2, 0), datetime(2026, 11, 3, 14, 0)
    assert _flags(fourteen, camera=fourteen) == []
    assert _flags(fourteen, camera=fourteen + timedelta(minutes=30)) == ["clock_drift"]
    # 两点 with no 上午/下午: the camera agrees with one reading
    assert _flags(two, camera=fourteen, alternatives=(fourteen,)) == []
    # unsure reading that disagrees: a question, not a drift
    assert _flags(fourteen, camera=fourteen + timedelta(hours=3), confidence=0.7) == ["statement_unsure"]
    # unsure reading that agrees: the camera confirms it
    assert _flags(fourteen, camera=fourteen, confidence=0.7) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("It's 11-0-0 PM on the 3rd of November", "2026-11-03T12:00:00"),  # the "0 PM" of 11:00 pm
    ("It is 2 0 2 p.m. on the third", "2026-11-03T14:00:00"),  # 2:02 pm broken up
    ("It is 2011 PM on the 3rd of November", "2026-11-03T20:11:00"),  # 24-hour figure and pm
])
def test_english_numbers_broken_up_are_unsure(text: str, expected: str) -> None:
    stated = parse_statement(text, ON)
    assert stated is not None and stated.when == datetime.fromisoformat(expected)
    assert stated.confidence < 0.8 and "minutes_unclear" in stated.notes


def test_english_figure_with_pm_that_agrees_is_confident() -> None:
    stated = parse_statement("The time is 1241 PM location, Main Street.", ON)
    assert stated is not None and stated.when == datetime(2026, 11, 3, 12, 41) and stated.confidence == 1.0

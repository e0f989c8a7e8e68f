"""Read the time an officer states at the start of a recording (语音说明, R2).

Officers say things like 二〇二六年十一月三日下午两点三十分 or "today is November 3rd,
2:30 pm". Speech recognisers write these in many ways — Chinese numerals or digits,
traditional characters (現在是下午兩點), "2.30pm", "1430", homophones for the words
around numbers (兩天三十分 for 两点三十分), a wrong year — so the parser normalises first
(traditional → simplified for the words it reads, numerals to digits, full-width to
ASCII) and then looks for a date and a time of day separately, each optional except the
time. Missing parts come from the recording's own date (``on``).

A reading carries a confidence and its plausible alternatives (两点 without 上午/下午 is
02:00 or 14:00): R1/R13 drift is flagged only when the reading is confident and every
alternative disagrees with the camera; otherwise the clip is "unsure" for a person to
check — a wrong drift in the ledger is worse than a question.
Pure functions only: text in, :class:`StatedTime` or ``None`` out.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

_DIGITS = {"〇": 0, "零": 0, "○": 0, "Ｏ": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
           "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMERAL_RUN = re.compile(r"[〇零○一二两三四五六七八九十百千]+")
# Whisper writes Mandarin in traditional characters as often as not: the characters the
# parser reads, traditional → simplified (a table, not a converter: only these matter).
_SIMPLIFIED = str.maketrans({
    "點": "点", "時": "时", "兩": "两", "號": "号", "現": "现", "間": "间", "鐘": "钟",
    "週": "周", "後": "后", "裡": "里", "裏": "里", "個": "个", "貳": "二", "參": "三",
    "陸": "六", "拾": "十", "佰": "百", "仟": "千", "晝": "昼",
})
# Homophones the model writes for the unit words around numbers, accepted only between
# numbers (so 今天 stays 今天) and costing confidence. "天" for 点 is the commonest.
_HOMOPHONE_HOUR = re.compile(r"(\d)\s*[天店典电殿垫淀甸](?=\s*(?:\d|半|整|钟))")
_HOMOPHONE_MINUTE = re.compile(r"(点\s*\d{1,2})\s*[份芬粉纷]")
_HOMOPHONE_ZERO = re.compile(r"(点)\s*[领林玲令灵铃龄](?=\s*\d\s*分)")
# A year said digit by digit and cut by the recogniser: "20 26年", "二〇 二六年".
_SPLIT_YEAR_ZH = re.compile(r"(?<!\d)(\d{2})\s+(\d{2})(?=\s*年)")
# What may follow a time that ends on a bare 点 or a bare number ("下午四点", "两点三"):
# the end, punctuation, 整/钟, or a word that starts the next part of a statement. Anything
# else (下午四点 是山沸 for 下午四点十三分; 五點餐 for 五点三十分) may be minutes the
# recogniser garbled, so the reading is unsure.
_CLEAN_END = re.compile(r"\s*(?:$|[,.;:!?，。；：！？、…]|[整钟正]|我|地点|地址|开始|在|现在|今天|执法|警号)")
_DOT_FOR_DIAN = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})(?=\s*分)")
HOMOPHONE_CONFIDENCE = 0.7
LOOSE_CONFIDENCE = 0.6
CONFLICT_CONFIDENCE = 0.4
DATE_DIFFERS_CONFIDENCE = 0.6


def _chinese_number(run: str) -> str:
    """二〇二六 → 2026 (digit by digit); 二十三 → 23, 十 → 10, 五十九 → 59, 两千零二十六 →
    2026 (positional)."""
    if not any(unit in run for unit in "十百千"):
        return "".join(str(_DIGITS[ch]) for ch in run)
    total, current = 0, 0
    for ch in run:
        if ch == "千":
            total += (current or 1) * 1000
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _DIGITS[ch]
    value = total + current
    # 零五分 after a positional number keeps two digits ("十四点零五分" → 14点05分)
    return str(value)


def normalise(text: str) -> str:
    """Full-width → ASCII, traditional → simplified (the words read here), Chinese
    numerals → digits, lower-case, single spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_SIMPLIFIED)
    text = _NUMERAL_RUN.sub(lambda m: _chinese_number(m.group()), text)
    text = _SPLIT_YEAR_ZH.sub(r"\1\2", text)
    return re.sub(r"\s+", " ", text).strip().lower()


def _fix_homophones(text: str) -> tuple[str, int]:
    """两天三十分 → 2点30分: unit-word homophones between numbers; how many were fixed."""
    text, hours = _HOMOPHONE_HOUR.subn(r"\1点", text)
    text, minutes = _HOMOPHONE_MINUTE.subn(r"\1分", text)
    text, zeros = _HOMOPHONE_ZERO.subn(r"\g<1>0", text)
    text, dots = _DOT_FOR_DIAN.subn(r"\1点\2", text)  # 9.25分: 点 written as a decimal point
    return text, hours + minutes + zeros + dots


@dataclass(frozen=True)
class StatedTime:
    when: datetime  # naive, in the recording's local zone
    has_date: bool
    matched: str  # the words the time was read from
    #: 1.0 read as written; lower when the reading needed guesses (see ``notes``)
    confidence: float = 1.0
    #: other readings the words allow (两点 without 上午/下午: 02:00 and 14:00)
    alternatives: tuple[datetime, ...] = ()
    #: why the confidence is lower: "homophone", "conflict", "date_differs"
    notes: tuple[str, ...] = ()

    def isoformat(self) -> str:
        return self.when.isoformat()

    @property
    def readings(self) -> tuple[datetime, ...]:
        return (self.when, *self.alternatives)


# -- Chinese --------------------------------------------------------------------------
_ZH_DATE = re.compile(r"(?:(?P<year>\d{2,4})\s*年\s*)?(?P<month>\d{1,2})\s*月\s*(?P<day>\d{1,2})\s*[日号號]")
_ZH_RELATIVE = {"今天": 0, "今日": 0, "昨天": -1, "昨日": -1}
_ZH_PERIOD = r"(?P<period>凌晨|早上|早晨|清晨|上午|中午|下午|傍晚|晚上|夜里|夜间|夜晚|半夜)?"
_ZH_TIME = re.compile(
    _ZH_PERIOD + r"\s*(?P<hour>\d{1,2})\s*(?:点|點|时|時|:)\s*"
    r"(?:(?P<half>半)|(?P<quarter>[13])刻|(?P<minute>\d{1,2})\s*分?|整)?"
    r"(?:\s*(?P<second>\d{1,2})\s*秒)?")

# -- English --------------------------------------------------------------------------
_MONTHS = {name: index + 1 for index, name in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"])}
_MONTHS.update({name[:3]: number for name, number in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
             "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12,
             "thirteenth": 13, "fourteenth": 14, "fifteenth": 15, "sixteenth": 16,
             "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20,
             "thirtieth": 30}
_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
          "twenty": 20, "thirty": 30, "forty": 40, "forty-five": 45, "fifty": 50}
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_EN_DATES = [
    re.compile(rf"\b(?P<month>{_MONTH_NAMES})\.?\s+(?:the\s+)?{_DAY}\b,?(?:\s+(?P<year>\d{{4}}))?"),
    re.compile(rf"\b(?:the\s+)?{_DAY}\s+(?:of\s+)?(?P<month>{_MONTH_NAMES})\b,?(?:\s+(?P<year>\d{{4}}))?"),
    re.compile(r"\b(?P<year>\d{4})[-/.](?P<month>\d{1,2})[-/.](?P<day>\d{1,2})\b"),
]
_AMPM = r"(?P<ampm>a\.?\s?m\.?|p\.?\s?m\.?)"
_EN_TIMES = [
    re.compile(r"\b(?P<hour>\d{1,2})\s?[:.]\s?(?P<minute>\d{2})(?::(?P<second>\d{2}))?\s*" + _AMPM + "?"),
    re.compile(r"\b(?P<hour>\d{1,2})\s+(?P<minute>\d{2})\s*" + _AMPM),
    re.compile(r"\b(?P<hour>\d{1,2})\s*(?:o'?clock\s*)?" + _AMPM),
    re.compile(r"\b(?P<hour>\d{1,2})\s*o'?clock"),
    # "1430", "1430 hours": four digits that cannot be a year of a statement
    re.compile(r"\b(?P<hhmm>(?:[01]\d|2[0-3])[0-5]\d)\b(?:\s*(?:hours|hrs|h)\b)?"),
]
_EN_PERIOD = re.compile(r"\b(?P<period>in the morning|in the afternoon|in the evening|at night|tonight)\b")


def _words_to_digits(text: str) -> str:
    text = re.sub(r"\b(" + "|".join(_ORDINALS) + r")\b", lambda m: str(_ORDINALS[m.group()]), text)
    # "two thirty" → "2:30", "half past two" → "2:30", "quarter past/to"
    words = "|".join(sorted(_WORDS, key=len, reverse=True))
    text = re.sub(rf"\bhalf past ({words}|\d{{1,2}})\b",
                  lambda m: f"{_WORDS.get(m.group(1), m.group(1))}:30", text)
    text = re.sub(rf"\bquarter past ({words}|\d{{1,2}})\b",
                  lambda m: f"{_WORDS.get(m.group(1), m.group(1))}:15", text)
    text = re.sub(rf"\b({words})[ -]({words}|o'?clock)\b",
                  lambda m: _pair(m.group(1), m.group(2)), text)
    return re.sub(rf"\b({words})\b(?=\s*(?:a\.?m|p\.?m|o'?clock))",
                  lambda m: str(_WORDS[m.group(1)]), text)


def _pair(first: str, second: str) -> str:
    hour = _WORDS[first]
    if second.startswith("o"):
        return f"{hour} o'clock"
    if hour <= 12 and _WORDS[second] >= 10:
        return f"{hour}:{_WORDS[second]:02d}"
    return f"{first} {second}"


def _year(raw: str | None, on: date) -> int:
    if not raw:
        return on.year
    value = int(raw)
    return 2000 + value if value < 100 else value


_PERIODS_PM = ("下午", "傍晚", "晚上", "夜里", "夜间", "夜晚", "pm", "in the afternoon", "in the evening",
               "at night", "tonight")
_PERIODS_AM = ("凌晨", "半夜", "am", "in the morning", "上午", "早上", "早晨", "清晨")


def _apply_period(hour: int, period: str | None) -> int:
    if period in _PERIODS_PM and hour < 12:
        return hour + 12
    if period == "中午" and hour < 6:
        return hour + 12
    if period in _PERIODS_AM and hour == 12:
        return 0
    return hour


def _other_half_of_day(when: datetime, hour_said: int, period: str | None) -> tuple[datetime, ...]:
    """两点 with no 上午/下午 (or am/pm) is also 14:00; 14点 and 下午两点 are not ambiguous."""
    if period or hour_said > 12 or hour_said == 0:
        return ()
    return (when + timedelta(hours=12),) if hour_said < 12 else (when - timedelta(hours=12),)


def _confidence(notes: list[str]) -> float:
    value = 1.0
    for note in notes:
        value *= {"homophone": HOMOPHONE_CONFIDENCE, "conflict": CONFLICT_CONFIDENCE,
                  "date_differs": DATE_DIFFERS_CONFIDENCE, "minutes_unclear": LOOSE_CONFIDENCE,
                  "loose": LOOSE_CONFIDENCE}.get(note, 1.0)
    return round(value, 3)


def _zh(text: str, on: date) -> StatedTime | None:
    text, homophones = _fix_homophones(text)
    day = on
    has_date = False
    date_match = _ZH_DATE.search(text)
    if date_match:
        try:
            day = date(_year(date_match.group("year"), on), int(date_match.group("month")),
                       int(date_match.group("day")))
            has_date = True
        except ValueError:
            date_match = None
    else:
        for word, offset in _ZH_RELATIVE.items():
            if word in text:
                day, has_date = on + timedelta(days=offset), True
                break
    start = date_match.end() if date_match else 0
    readings: list[tuple[datetime, tuple[datetime, ...], str, bool]] = []
    for time_match in _ZH_TIME.finditer(text, start):
        said = int(time_match.group("hour"))
        if said > 24:
            continue
        minute = 30 if time_match.group("half") else 15 * int(time_match.group("quarter")) \
            if time_match.group("quarter") else int(time_match.group("minute") or 0)
        second = int(time_match.group("second") or 0)
        period = time_match.group("period")
        hour = _apply_period(said, period)
        if minute > 59 or second > 59:
            continue
        when = datetime.combine(day, datetime.min.time()) + timedelta(hours=hour, minutes=minute,
                                                                       seconds=second)
        matched = text[date_match.start() if date_match else time_match.start():time_match.end()]
        clean = bool(re.search(r"[分半整钟刻秒]$", time_match.group())) or \
            _CLEAN_END.match(text, time_match.end()) is not None
        readings.append((when, _other_half_of_day(when, said, period), matched, clean))
    if not readings:
        return None
    when, alternatives, matched, clean = readings[0]
    notes = []
    if homophones:
        notes.append("homophone")
    if not clean:
        notes.append("minutes_unclear")
    # two different times in one statement: the recogniser misheard one of them (R2
    # statements state one time); a repeat of the same time is only a repeat.
    if any(other not in (when, *alternatives) for other, _, _, _ in readings[1:]):
        notes.append("conflict")
    if has_date and date_match and abs((day - on).days) > 1:
        # 十一月 heard as 是一月: the date is the likeliest misreading; the same time on
        # the recording's own date stays a possible reading.
        notes.append("date_differs")
        alternatives = (*alternatives, *(_on_day(reading, on) for reading in (when, *alternatives)))
    return StatedTime(when, has_date, matched, _confidence(notes), alternatives, tuple(notes))


def _on_day(when: datetime, on: date) -> datetime:
    return datetime.combine(on, when.time())


# ASR writes a year spoken as "twenty twenty six" as "2020 6" / "2020, 6": join it back.
_SPLIT_YEAR = re.compile(r"\b(20[0-9])0,?\s+([1-9])\b(?![:.]?\d)")


def _en(text: str, on: date) -> StatedTime | None:
    text = _SPLIT_YEAR.sub(lambda m: f"{m.group(1)}{m.group(2)}", _words_to_digits(text))
    day, has_date, date_span = on, False, (0, 0)
    for pattern in _EN_DATES:
        match = pattern.search(text)
        if match is None:
            continue
        month = match.group("month")
        month_number = _MONTHS[month] if month in _MONTHS else int(month)
        try:
            day = date(_year(match.group("year"), on), month_number, int(match.group("day")))
        except ValueError:
            continue
        has_date, date_span = True, match.span()
        break
    if "yesterday" in text and not has_date:
        day = on - timedelta(days=1)
    period_match = _EN_PERIOD.search(text)
    for pattern in _EN_TIMES:
        for match in pattern.finditer(text):
            if date_span[0] <= match.start() < date_span[1]:
                continue  # the "2026" or "3" of the date itself
            groups = match.groupdict()
            if groups.get("hhmm"):
                hour, minute = int(groups["hhmm"][:2]), int(groups["hhmm"][2:])
            else:
                hour, minute = int(groups["hour"]), int(groups.get("minute") or 0)
            second = int(groups.get("second") or 0)
            ampm = (groups.get("ampm") or "").replace(".", "").replace(" ", "") or None
            period = ampm or (period_match.group("period") if period_match else None)
            if hour > 23 or minute > 59 or second > 59 or (ampm and hour > 12):
                continue
            said, hour = hour, _apply_period(hour, period)
            when = datetime.combine(day, datetime.min.time()) + timedelta(
                hours=hour, minutes=minute, seconds=second)
            notes = ["date_differs"] if has_date and abs((day - on).days) > 1 else []
            # "11-0-0 PM", "2 0 2 p.m.": the hour read is the last of several spoken
            # numbers, so the others were minutes the recogniser broke up; "2011 PM": a
            # 24-hour figure and am/pm contradict each other
            if re.search(r"\d[\s,-]*$", text[max(0, match.start() - 3):match.start()]) or (
                    groups.get("hhmm") and not 1 <= int(groups["hhmm"][:2]) <= 12
                    and re.match(r"\s*[ap]\.?\s?m\b", text[match.end():])):
                notes.append("minutes_unclear")
            alternatives = _other_half_of_day(when, said, period)
            if notes:
                alternatives = (*alternatives, *(_on_day(r, on) for r in (when, *alternatives)))
            return StatedTime(when, has_date, match.group().strip(), _confidence(notes),
                              alternatives, tuple(notes))
    return None


def parse_statement(text: str, on: date) -> StatedTime | None:
    """The time a statement states, relative to the recording date ``on``; ``None`` when
    the text states no time of day."""
    normalised = normalise(text)
    if re.search(r"[\u4e00-\u9fff]", normalised):
        found = _zh(normalised, on)
        if found is not None:
            return found
        # Chinese speech read by the English patterns ("9.25", "1430") is a loose guess
        loose = _en(normalised, on)
        if loose is None:
            return None
        notes = (*loose.notes, "loose")
        return replace(loose, confidence=_confidence(list(notes)), notes=notes)
    return _en(normalised, on)

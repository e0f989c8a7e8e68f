"""Read the time an officer states at the start of a recording (语音说明, R2).

Officers say things like 二〇二六年十一月三日下午两点三十分 or "today is November 3rd,
2:30 pm". Speech recognisers write these in many ways — Chinese numerals or digits,
"2.30pm", "1430", a wrong year — so the parser normalises first (numerals to digits,
full-width to ASCII) and then looks for a date and a time of day separately, each
optional except the time. Missing parts come from the recording's own date (``on``).
Pure functions only: text in, :class:`StatedTime` or ``None`` out.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta

_DIGITS = {"〇": 0, "零": 0, "○": 0, "Ｏ": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
           "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMERAL_RUN = re.compile(r"[〇零○一二两三四五六七八九十百]+")


def _chinese_number(run: str) -> str:
    """二〇二六 → 2026 (digit by digit); 二十三 → 23, 十 → 10, 五十九 → 59 (positional)."""
    if "十" not in run and "百" not in run:
        return "".join(str(_DIGITS[ch]) for ch in run)
    total, current = 0, 0
    for ch in run:
        if ch == "百":
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
    """Full-width → ASCII, Chinese numerals → digits, lower-case, single spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = _NUMERAL_RUN.sub(lambda m: _chinese_number(m.group()), text)
    return re.sub(r"\s+", " ", text).strip().lower()


@dataclass(frozen=True)
class StatedTime:
    when: datetime  # naive, in the recording's local zone
    has_date: bool
    matched: str  # the words the time was read from

    def isoformat(self) -> str:
        return self.when.isoformat()


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


def _apply_period(hour: int, period: str | None) -> int:
    if period in ("下午", "傍晚", "晚上", "夜里", "夜间", "夜晚", "pm", "in the afternoon",
                  "in the evening", "at night", "tonight") and hour < 12:
        return hour + 12
    if period == "中午" and hour < 6:
        return hour + 12
    if period in ("凌晨", "半夜", "am", "in the morning", "上午", "早上", "早晨", "清晨") and hour == 12:
        return 0
    return hour


def _zh(text: str, on: date) -> StatedTime | None:
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
    for time_match in _ZH_TIME.finditer(text, start):
        hour = int(time_match.group("hour"))
        if hour > 24:
            continue
        minute = 30 if time_match.group("half") else 15 * int(time_match.group("quarter")) \
            if time_match.group("quarter") else int(time_match.group("minute") or 0)
        second = int(time_match.group("second") or 0)
        hour = _apply_period(hour, time_match.group("period"))
        if minute > 59 or second > 59:
            continue
        when = datetime.combine(day, datetime.min.time()) + timedelta(hours=hour, minutes=minute,
                                                                       seconds=second)
        matched = text[date_match.start() if date_match else time_match.start():time_match.end()]
        return StatedTime(when, has_date, matched)
    return None


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
            hour = _apply_period(hour, period)
            when = datetime.combine(day, datetime.min.time()) + timedelta(
                hours=hour, minutes=minute, seconds=second)
            return StatedTime(when, has_date, match.group().strip())
    return None


def parse_statement(text: str, on: date) -> StatedTime | None:
    """The time a statement states, relative to the recording date ``on``; ``None`` when
    the text states no time of day."""
    normalised = normalise(text)
    if re.search(r"[\u4e00-\u9fff]", normalised):
        found = _zh(normalised, on)
        if found is not None:
            return found
    return _en(normalised, on)

"""Input rules as pure functions: file facts in, flags out (each naming its rule).

A flag never stops a file from being stored — footage with a wrong clock is still
evidence — it tells the clerk and the auditor what to look at.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Flag:
    kind: str
    detail: str
    article: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def time_flags(
    *, label: str, when: datetime | None, now: datetime, earliest_year: int, future_tolerance_s: int
) -> list[Flag]:
    """R1 (000:7): footage timestamps must be trustworthy; a clock in 1970 or in the
    future means the camera was not calibrated."""
    if when is None:
        return []
    if when.year < earliest_year:
        return [Flag(f"{label}_too_early", f"{label} {when.isoformat()} is before "
                     f"{earliest_year}: the camera clock was probably reset", "R1 000:7")]
    if when > now + timedelta(seconds=future_tolerance_s):
        return [Flag(f"{label}_in_future", f"{label} {when.isoformat()} is after the station "
                     f"clock {now.isoformat(timespec='seconds')}", "R1 000:7")]
    return []


def size_flags(size: int) -> list[Flag]:
    if size == 0:
        return [Flag("empty_file", "the camera file is empty (0 bytes); stored as found")]
    return []


def name_flags(encoding: str) -> list[Flag]:
    if encoding != "utf-8":
        return [Flag("non_utf8_name", f"file name is not UTF-8 (read as {encoding}); "
                     "the exact bytes are kept in source_path_b64")]
    return []

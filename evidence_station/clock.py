"""The station's one clock: where every "now" in product code comes from.

Retention, deletion, deadlines, ledger event times, session ids and report stamps must
agree on what "now" is, and tests must be able to pin it (DESIGN.md, "Clock"): so code
never calls ``datetime.now()`` itself; it asks the :class:`Clock` it was given. The
daemon and the CLI use :class:`SystemClock`; tests pass a :class:`FixedClock` and move it
to age footage in-process (never ``--now`` on a write).
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime in UTC."""
        ...


class SystemClock:
    """The operating system's clock (the station's own, kept by NTP)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved (tests; benchmarks that replay time)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("a FixedClock needs an aware datetime (say which time zone)")
        self._at = at.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._at

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("a FixedClock needs an aware datetime (say which time zone)")
        with self._lock:
            self._at = at.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._at += delta


SYSTEM_CLOCK = SystemClock()


def local_now(clock: Clock, zone: str) -> datetime:
    """Now in the station's time zone (aware)."""
    return clock.now().astimezone(ZoneInfo(zone))


def local_today(clock: Clock, zone: str) -> date:
    return local_now(clock, zone).date()

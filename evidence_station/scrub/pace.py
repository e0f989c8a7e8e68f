"""How fast and how politely a scrub reads: the schedule's duration, a rate limiter, and
idle I/O priority for the scrubbing thread.

A scrub must never cost a dock its copy speed (F34: a dock keeps >= 90 % of its speed
while a scrub runs). Two things make that hold:

* **the throttle** (:class:`RateLimiter`) caps the scrub's reads at ``[scrub]
  max_read_mb_s`` on every disk and every I/O scheduler — it is the guarantee;
* **idle I/O class and nice 19** (:func:`become_idle`) let the kernel put the scrub's
  reads behind everyone else's where the scheduler honours I/O classes (BFQ; ``none``
  and ``mq-deadline`` ignore them, which is why the throttle exists at all).

The limiter is a pure token bucket with an injected clock and sleep, so its arithmetic is
tested without timing anything.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

MB = 1_000_000  # max_read_mb_s counts decimal megabytes, like disk vendors and `dd`


class RateLimiter:
    """A token bucket: at most ``rate`` bytes a second on average, bursts of at most
    ``burst_s`` seconds' worth. :meth:`delay_for` is the pure arithmetic (what to wait
    before reading ``count`` more bytes at monotonic time ``now``); :meth:`take` waits
    that long with the injected ``sleep``."""

    def __init__(self, rate: float, *, burst_s: float = 0.25,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("the read rate must be positive")
        self.rate = float(rate)
        self.capacity = self.rate * burst_s
        self.clock = clock
        self.sleep = sleep
        self._tokens = self.capacity
        self._last: float | None = None

    def set_rate(self, rate: float) -> None:
        """Change the average rate (a dock started or stopped copying); the burst scales
        with it and saved-up allowance is cut to the new burst."""
        if rate <= 0:
            raise ValueError("the read rate must be positive")
        self.capacity = self.capacity / self.rate * rate
        self.rate = float(rate)
        self._tokens = min(self._tokens, self.capacity)

    def delay_for(self, count: int, now: float) -> float:
        """Spend ``count`` bytes at ``now``; return the seconds to wait so the average rate
        stays within ``rate``. Debt carries over, so a large read is paid for in full."""
        if self._last is not None:
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= count
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def take(self, count: int) -> float:
        wait = self.delay_for(count, self.clock())
        if wait > 0:
            self.sleep(wait)
        return wait


class Pacer:
    """The scrub's reads: ``max_read`` bytes a second, and a tenth of that while a dock is
    copying (``busy``, asked at most every ``look_every_s``). Docks come first: on a disk
    that an ingest keeps busy, any steady extra read costs the copy more than its share
    (measured: benchmarks/bench_scrub.py), and on the ``none``/``mq-deadline`` schedulers
    the idle I/O class does not help at all."""

    BUSY_SHARE = 0.1

    def __init__(self, max_read: float, busy: Callable[[], bool] = lambda: False, *,
                 look_every_s: float = 0.25, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.max_read = float(max_read)
        self.busy = busy
        self.look_every_s = look_every_s
        self.clock = clock
        self.limiter = RateLimiter(max_read, clock=clock, sleep=sleep)
        self._looked: float | None = None
        self.yielding = False

    def take(self, count: int) -> float:
        now = self.clock()
        if self._looked is None or now - self._looked >= self.look_every_s:
            self._looked = now
            yielding = self.busy()
            if yielding != self.yielding:
                self.yielding = yielding
                self.limiter.set_rate(self.max_read * (self.BUSY_SHARE if yielding else 1.0))
        return self.limiter.take(count)


# Linux ioprio (include/uapi/linux/ioprio.h)
IOPRIO_CLASS_SHIFT = 13
IOPRIO_CLASS_IDLE = 3
IOPRIO_WHO_PROCESS = 1
_IOPRIO_SET = {"x86_64": 251, "aarch64": 30, "i686": 289, "armv7l": 314}


def idle_ioprio_value() -> int:
    return IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT


def become_idle() -> list[str]:
    """Put the *calling thread* in the idle I/O class and at nice 19 (both per-thread on
    Linux: ``who = 0`` is the calling task). Call it from a thread made for the scrub:
    nice cannot be lowered again without privileges, so a pool thread must never get it.
    Returns what could not be done (logged, never fatal: the throttle still holds)."""
    problems: list[str] = []
    number = _IOPRIO_SET.get(platform.machine())
    if number is None:
        problems.append(f"ioprio_set: unknown syscall number on {platform.machine()}")
    else:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syscall(number, IOPRIO_WHO_PROCESS, 0, idle_ioprio_value()) != 0:
            problems.append(f"ioprio_set: {os.strerror(ctypes.get_errno())}")
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except OSError as err:
        problems.append(f"setpriority: {err.strerror}")
    for problem in problems:
        log.warning("scrub: could not lower its priority (%s); the read throttle still holds",
                    problem)
    return problems


def thread_ioprio() -> int | None:
    """The calling thread's I/O priority value (ioprio_get), for tests; None off Linux."""
    numbers = {"x86_64": 252, "aarch64": 31, "i686": 290, "armv7l": 315}
    number = numbers.get(platform.machine())
    if number is None:
        return None
    value = int(ctypes.CDLL(None, use_errno=True).syscall(number, IOPRIO_WHO_PROCESS, 0))
    return None if value < 0 else value

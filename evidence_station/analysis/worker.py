"""Analysis in the daemon: one background thread at idle CPU and I/O priority, fed after
each docking session, so copying is not slowed by it (measured in bench_analysis)."""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import subprocess
import threading
from collections.abc import Callable

from evidence_station.analysis.runner import Analyser

log = logging.getLogger(__name__)
NICE = 10


def lower_priority() -> None:
    """Make the calling thread (and the threads it starts, e.g. the speech model's) yield
    to copying: CPU class SCHED_IDLE (runs only on otherwise idle CPU), I/O class idle,
    and nice 10 where those are not allowed. Linux applies all three per thread."""
    thread = threading.get_native_id()
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, thread, NICE)
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(thread, os.SCHED_IDLE, os.sched_param(0))
    with contextlib.suppress(OSError, FileNotFoundError):
        subprocess.run(["ionice", "-c", "3", "-p", str(thread)], check=False,
                       capture_output=True, timeout=10)


class AnalysisWorker:
    """``hold_off()`` says a dock is copying: analysis waits between clips until it is done,
    so copying has the disk and the CPU to itself."""

    def __init__(self, analyser: Analyser, hold_off: Callable[[], bool] = lambda: False) -> None:
        self.analyser = analyser
        self.hold_off = hold_off
        self._stopping = threading.Event()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="analysis", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, device_id: str) -> None:
        """A session of ``device_id`` ended: analyse what is new, then the device."""
        self._idle.clear()
        self._queue.put(device_id)

    def busy(self) -> bool:
        return not self._idle.is_set()

    def stop(self) -> None:
        self._stopping.set()
        self._queue.put(None)

    def _wait_for_copies(self) -> None:
        while self.hold_off() and not self._stopping.is_set():
            self._stopping.wait(0.5)

    def _run(self) -> None:
        lower_priority()
        while True:
            device_id = self._queue.get()
            if device_id is None:  # stop(): whatever was queued before it is done
                self._idle.set()
                return
            try:
                self.analyser.analyse_pending(before_each=self._wait_for_copies)
                self.analyser.analyse_device(device_id)
            except Exception:  # one bad clip must not stop the analysis of the others
                log.exception("analysis after a session of %s failed", device_id)
            if self._queue.empty():
                self._idle.set()

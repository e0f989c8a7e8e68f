"""Analysis in the daemon: one background thread at low CPU priority, fed after each
docking session, so copying is never slowed by it (measured in bench_analysis)."""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading

from evidence_station.analysis.runner import Analyser

log = logging.getLogger(__name__)
NICE = 10


class AnalysisWorker:
    def __init__(self, analyser: Analyser) -> None:
        self.analyser = analyser
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
        self._queue.put(None)

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # Linux: nice is per thread, inherited by helpers
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        while True:
            device_id = self._queue.get()
            if device_id is None:  # stop(): whatever was queued before it is done
                self._idle.set()
                return
            try:
                self.analyser.analyse_pending()
                self.analyser.analyse_device(device_id)
            except Exception:  # one bad clip must not stop the analysis of the others
                log.exception("analysis after a session of %s failed", device_id)
            if self._queue.empty():
                self._idle.set()

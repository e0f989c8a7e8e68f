"""The daemon's scrub schedule: a whole pass ``[scrub] every`` after the last completed one.

The next run is counted from the end of the last *completed* pass in the catalog (from
the station's ``station.init`` for the first), not from the daemon's start: a restart
neither skips a due pass nor runs one early, and a pass interrupted by a restart (which
recorded no ``scrub.pass``) is due again at once and resumes where it stopped. Each
run is one APScheduler date job that schedules the next when it ends, so a pass longer
than ``every`` never overlaps the next.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from evidence_station.identity import STATION
from evidence_station.scrub import Interrupted, parse_duration, run_idle
from evidence_station.scrub.scrubber import due_after
from evidence_station.station import Station

log = logging.getLogger(__name__)
JOB_ID = "scrub"
# An interrupted pass is resumed if it started within this many intervals: a store too big
# for one interval at the read limit still finishes across restarts, and a pass left
# months ago is started afresh (a day at least, whatever the interval).
RESUME_WITHIN = 4
RESUME_AT_LEAST = timedelta(days=1)


def next_run(station: Station, every: timedelta) -> datetime:
    """When the next scheduled pass is due: ``every`` after the last completed one (after
    the station's first event when none has completed yet), or now if that is past."""
    return due_after(station, every) or station.clock.now()


class ScrubSchedule:
    """Runs scheduled passes as the ``station`` account on a view of the daemon's station."""

    def __init__(self, station: Station, scheduler: Any, stopping: threading.Event) -> None:
        self.station = station
        self.scheduler = scheduler
        self.stopping = stopping
        self.every = parse_duration(station.config.scrub.every)
        self._idle = threading.Event()  # no pass running: the daemon may close the ledger
        self._idle.set()

    def start(self) -> None:
        with self.station.lock:
            when = next_run(self.station, self.every)
        self._plan(when)

    def _plan(self, when: datetime) -> None:
        from apscheduler.triggers.date import DateTrigger

        self.scheduler.add_job(self.run, DateTrigger(run_date=when), id=JOB_ID,
                               replace_existing=True, misfire_grace_time=None, coalesce=True,
                               max_instances=1)
        log.info("scrub: next pass due %s", when.isoformat())

    def wait(self, timeout: float) -> bool:
        """Until a running pass has stopped (it stops at its next read once ``stopping``
        is set, saving its progress): the daemon closes the ledger only after that."""
        return self._idle.wait(timeout)

    def run(self) -> None:
        if self.stopping.is_set():
            return
        self._idle.clear()
        log.info("scrub: pass started (at most %s MB/s)", self.station.config.scrub.max_read_mb_s)
        view = self.station.view()
        try:
            result = run_idle(view, STATION, trigger="schedule",
                              max_read_mb_s=self.station.config.scrub.max_read_mb_s,
                              stopping=self.stopping.is_set,
                              resume_within=max(RESUME_WITHIN * self.every, RESUME_AT_LEAST))
            if result.ok:
                log.info("scrub: pass %s clean: %d files, %d bytes, coverage %.2f%%",
                         result.pass_id, result.objects, result.bytes, result.coverage)
            else:
                log.critical("scrub: pass %s found %d mismatch(es); see `evidence-station "
                             "scrub status`", result.pass_id, len(result.mismatches))
        except Interrupted:
            log.info("scrub: pass interrupted by the daemon stopping; the next start resumes it")
            return
        except Exception:  # the schedule must survive one failed pass; the log says why
            log.exception("scrub: the pass failed")
        finally:
            view.close()
            self._idle.set()
        if not self.stopping.is_set() and self.scheduler.running:
            self._plan(self.station.clock.now() + self.every)

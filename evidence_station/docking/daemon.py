"""The docking daemon: watchers in, one worker thread per dock out.

Block devices come from pyudev (:class:`docks.detect.BlockWatcher`), camera folders from
inbox folders (:class:`docks.detect.InboxWatcher`), and with nothing configured a
generated demo camera is docked so a newcomer sees the whole flow. Each dock runs in its
own thread; ``daemon.max_parallel_copies`` of them copy at once. A camera pulled mid-copy
has its FUSE connection aborted, its session ends as interrupted, and the next docking
resumes where it stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docks.blockdev import BlockDevice
from docks.detect import BlockWatcher, InboxWatcher
from docks.mount import ensure_fusectl
from docks.profiles import PROFILE_DIR, load_profiles
from evidence_station.analysis.runner import Analyser
from evidence_station.analysis.worker import AnalysisWorker
from evidence_station.docking.control import CommandRunner, ControlServer
from evidence_station.docking.fairness import FairSlots
from evidence_station.docking.receipt import Receipt
from evidence_station.docking.status import StatusBoard
from evidence_station.docking.worker import DockContext, DockJob, run_dock
from evidence_station.i18n import Lang
from evidence_station.identity import STATION, STATION_ACCOUNT
from evidence_station.station import Station

log = logging.getLogger(__name__)


def folder_signature(path: Path) -> tuple[tuple[str, int, int], ...]:
    """(name, size, mtime) of every entry: a folder is docked again only if it changed."""
    entries = []
    for item in sorted(path.rglob("*")):
        try:
            info = item.lstat()
        except OSError:
            continue
        entries.append((str(item.relative_to(path)), info.st_size, info.st_mtime_ns))
    return tuple(entries)


class Daemon:
    def __init__(self, station: Station, *, lang: Lang,
                 on_receipt: Callable[[Receipt, Path], None] = lambda r, p: None,
                 run_command: CommandRunner | None = None) -> None:
        config = station.config.daemon
        self.station = station
        run_dir = station.layout.root / "run"
        run_dir.mkdir(mode=0o700, exist_ok=True)
        self.board = StatusBoard(run_dir / "status.json", station.name)
        self.ctx = DockContext(
            station=station, board=self.board,
            profiles=load_profiles([PROFILE_DIR, *config.profile_dirs]), actor=STATION_ACCOUNT,
            lang=lang,
            slots=FairSlots(config.max_parallel_copies),
            stopping=threading.Event(), mounts_dir=run_dir / "mounts", on_receipt=on_receipt)
        self.ctx.mounts_dir.mkdir(mode=0o700, exist_ok=True)
        self.analysis: AnalysisWorker | None = None
        if station.config.analysis.enabled:
            self.analysis = AnalysisWorker(Analyser.for_station(station), hold_off=self.docking)
            self.ctx.on_session = lambda result: self.analysis.submit(result.device_id) \
                if self.analysis else None
        self._jobs: dict[str, tuple[DockJob, threading.Thread]] = {}
        self._next: dict[str, DockJob] = {}
        self._signatures: dict[Path, tuple[tuple[str, int, int], ...]] = {}
        self._lock = threading.Lock()
        self.control = ControlServer(station, run_command)
        self.scheduler: Any = None
        self.scrub: Any = None  # the scrub schedule (F34), with the scheduler
        self.block_watcher: BlockWatcher | None = None
        self.inbox_watcher: InboxWatcher | None = None

    # -- events -------------------------------------------------------------------------
    def _start_job(self, job: DockJob) -> None:
        with self._lock:
            previous = self._jobs.get(job.port)
            if previous is not None and previous[1].is_alive():
                # A new medium in a port still finishing its last docking (a camera swapped
                # quickly): dock it as soon as the port is free.
                self._next[job.port] = job
                return
            thread = threading.Thread(target=self._run, args=(job,), name=f"dock-{job.port}",
                                      daemon=True)
            self._jobs[job.port] = (job, thread)
        thread.start()

    def _run(self, job: DockJob) -> None:
        run_dock(job, self.ctx)
        with self._lock:
            following = self._next.pop(job.port, None)
            if following is not None:
                self._jobs.pop(job.port, None)
        if following is not None and not self.ctx.stopping.is_set():
            self._start_job(following)

    def on_present(self, device: BlockDevice) -> None:
        log.info("block device %s appeared (%s, label %r)", device.devnode,
                 device.filesystem.type, device.filesystem.label)
        self._start_job(DockJob(device.port, "usb" if device.usb else "block", device.devnode,
                                device))

    def on_absent(self, sys_name: str) -> None:
        with self._lock:
            found = [(job, thread) for job, thread in self._jobs.values()
                     if job.device is not None and job.device.sys_name == sys_name]
        for job, thread in found:
            log.info("%s unplugged", job.port)
            job.unplugged.set()
            if thread.is_alive() and job.mount is not None:
                job.mount.abort()  # reads fail now (ENOTCONN) instead of hanging
            status = self.board.get(job.port)
            if not thread.is_alive() and status is not None and status.state == "safe_to_unplug":
                self.board.remove(job.port)  # the officer took the camera: clear the row
            else:
                self.board.update(job.port, present=False)

    def on_folder(self, path: Path) -> None:
        signature = folder_signature(path)
        with self._lock:
            if self._signatures.get(path) == signature:
                return
            self._signatures[path] = signature
        self._start_job(DockJob(f"inbox:{path.name}", "folder", path))

    def _retry_waiting(self) -> None:
        """Storage waiting for acceptance is looked at again once someone registered it."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job, thread in jobs:
            status = self.board.get(job.port)
            if (status is not None and status.state == "waiting" and not thread.is_alive()
                    and not job.unplugged.is_set()):
                keys = [key for key in (status.device_id,) if key]
                with self.station.lock:
                    registered = self.station.catalog.docking.registered_device(keys)
                if registered:
                    self._start_job(DockJob(job.port, job.kind, job.source, job.device))

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, *, watch: bool = True) -> None:
        """Dock what is there now; with ``watch``, keep listening for more."""
        config = self.station.config.daemon
        self.control.start()
        if watch:
            self._schedule_sweep()
        if self.analysis is not None:
            self.analysis.start()
        if config.usb:
            if not ensure_fusectl():
                log.warning("FUSE control filesystem unavailable: a camera pulled mid-copy "
                            "is stopped by ending its mount helper instead")
            self.block_watcher = BlockWatcher(self.on_present, self.on_absent,
                                              source=config.uevent_source,
                                              own_mounts=self.ctx.mounts_dir)
            self.block_watcher.start(monitor=watch)
        if config.inbox_dirs:
            if watch:
                self.inbox_watcher = InboxWatcher(list(config.inbox_dirs), self.on_folder,
                                                  settle_seconds=config.settle_seconds)
                self.inbox_watcher.start()
            else:
                for inbox in config.inbox_dirs:
                    for child in sorted(inbox.iterdir()) if inbox.is_dir() else []:
                        if child.is_dir() and not child.is_symlink():
                            self.on_folder(child)
        elif config.demo_camera and not self._jobs:
            from evidence_station.demo import can_speak_mandarin, make_demo_camera  # PyAV: when needed

            # the demo officer states the time in Mandarin (R2), checked against the clock (R1)
            demo = make_demo_camera(self.station.layout.root / "demo-camera",
                                    zone=self.station.config.station.timezone,
                                    spoken=can_speak_mandarin())
            self._start_job(DockJob("demo", "demo", demo))
        self.board.mark_ready()

    def _schedule_sweep(self) -> None:
        """R6/R11: list expired footage daily (never deletes; deletion needs approval)."""
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger

        self.scheduler = BackgroundScheduler(timezone=self.station.config.station.timezone)
        self.scheduler.add_job(self.sweep, CronTrigger(hour=self.station.config.retention.sweep_hour),
                               id="retention-sweep", coalesce=True, max_instances=1)
        witnesses = self.station.config.witness
        if witnesses.urls:  # catch up with witnesses that were unreachable (DESIGN.md, Witnesses)
            from apscheduler.triggers.interval import IntervalTrigger

            self.scheduler.add_job(self.witness_round, IntervalTrigger(seconds=witnesses.retry_every_s),
                                   id="witness-round", coalesce=True, max_instances=1)
        if self.station.config.fleet.enabled:  # the ledger is the outbox (DESIGN.md, fleet)
            from datetime import datetime

            from apscheduler.triggers.interval import IntervalTrigger

            every = IntervalTrigger(seconds=self.station.config.fleet.every_s)
            self.scheduler.add_job(self.fleet_push, every, id="fleet-push", coalesce=True, max_instances=1,
                                   next_run_time=datetime.now().astimezone())
        self.scheduler.start()
        from evidence_station.scrub.schedule import ScrubSchedule

        # F34: re-hash the store and re-verify the ledger every [scrub] every, at idle priority
        self.scrub = ScrubSchedule(self.station, self.scheduler, self.ctx.stopping)
        self.scrub.start()

    def fleet_push(self) -> None:
        """One replication pass on the scheduler's thread, as the ``station`` actor: it
        reads the ledger and store and takes the station's lock only to record an alarm,
        so docking and casework never wait for the network; a failure waits for the next
        run (``fleet status`` says why)."""
        from evidence_station.errors import EvidenceStationError
        from evidence_station.fleet.replicate import push

        try:
            push(self.station)
        except EvidenceStationError as err:
            log.warning("fleet replication: %s", err)
        except Exception:
            log.exception("fleet replication failed")

    def witness_round(self) -> None:
        """Ask every witness to cosign the latest checkpoint (a new one if the ledger grew)."""
        from evidence_station.witness.client import ask_witnesses

        # A latest checkpoint of another history is an integrity alarm here: no witness
        # is asked to cosign it.
        if self.station.reusable_checkpoint(self.station.ledger.size) is None:
            self.station.issue_checkpoint()  # the ledger grew; asks the witnesses itself
            return
        ask_witnesses(self.station, force=True)

    def sweep(self) -> int:
        from evidence_station.casework.service import perform

        event = perform(self.station, STATION, "retention.sweep", {})
        count = len(event.fields["expired"])
        if count:
            log.warning("retention sweep: %d clip(s) past retention await a deletion request "
                        "and approval (`evidence-station retention sweep`)", count)
        return count

    def docking(self) -> bool:
        """Some dock is working (mounting, copying, verifying)."""
        with self._lock:
            return any(thread.is_alive() for _, thread in self._jobs.values())

    def busy(self) -> bool:
        return self.docking() or (self.analysis is not None and self.analysis.busy())

    def wait_idle(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.busy():
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def tick(self) -> None:
        """Periodic work between events (called by the CLI loop)."""
        self._retry_waiting()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop taking new docks; running sessions end after their current file."""
        self.ctx.stopping.set()
        self.control.stop()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        if self.analysis is not None:
            self.analysis.stop()
        if self.block_watcher is not None:
            self.block_watcher.stop()
        if self.inbox_watcher is not None:
            self.inbox_watcher.stop()
        self.wait_idle(timeout)
        if self.scrub is not None:
            self.scrub.wait(timeout)  # a pass stops at its next read and saves its progress

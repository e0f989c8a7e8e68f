"""Run the stages for one docking session (a camera's folder or mount).

The session is bracketed by ``session.start`` and ``session.end`` ledger events and
followed by a signed checkpoint, so the receipt an officer takes away can be checked
later against the ledger. A file that fails is listed with its reason and the batch
goes on; the camera disappearing or the store failing stops the session, which is then
recorded as interrupted with what was committed. The next docking resumes: files
already in the ledger for this device are recognised and not copied again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import secrets
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from docks.listing import Listing
from docks.profiles import Profile
from evidence_station.errors import EvidenceStationError
from evidence_station.ingest import stages
from evidence_station.ingest.model import (
    Outcome,
    Plan,
    PlannedFile,
    Problem,
    Reporter,
    SessionResult,
    SilentReporter,
)
from evidence_station.station import Station
from evidence_station.store import CopyMismatchAlarm, Staged
from hashing.ledger import Draft

log = logging.getLogger(__name__)


def new_session_id(now: datetime) -> str:
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def with_file_times(listing: Listing, file_times: Mapping[bytes, int]) -> Listing:
    """Replace the mtimes a mount helper reported with ones read from the volume itself
    (keys: lower-cased relative paths), where it has them."""
    files = [dataclasses.replace(item, mtime_ns=file_times.get(item.rel_path.lower(), item.mtime_ns))
             for item in listing.files]
    return Listing(files, listing.skipped)


def ingest_source(
    station: Station,
    source: Path,
    *,
    device_id: str | None = None,
    officer_id: str | None = None,
    actor: str,
    reporter: Reporter | None = None,
    profile: Profile | None = None,
    dock: Mapping[str, Any] | None = None,
    file_times: Mapping[bytes, int] | None = None,
    cancel: Callable[[], str | None] = lambda: None,
    returned_at: datetime | None = None,
    slot: Callable[[int], AbstractContextManager[CopyTurn]] | None = None,
) -> SessionResult:
    """Ingest everything on one camera. ``dock`` (port, USB ids, storage seen, …) goes into
    the ``session.start`` event; ``cancel`` returns a reason to stop before the next file
    (the station is shutting down, the camera was pulled); ``slot(size)`` is held while
    one file is copied, in turns (the daemon's fair share of copy slots between docks)."""
    reporter = reporter or SilentReporter()
    config = station.config
    source = source.resolve()
    listing = stages.scan(source, config.ingest, profile)
    if file_times is not None:
        listing = with_file_times(listing, file_times)
    with station.lock:
        plan = stages.plan(
            listing, station.catalog, device_id=device_id, officer_id=officer_id,
            config=config.ingest, zone=config.station.timezone, source_label=source.name,
            profile=profile, now=station.clock.now(),
        )
    session_id = new_session_id(station.clock.now())
    result = SessionResult(session_id, str(source), plan.device_id, plan.officer_id,
                           skipped=list(plan.skipped))
    station.record(Draft("session.start", actor, {
        "session_id": session_id, "device_id": plan.device_id, "officer_id": plan.officer_id,
        "source": str(source), "files_planned": len(plan.to_copy),
        "bytes_planned": plan.bytes_to_copy, "files_already": len(plan.already),
        "profile": profile.name if profile else None, "dock": dict(dock or {}),
        # R4: the officer is back from remote or continuous work; deadlines count from here
        "returned_at": returned_at.isoformat() if returned_at else None,
    }))
    reporter.planned(plan)
    for item in plan.already:
        outcome = Outcome(item, "already")
        result.outcomes.append(outcome)
        reporter.file_finished(outcome)
    reserve = config.ingest.reserve_mib * 1024 * 1024
    outcomes = _copy_verify_commit(station, source, plan, session_id=session_id, actor=actor,
                                   reporter=reporter, cancel=cancel, reserve=reserve,
                                   slot=slot, result=result)
    result.outcomes.extend(outcomes)
    # What an interruption left on the camera is on the receipt too, by name.
    attempted = {id(outcome.item) for outcome in result.outcomes}
    for item in plan.to_copy:
        if id(item) not in attempted:
            result.outcomes.append(Outcome(item, "failed", problem=Problem(
                item.display, item.path_b64, "not_copied",
                f"session interrupted before this file ({result.reason}); dock again to copy it")))
    _finish(station, result, actor)
    return result


def _finish(station: Station, result: SessionResult, actor: str) -> None:
    problems = [p.as_dict() for p in result.skipped]
    problems += [o.problem.as_dict() for o in result.outcomes if o.problem is not None]
    end = station.record(Draft("session.end", actor, {
        "session_id": result.session_id, "state": result.state, "reason": result.reason,
        "counts": result.counts(), "problems": problems,
    }))
    checkpoint, note = station.checkpoint_covering(end.seq + 1)
    result.checkpoint_size = checkpoint.size
    result.checkpoint_root = checkpoint.root.hex()
    result.checkpoint_note = station.best_note(checkpoint, note)  # cosigned, for the receipt


class CopyTurn(Protocol):
    """A dock's turn with a copy slot (:class:`evidence_station.docking.fairness.Turn`)."""

    def advance(self, count: int) -> None: ...


class _NoTurn:
    def advance(self, count: int) -> None:
        pass


@dataclass
class _Copied:
    index: int
    item: PlannedFile
    staged: Staged


class _Serial:
    """Reporter calls from the copy and verify threads, one at a time."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> Callable[..., None]:
        method = getattr(self.reporter, name)

        def call(*args: Any) -> None:
            with self.lock:
                method(*args)
        return call


def _copy_verify_commit(
    station: Station, source: Path, plan: Plan, *, session_id: str, actor: str,
    reporter: Reporter, cancel: Callable[[], str | None], reserve: int,
    slot: Callable[[int], AbstractContextManager[CopyTurn]] | None, result: SessionResult,
) -> list[Outcome]:
    """Copy file N+1 while file N is re-read, verified and committed (issue 16).

    Two stages, two threads: this one copies (camera → store temp, hashing, fsync); the
    verifier re-reads each copy from disk, checks it, publishes it and commits its ledger
    event, strictly in plan order. A file counts only when the verifier has committed it;
    the hand-over queue holds at most one copied file, so at most two files are in
    flight and memory stays flat. Whatever stops the session (camera gone, store
    failure, cancel) stops the copying; a file already copied is still verified on its
    own and counted only if it passes; nothing else is counted.
    """
    serial = _Serial(reporter)
    handoff: queue.Queue[_Copied | None] = queue.Queue(maxsize=1)
    outcomes: dict[int, Outcome] = {}
    halted = threading.Event()
    stop_lock = threading.Lock()

    def interrupt(reason: str, error: Exception | None = None) -> None:
        with stop_lock:
            if result.state != "interrupted":  # the first cause is the one reported
                result.state, result.reason, result.error = "interrupted", reason, error
        halted.set()

    def finish(index: int, outcome: Outcome) -> None:
        outcomes[index] = outcome
        serial.file_finished(outcome)

    def verify_and_commit(job: _Copied) -> Outcome:
        item = job.item
        try:
            try:
                flags = [*item.flags, *stages.media_flags(job.staged, item)]
            except OSError:
                station.store.discard(job.staged)
                raise
            serial.verifying(item)
            stored = stages.verify(station.store, job.staged)
            event = stages.commit(station, session_id=session_id, plan=plan, item=item,
                                  stored=stored, flags=flags, actor=actor)
        except CopyMismatchAlarm as alarm:  # this copy only: the next file is its own
            log.error("%s: %s", item.display, alarm.render("en"))
            return Outcome(item, "failed", problem=Problem(
                item.display, item.path_b64, "verify_mismatch", alarm.render("en")))
        except EvidenceStationError as err:  # store I/O, ledger, integrity alarm
            interrupt(err.render("en"), err)
            return Outcome(item, "failed", problem=Problem(
                item.display, item.path_b64, "store", err.render("en")))
        except OSError as err:  # the copy vanished from under us: our disk
            interrupt(f"store: {err}")
            return Outcome(item, "failed", problem=Problem(
                item.display, item.path_b64, "store", str(err)))
        fields = event.fields
        return Outcome(item, "duplicate" if fields["duplicate"] else "committed",
                       clip_id=str(fields["clip_id"]), sha256=str(fields["sha256"]),
                       ledger_seq=event.seq, flags=tuple(flags))

    def verifier() -> None:
        while True:
            job = handoff.get()
            if job is None:
                return
            if halted.is_set() and result.error is not None:
                # The store failed: do not publish more into it; the copy is not counted.
                station.store.discard(job.staged)
                continue
            try:
                finish(job.index, verify_and_commit(job))
            except BaseException as err:  # never leave the copier waiting on a dead thread
                station.store.discard(job.staged)
                interrupt(f"{type(err).__name__}: {err}")
                log.exception("verifying %s failed", job.item.display)

    thread = threading.Thread(target=verifier, name="ingest-verify", daemon=True)
    thread.start()
    try:
        for index, item in enumerate(plan.to_copy):
            stop_reason = cancel()
            if stop_reason:
                interrupt(stop_reason)
            if halted.is_set():
                break
            serial.file_started(item)
            try:
                with slot(item.file.size) if slot is not None else \
                        contextlib.nullcontext(_NoTurn()) as turn:
                    # The reader takes its turns before each read (it may wait for
                    # another port's turn then, holding no shared buffer).
                    staged = stages.copy_hash(station.store, source, item, reserve=reserve,
                                              progress=serial.advanced, pace=turn.advance)
            except stages.FileFailed as failure:
                finish(index, Outcome(item, "failed", problem=Problem(
                    item.display, item.path_b64, failure.reason, failure.detail)))
                continue
            except stages.SourceGoneError as gone:
                interrupt(str(gone))
                finish(index, Outcome(item, "failed", problem=Problem(
                    item.display, item.path_b64, "source_gone", str(gone))))
                break
            except EvidenceStationError as err:  # store full, store I/O
                interrupt(err.render("en"), err)
                finish(index, Outcome(item, "failed", problem=Problem(
                    item.display, item.path_b64, "store", err.render("en"))))
                break
            handoff.put(_Copied(index, item, staged))
    finally:
        handoff.put(None)
        thread.join()
    return [outcomes[index] for index in sorted(outcomes)]

"""Run the stages for one docking session (a camera's folder or mount).

The session is bracketed by ``session.start`` and ``session.end`` ledger events and
followed by a signed checkpoint, so the receipt an officer takes away can be checked
later against the ledger. A file that fails is listed with its reason and the batch
goes on; the camera disappearing or the store failing stops the session, which is then
recorded as interrupted with what was committed. The next docking resumes: files
already in the ledger for this device are recognised and not copied again.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from docks.listing import Listing
from docks.profiles import Profile
from evidence_station.errors import EvidenceStationError
from evidence_station.ingest import stages
from evidence_station.ingest.model import Outcome, Problem, Reporter, SessionResult, SilentReporter
from evidence_station.station import Station
from hashing.ledger import Draft


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
) -> SessionResult:
    """Ingest everything on one camera. ``dock`` (port, USB ids, storage seen, …) goes into
    the ``session.start`` event; ``cancel`` returns a reason to stop before the next file
    (the station is shutting down, the camera was pulled)."""
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
    for item in plan.to_copy:
        stop_reason = cancel()
        if stop_reason:
            result.state, result.reason = "interrupted", stop_reason
            break
        reporter.file_started(item)
        try:
            staged = stages.copy_hash(station.store, source, item, reserve=reserve,
                                      progress=reporter.advanced)
            try:
                flags = [*item.flags, *stages.media_flags(staged, item)]
            except OSError:
                station.store.discard(staged)
                raise
            reporter.verifying(item)
            stored = stages.verify(station.store, staged)
            event = stages.commit(station, session_id=session_id, plan=plan, item=item,
                                  stored=stored, flags=flags, actor=actor)
        except stages.FileFailed as failure:
            outcome = Outcome(item, "failed", problem=Problem(
                item.display, item.path_b64, failure.reason, failure.detail))
        except stages.SourceGoneError as gone:
            result.state, result.reason = "interrupted", str(gone)
            outcome = Outcome(item, "failed", problem=Problem(
                item.display, item.path_b64, "source_gone", str(gone)))
        except EvidenceStationError as err:  # store full, store I/O, integrity alarm
            result.state, result.reason, result.error = "interrupted", err.render("en"), err
            outcome = Outcome(item, "failed", problem=Problem(
                item.display, item.path_b64, "store", err.render("en")))
        else:
            fields = event.fields
            outcome = Outcome(item, "duplicate" if fields["duplicate"] else "committed",
                              clip_id=str(fields["clip_id"]), sha256=str(fields["sha256"]),
                              ledger_seq=event.seq, flags=tuple(flags))
        result.outcomes.append(outcome)
        reporter.file_finished(outcome)
        if result.state == "interrupted":
            break
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
    station.record(Draft("session.end", actor, {
        "session_id": result.session_id, "state": result.state, "reason": result.reason,
        "counts": result.counts(), "problems": problems,
    }))
    checkpoint, note = station.issue_checkpoint()
    result.checkpoint_size = checkpoint.size
    result.checkpoint_root = checkpoint.root.hex()
    result.checkpoint_note = station.best_note(checkpoint, note)  # cosigned, for the receipt

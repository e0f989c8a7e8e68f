"""The ingest stages, one function each: scan → plan → copy_hash → verify → commit.

Only :func:`copy_hash` touches the camera, and only to read. Only :func:`commit` makes
a file count as ingested (invariant 1): by then its bytes are in the store, fsynced,
re-read from disk and matched, and the ledger event is durable.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import errno
import os
from datetime import UTC, datetime
from pathlib import Path

from docks.listing import Listing, display_path, list_camera, open_camera_file
from docks.profiles import Profile, read_name
from evidence_station.catalog import Catalog, clip_id_for
from evidence_station.config import IngestConfig
from evidence_station.group_commit import committer_for
from evidence_station.ingest.container import check_container
from evidence_station.ingest.flags import Flag, name_flags, size_flags, time_flags
from evidence_station.ingest.model import Plan, PlannedFile, Problem, path_encoding
from evidence_station.station import Station
from evidence_station.store import Staged, Store, Stored
from hashing.ledger import Draft, Event
from hashing.stream import Progress, SourceReadError

# errno values meaning "the camera is gone" (unplugged, FUSE helper died, card pulled),
# as opposed to one bad file on a present camera.
SOURCE_GONE = {errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.ENOTCONN, errno.ESTALE,
               errno.ESHUTDOWN, errno.ENOMEDIUM}


class SourceGoneError(Exception):
    """The camera disappeared during the session; stop and mark it interrupted."""


class FileFailed(Exception):
    """This file could not be ingested; the session goes on."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def scan(source: Path, config: IngestConfig, profile: Profile | None = None) -> Listing:
    """List the camera. A profile adds its recording extensions to the configured ones;
    it never removes any (a recording skipped by mistake would be evidence left behind)."""
    extensions = [*config.recording_extensions, *(profile.extensions if profile else ())]
    return list_camera(source, sorted(set(extensions)))


def _skip_reason_text(reason: str, detail: str) -> str:
    texts = {
        "symlink": f"symbolic link to {detail!r}, not followed (could point outside the camera)",
        "special_file": "not a regular file (device, pipe or socket)",
        "unreadable_dir": f"folder could not be read: {detail}",
        "not_recording": "not a recording (extension not in ingest.recording_extensions)",
        "bad_name": "unsafe name ('.', '..', '/' or NUL)",
    }
    return texts.get(reason, detail)


def plan(
    listing: Listing, catalog: Catalog, *, device_id: str | None, officer_id: str | None,
    config: IngestConfig, zone: str, source_label: str, now: datetime,
    profile: Profile | None = None,
) -> Plan:
    """Decide per file: copy, already ingested (resume), or skipped with a reason."""
    infos = [read_name(item.rel_path, profile, zone) for item in listing.files]
    device = device_id or next((i.device_id for i in infos if i.device_id), None)
    officer = officer_id or next((i.officer_id for i in infos if i.officer_id), None)
    result = Plan(device_id=device or f"folder:{source_label}", officer_id=officer)
    for entry in listing.skipped:
        result.skipped.append(Problem(
            display_path(entry.rel_path),
            base64.b64encode(entry.rel_path).decode("ascii"),
            entry.reason, _skip_reason_text(entry.reason, entry.detail)))
    for camera_file, info in zip(listing.files, infos, strict=True):
        mtime = datetime.fromtimestamp(camera_file.mtime_ns / 1e9, UTC)
        flags = [
            *size_flags(camera_file.size),
            *time_flags(label="file_time", when=mtime, now=now,
                        earliest_year=config.earliest_plausible_year,
                        future_tolerance_s=config.future_tolerance_s),
            *time_flags(label="name_time", when=info.recorded_at, now=now,
                        earliest_year=config.earliest_plausible_year,
                        future_tolerance_s=config.future_tolerance_s),
        ]
        encoding = path_encoding(camera_file.rel_path)
        item = PlannedFile(camera_file, info.recorded_at, (*name_flags(encoding), *flags),
                           file_seq=info.seq)
        if catalog.footage.already_ingested(result.device_id, item.path_b64, camera_file.size,
                                    camera_file.mtime_ns):
            result.already.append(dataclasses.replace(item, already_ingested=True))
        else:
            result.to_copy.append(item)
    return result


def copy_hash(
    store: Store, source: Path, item: PlannedFile, *, reserve: int, progress: Progress | None,
    pace: Progress | None = None,
) -> Staged:
    """Read the camera file once, hashing while writing the store's temp copy."""
    store.ensure_room(item.file.size, reserve=reserve, file_label=item.display)
    try:
        fd = open_camera_file(source, item.file.rel_path)
    except OSError as err:
        if not source.exists() or err.errno in SOURCE_GONE - {errno.ENOENT}:
            raise SourceGoneError(f"camera disappeared: {os.strerror(err.errno or 0)}") from err
        if err.errno == errno.ENOENT:
            raise FileFailed("vanished", "the file disappeared from the camera after it was "
                             "listed; dock the camera again") from err
        raise FileFailed("unreadable", f"cannot open: {os.strerror(err.errno or 0)}") from err
    try:
        try:
            staged = store.stage(fd, file_label=item.display, progress=progress, pace=pace)
        except SourceReadError as err:
            if err.errno in SOURCE_GONE:
                raise SourceGoneError(
                    f"camera disappeared while reading {item.display} at byte {err.offset}: "
                    f"{os.strerror(err.errno or 0)}") from err
            raise FileFailed(
                "unreadable",
                f"read error at byte {err.offset} of {item.file.size}: "
                f"{os.strerror(err.errno or 0)}. The file stays on the camera; the card may be "
                "damaged — copy it with a card reader or send the camera for data recovery, "
                "and register the loss in writing (R3)") from err
        try:
            size_now = os.fstat(fd).st_size
        except OSError as err:
            store.discard(staged)
            raise SourceGoneError(f"camera disappeared after reading {item.display}: "
                                  f"{os.strerror(err.errno or 0)}") from err
    finally:
        with contextlib.suppress(OSError):  # closing on a vanished FUSE mount: ENOTCONN
            os.close(fd)
    if staged.digest.size != item.file.size or size_now != item.file.size:
        store.discard(staged)
        raise FileFailed("changed", f"the file changed size while being copied (listed "
                         f"{item.file.size} bytes, read {staged.digest.size}); dock again")
    return staged


def verify(store: Store, staged: Staged, *, progress: Progress | None = None) -> Stored:
    return store.verify_and_publish(staged, progress=progress)


def media_flags(staged: Staged, item: PlannedFile) -> list[Flag]:
    extension = os.path.splitext(item.file.rel_path)[1].decode("ascii", "replace")
    return check_container(staged.temp_path, extension)


def commit(station: Station, *, session_id: str, plan: Plan, item: PlannedFile, stored: Stored,
           flags: list[Flag], actor: str) -> Event:
    """The point where a file counts as ingested: its ledger event, durable and catalogued.

    Events of several docks that arrive together share one fsync (group commit); this
    returns only once this file's own event is durable and projected."""
    clip_id = clip_id_for(stored.digest.sha256)

    def make(station: Station, in_batch: set[str]) -> Draft:
        # A store object without a catalog clip is one an interrupted run stored but never
        # committed: adopting it now is a first ingest, not a duplicate. Another dock may
        # commit the same content in the same batch: the later one is the duplicate.
        duplicate = clip_id in in_batch or station.catalog.footage.has_clip(clip_id)
        return Draft("ingest", actor, _ingest_fields(
            session_id, plan, item, stored, flags, duplicate))

    return committer_for(station).commit(station, make)


def _ingest_fields(session_id: str, plan: Plan, item: PlannedFile, stored: Stored,
                   flags: list[Flag], duplicate: bool) -> dict[str, object]:
    return {
        "session_id": session_id,
        "clip_id": clip_id_for(stored.digest.sha256),
        "sha256": stored.digest.sha256,
        "size": stored.digest.size,
        "device_id": plan.device_id,
        "officer_id": plan.officer_id,
        "source_path": item.display,
        "source_path_b64": item.path_b64,
        "source_encoding": item.encoding,
        "mtime_ns": item.file.mtime_ns,
        "file_mtime": datetime.fromtimestamp(item.file.mtime_ns / 1e9, UTC).isoformat(),
        "recorded_at": item.recorded_at.isoformat() if item.recorded_at else None,
        "file_seq": item.file_seq,
        "duplicate": duplicate,
        "flags": [flag.as_dict() for flag in flags],
    }

"""One docking, from "detected" to "safe to unplug" (or an error with its reason).

detected → mounting (read-only, block devices only) → identify (vendor profile, device
register) → copying ⇄ verifying per file → committed → unmount → safe to unplug. The
ingest pipeline does the copying; this module only decides whether and under which ids,
records the docking in the ledger (R16), keeps the status table current and writes the
officer's receipt.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from docks.blockdev import BlockDevice
from docks.clock import clock_file_content, write_clock_file
from docks.fat import FatError, fat_file_times, fat_usage
from docks.listing import display_path
from docks.mount import Mount, MountError, mount_readonly
from docks.profiles import Identified, Match, Profile, identify
from docks.wipe import wipe_committed
from evidence_station.docking.fairness import FairSlots
from evidence_station.docking.receipt import Receipt, build_receipt, write_receipt
from evidence_station.docking.register import decide, identity_keys
from evidence_station.docking.status import DockStatus, StatusBoard
from evidence_station.i18n import Lang, human_bytes, t
from evidence_station.ingest.model import Outcome, Plan, PlannedFile, SessionResult
from evidence_station.ingest.pipeline import ingest_source, with_file_times
from evidence_station.station import Station
from hashing.ledger import Draft

log = logging.getLogger(__name__)


@dataclass
class DockJob:
    port: str
    kind: str  # usb | block | folder | demo
    source: Path  # device node or folder
    device: BlockDevice | None = None
    unplugged: threading.Event = field(default_factory=threading.Event)
    mount: Mount | None = None


@dataclass
class DockContext:
    station: Station
    board: StatusBoard
    profiles: list[Profile]
    actor: str
    lang: Lang
    slots: FairSlots  # a bounded number of files copy at once, shared fairly between ports
    stopping: threading.Event
    mounts_dir: Path
    on_receipt: Callable[[Receipt, Path], None] = lambda receipt, path: None
    on_session: Callable[[SessionResult], None] = lambda result: None  # e.g. start analysis


class BoardReporter:
    """Feeds pipeline progress into the dock's row of the status board."""

    def __init__(self, board: StatusBoard, port: str) -> None:
        self.board = board
        self.port = port
        self.bytes_done = 0
        self.files_done = 0

    def planned(self, plan: Plan) -> None:
        self.board.update(self.port, files_total=len(plan.to_copy) + len(plan.already),
                          bytes_total=plan.bytes_to_copy, device_id=plan.device_id,
                          officer_id=plan.officer_id)

    def file_started(self, item: PlannedFile) -> None:
        self.board.update(self.port, state="copying")

    def advanced(self, count: int) -> None:
        self.bytes_done += count
        self.board.update(self.port, bytes_done=self.bytes_done)

    def verifying(self, item: PlannedFile) -> None:
        self.board.update(self.port, state="verifying")

    def file_finished(self, outcome: Outcome) -> None:
        self.files_done += 1
        self.board.update(self.port, files_done=self.files_done)


def run_dock(job: DockJob, ctx: DockContext) -> SessionResult | None:
    """Dock one camera; never raises (a dock's failure is its row's ``error`` state)."""
    device = job.device
    ctx.board.set(DockStatus(job.port, job.kind, str(job.source),
                             label=device.filesystem.label if device else None))
    try:
        try:
            return _dock(job, ctx, device)
        finally:
            ctx.slots.session_ended(job.port)
    except MountError as err:
        _record_dock(ctx, job, None, None, accepted=False, reason=str(err))
        ctx.board.update(job.port, state="error", reason=str(err))
    except Exception as err:  # keep the daemon alive; the row says what happened
        log.exception("dock %s failed", job.port)
        ctx.board.update(job.port, state="error", reason=f"{type(err).__name__}: {err}")
    return None


def _dock(job: DockJob, ctx: DockContext, device: BlockDevice | None) -> SessionResult | None:
    """Mount, dock and release one camera. Copy slots are taken per file inside the
    pipeline (:mod:`evidence_station.docking.fairness`), not for the whole session."""
    if ctx.stopping.is_set():
        return None
    refusal = _store_pressure(ctx.station)
    if refusal:  # never delete footage to make room (R11): refuse and say so
        log.warning("%s: %s", job.port, refusal)
        ctx.board.update(job.port, state="error", reason=refusal)
        return None
    if device is None:
        return _dock_root(job, ctx, job.source)[0]
    ctx.board.update(job.port, state="mounting")
    job.mount = mount_readonly(device, ctx.mounts_dir / job.port,
                               zone=ctx.station.config.station.timezone)
    try:
        result, found = _dock_root(job, ctx, job.mount.target)
    finally:
        job.mount.unmount()
    if result is not None and result.safe_to_unplug:
        if found is not None:
            _set_clock(job, ctx, device, found, result)
        _wipe(job, ctx, device, result)
        ctx.board.update(job.port, state="safe_to_unplug")
    return result


def _store_pressure(station: Station) -> str | None:
    """A clear refusal when the store is (nearly) full; ``None`` when there is room."""
    reserve = station.config.ingest.reserve_mib * 1024 * 1024
    free = station.store.free_bytes()
    if free <= reserve:
        return (f"evidence store full ({human_bytes(free)} free, {human_bytes(reserve)} reserved) at "
                f"{station.store.root}: add storage or burn and delete expired footage after "
                "approval; nothing on the camera was touched")
    return None


def _storage(root: Path, device: BlockDevice) -> dict[str, int]:
    """R16: the camera's storage as seen at this docking (a nearly full card is a risk)."""
    stats = os.statvfs(root)
    total, free = stats.f_blocks * stats.f_frsize, stats.f_bavail * stats.f_frsize
    if total == 0 and device.filesystem.type == "vfat":  # fusefat reports no usage
        total, free = fat_usage(device.devnode)
    return {"total": total, "free": free, "used": total - free}


def _record_dock(ctx: DockContext, job: DockJob, match: Match | None, device_id: str | None, *,
                 accepted: bool, reason: str, storage: dict[str, int] | None = None) -> None:
    """R16: every docking is a ledger event — which port, which device, what it held."""
    device = job.device
    fields: dict[str, Any] = {
        "port": job.port, "kind": job.kind, "source": str(job.source), "device_id": device_id,
        "profile": match.profile.name if match else None, "accepted": accepted, "reason": reason,
        "storage": storage,
    }
    if device is not None:
        fields["filesystem"] = {"type": device.filesystem.type, "label": device.filesystem.label,
                                "uuid": device.filesystem.uuid,
                                "probed_by": device.filesystem.probed_by}
        fields["size"] = device.size
        if device.usb is not None:
            usb = device.usb
            fields["usb"] = {"vendor_id": usb.vendor_id, "product_id": usb.product_id,
                             "serial": usb.serial, "manufacturer": usb.manufacturer,
                             "product": usb.product, "port": usb.port}
    ctx.station.record(Draft("dock", ctx.actor, fields))


def _dock_root(job: DockJob, ctx: DockContext,
               root: Path) -> tuple[SessionResult | None, Identified | None]:
    station, board = ctx.station, ctx.board
    zone = station.config.station.timezone
    device = job.device
    found = identify(root, ctx.profiles, station.config.ingest.recording_extensions, zone,
                     label=device.filesystem.label if device else None,
                     usb_id=device.usb.usb_id if device and device.usb else None)
    match, profile = found.match, found.profile
    named_device, named_officer = found.device_id, found.officer_id
    keys = identity_keys(device, named_device)
    with station.lock:
        registered = station.catalog.docking.registered_device(keys)
    decision = decide(keys=keys, profile_matched=match is not None, registered=registered,
                      is_folder=device is None)
    storage = _storage(root, device) if device else None
    _record_dock(ctx, job, match, decision.device_id, accepted=decision.accepted,
                 reason=decision.reason, storage=storage)
    board.update(job.port, device_id=decision.device_id, profile=profile.name if profile else None,
                 officer_id=named_officer or decision.officer_id)
    if not decision.accepted:
        board.update(job.port, state="waiting",
                     reason=t("dock.unknown_storage", ctx.lang, device_id=decision.device_id or "?"))
        return None, found
    file_times = None
    if device is not None and device.filesystem.type == "vfat":
        try:  # FAT times straight from the volume: the FUSE helper's are a month off
            file_times = fat_file_times(device.devnode, zone)
        except (OSError, FatError) as err:
            log.warning("%s: FAT times could not be read (%s); using the mount's", job.port, err)
        if file_times is not None:
            found = dataclasses.replace(found, listing=with_file_times(found.listing, file_times))

    def cancel() -> str | None:
        if job.unplugged.is_set():
            return t("dock.unplugged", ctx.lang)
        if ctx.stopping.is_set():
            return t("dock.stopping", ctx.lang)
        return None

    result = ingest_source(
        station, root, device_id=decision.device_id,
        officer_id=None if named_officer else decision.officer_id, actor=ctx.actor,
        reporter=BoardReporter(board, job.port), profile=profile,
        dock={"port": job.port, "kind": job.kind, "storage": storage}, file_times=file_times,
        cancel=cancel, slot=ctx.slots.for_port(job.port))
    if job.unplugged.is_set() and result.state == "interrupted":
        result.reason = t("dock.unplugged", ctx.lang)
    receipt = build_receipt(result, station=station.name, port=job.port,
                            verifier_key=station.layout.verifier_key.read_text(),
                            made_at=station.clock.now())
    path = write_receipt(receipt, station.layout.root / "receipts", ctx.lang)
    ctx.on_receipt(receipt, path)
    ctx.on_session(result)
    if result.safe_to_unplug:
        state, reason = ("committed" if device else "safe_to_unplug"), None
    else:
        failed = result.count("failed")
        state, reason = "error", result.reason or f"{failed} file(s) failed: see the receipt"
    board.update(job.port, state=state, reason=reason, session_id=result.session_id,
                 receipt=str(path))
    return result, found


def _wipe(job: DockJob, ctx: DockContext, device: BlockDevice, result: SessionResult) -> None:
    """Optional wipe (off unless configured), only after a complete verified session. The
    intent is ledgered first, the outcome after, so the ledger says what left the card."""
    if not ctx.station.config.daemon.wipe_after_commit or not result.safe_to_unplug:
        return
    committed: dict[str, str] = {}
    with ctx.station.lock:
        for outcome in result.outcomes:
            sha256 = outcome.sha256 or ctx.station.catalog.footage.committed_hash(
                result.device_id, outcome.item.path_b64)
            if sha256:
                committed[outcome.item.display] = sha256
    if not committed:
        return
    ctx.station.record(Draft("camera.wipe", ctx.actor, {
        "device_id": result.device_id, "session_id": result.session_id, "port": job.port,
        "files": [{"path": path, "sha256": sha} for path, sha in sorted(committed.items())]}))
    try:
        wiped = wipe_committed(device, committed, ctx.mounts_dir / f"{job.port}-wipe")
        removed, kept = wiped.removed, wiped.kept
    except (MountError, OSError) as err:
        removed, kept = [], dict.fromkeys(committed, str(err))
    ctx.station.record(Draft("camera.wipe.done", ctx.actor, {
        "device_id": result.device_id, "session_id": result.session_id, "removed": removed,
        "kept": [{"path": path, "reason": why} for path, why in sorted(kept.items())]}))


def _set_clock(job: DockJob, ctx: DockContext, device: BlockDevice, found: Identified,
               result: SessionResult) -> None:
    """R1 校时, only when configured and declared, and only after everything is committed:
    first the camera's clock reading goes into the ledger, then the time file is written."""
    profile = found.profile
    if not ctx.station.config.daemon.set_camera_clock or profile is None or profile.clock is None:
        return
    zone = ZoneInfo(ctx.station.config.station.timezone)
    now = ctx.station.clock.now().astimezone(zone)
    newest = max(found.listing.files, key=lambda item: item.mtime_ns, default=None)
    newest_time = datetime.fromtimestamp(newest.mtime_ns / 1e9, zone) if newest else None
    ctx.station.record(Draft("camera.clock", ctx.actor, {
        "device_id": result.device_id, "session_id": result.session_id, "port": job.port,
        "station_time": now.isoformat(),
        "newest_file": display_path(newest.rel_path) if newest else None,
        "newest_file_time": newest_time.isoformat() if newest_time else None,
        # A camera clock ahead of the station shows as a newest file from the future.
        "ahead_by_at_least_s": max(0, int((newest_time - now).total_seconds())) if newest_time else None,
    }))
    setting = profile.clock
    content = clock_file_content(ctx.station.clock.now().astimezone(zone), setting)
    try:
        write_clock_file(device, setting, content, ctx.mounts_dir / f"{job.port}-clock")
    except (MountError, OSError) as err:
        log.warning("%s: clock not set: %s", job.port, err)
        ctx.station.record(Draft("camera.clock_set", ctx.actor, {
            "device_id": result.device_id, "file": setting.file, "ok": False, "error": str(err)}))
        return
    ctx.station.record(Draft("camera.clock_set", ctx.actor, {
        "device_id": result.device_id, "file": setting.file, "ok": True,
        "content": content.decode("ascii").strip(), "source": setting.source}))

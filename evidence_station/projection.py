"""How each ledger event projects into the catalog: one projector per event type.

The catalog applies events strictly in ``seq`` order (``Catalog.apply_events``), each
through the projector registered here for its type; a type the registry
(``event_types``) does not know, or one that projects but has no projector, is refused
rather than skipped, so the catalog can lag the ledger but never silently lose an
event. ``check`` compares every table these write with a fresh projection.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from evidence_station.catalog.case_files import project_case_close, project_case_end
from evidence_station.event_types import EVENT_TYPES
from hashing.ledger import Event

if TYPE_CHECKING:
    from evidence_station.catalog import Catalog

Projector = Callable[["Catalog", Event], None]


class ProjectionError(Exception):
    """An event the catalog cannot project (unknown type, out of order)."""


def _seconds(milliseconds: int | None) -> float | None:
    return milliseconds / 1000 if milliseconds is not None else None


def _station_init(catalog: Catalog, event: Event) -> None:
    catalog.table("meta").upsert({"key": "station", "value": str(event.fields["station"])},
                                 pk="key")


def _touch_device(catalog: Catalog, device_id: str, officer_id: str | None, time: str,
                  sessions: int) -> None:
    table = catalog.table("devices")
    existing = list(catalog.db.query("select * from devices where device_id = ?", [device_id]))
    if existing:
        row = existing[0]
        table.update(device_id, {"last_seen": time, "officer_id": officer_id or row["officer_id"],
                                 "sessions": (row["sessions"] or 0) + sessions})
    else:
        table.insert({"device_id": device_id, "officer_id": officer_id, "first_seen": time,
                      "last_seen": time, "sessions": sessions})


def _session_start(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    catalog.table("sessions").insert(
        {"session_id": fields["session_id"], "device_id": fields["device_id"],
         "officer_id": fields.get("officer_id"), "source": fields["source"],
         "started_at": fields["time"], "state": "running", "start_seq": event.seq,
         "returned_at": fields.get("returned_at")},
        pk="session_id", replace=True,
    )
    _touch_device(catalog, fields["device_id"], fields.get("officer_id"), fields["time"], 1)


def _session_end(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    counts = fields.get("counts", {})
    catalog.table("sessions").update(
        fields["session_id"],
        {"ended_at": fields["time"], "state": fields["state"],
         "reason": fields.get("reason"), "end_seq": event.seq,
         "problems": json.dumps(fields.get("problems", []), ensure_ascii=False, sort_keys=True),
         **{f"files_{key}": counts.get(key, 0)
            for key in ("seen", "committed", "duplicate", "already", "skipped", "failed")},
         "bytes_committed": counts.get("bytes", 0)},
    )


def _ingest(catalog: Catalog, event: Event) -> None:
    seq, fields = event.seq, event.fields
    flags = json.dumps(fields.get("flags", []), ensure_ascii=False, sort_keys=True)
    row = {
        "seq": seq, "clip_id": fields["clip_id"], "sha256": fields["sha256"],
        "session_id": fields.get("session_id"), "device_id": fields["device_id"],
        "officer_id": fields.get("officer_id"), "source_path": fields["source_path"],
        "source_path_b64": fields["source_path_b64"], "size": fields["size"],
        "file_mtime": fields.get("file_mtime"), "mtime_ns": fields.get("mtime_ns"),
        "recorded_at": fields.get("recorded_at"), "ingested_at": fields["time"],
        "duplicate": int(bool(fields.get("duplicate"))), "flags": flags,
        "file_seq": fields.get("file_seq"),
    }
    catalog.table("sources").insert(row, pk="seq", replace=True)
    if not list(catalog.db.query("select 1 from clips where clip_id = ?", [fields["clip_id"]])):
        catalog.table("clips").insert(
            {"clip_id": fields["clip_id"], "sha256": fields["sha256"], "size": fields["size"],
             "first_seq": seq, "ingested_at": fields["time"],
             "recorded_at": fields.get("recorded_at"), "device_id": fields["device_id"],
             "officer_id": fields.get("officer_id"), "source_path": fields["source_path"],
             "flags": flags},
            pk="clip_id",
        )


def _dock(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    if not fields.get("device_id"):
        return  # unknown storage that was not accepted: no device to register
    _touch_device(catalog, fields["device_id"], None, fields["time"], 0)
    storage = fields.get("storage") or {}
    usb = fields.get("usb") or {}
    catalog.table("devices").update(fields["device_id"], {
        "last_port": fields.get("port"), "last_docked": fields["time"],
        "profile": fields.get("profile"), "label": (fields.get("filesystem") or {}).get("label"),
        "usb_serial": usb.get("serial"), "storage_total": storage.get("total"),
        "storage_free": storage.get("free")})


def _device_register(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    _touch_device(catalog, fields["device_id"], fields.get("officer_id"), fields["time"], 0)
    catalog.table("devices").update(fields["device_id"], {
        "registered": 1, "registered_at": fields["time"], "registered_by": fields["actor"],
        "officer_id": fields.get("officer_id"), "note": fields.get("note")})


def _raise_flags(catalog: Catalog, event: Event) -> None:
    for flag in event.fields.get("flags", []):
        catalog.table("review").upsert(
            {"flag_id": flag["flag_id"], "clip_id": flag["clip_id"], "kind": flag["kind"],
             "article": flag.get("article"),
             "figures": json.dumps(flag.get("figures", {}), ensure_ascii=False, sort_keys=True),
             "raised_seq": event.seq, "raised_at": event.fields["time"], "state": "open"},
            pk="flag_id")


def _analysis(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    catalog.table("analysis").upsert(
        {"clip_id": fields["clip_id"], "seq": event.seq, "analysed_at": fields["time"],
         "duration_s": _seconds((fields.get("media") or {}).get("duration_ms")),
         "spoken_time": fields.get("spoken_time"), "transcript": fields.get("transcript"),
         "drift_s": fields.get("drift_s"),
         "media": json.dumps(fields.get("media"), ensure_ascii=False, sort_keys=True)},
        pk="clip_id")
    _raise_flags(catalog, event)


def _review_resolve(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    catalog.table("review").update(fields["flag_id"], {
        "state": "resolved", "resolution": fields.get("resolution"),
        "resolved_by": fields["actor"], "resolved_at": fields["time"], "resolved_seq": event.seq})


def _label(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    # the clips' current labels in one query per 500 (issue 16: not one per clip)
    currents = catalog.casework.labels_of(fields["clip_ids"])
    for clip_id in fields["clip_ids"]:
        # a key the event leaves out keeps the clip's current value (a relabel that does
        # not name the reporter keeps it; older events name every key)
        current = currents.get(clip_id) or {}
        label = {key: fields[key] if key in fields else current.get(key) for key in
                 ("case_number", "party", "handler", "reporter", "complainant", "category")}
        catalog.table("labels").upsert(
            {"clip_id": clip_id, **label, "labelled_by": fields["actor"],
             "labelled_at": fields["time"], "seq": event.seq}, pk="clip_id")
        catalog.table("label_history").insert(
            {"id": f"{event.seq}:{clip_id}", "seq": event.seq, "clip_id": clip_id, **label,
             "actor": fields["actor"], "time": fields["time"]}, pk="id", replace=True)


def _evidence_designate(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    catalog.table("evidence").upsert(
        {"clip_id": fields["clip_id"], "collector": fields["collector"],
         "collected_at": fields["collected_at"], "location": fields["location"],
         "fact_to_prove": fields["fact_to_prove"], "transcript": fields.get("transcript"),
         "designated_by": fields["actor"], "designated_at": fields["time"],
         "seq": event.seq}, pk="clip_id")


def _access(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    catalog.table("access").insert(
        {"seq": event.seq, "clip_id": fields["clip_id"], "kind": event.type.split(".")[1],
         "person": fields.get("viewer") or fields.get("copier"),
         "approver": fields["approver"], "reason": fields["reason"],
         "outside": int(bool(fields.get("outside"))), "actor": fields["actor"],
         "time": fields["time"], "destination": fields.get("destination"),
         "release_request": fields.get("release_request")},
        pk="seq", replace=True)
    if fields.get("release_request") is not None:
        catalog.table("releases").update(fields["release_request"], {"copy_seq": event.seq})


def _access_copy_done(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    catalog.table("access").update(fields["copy_seq"], {
        "done_seq": event.seq, "manifest_sha256": fields["manifest_sha256"]})


def _release_request(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    catalog.table("releases").insert(
        {"request_id": event.seq, "clip_id": fields["clip_id"], "copier": fields["copier"],
         "reason": fields["reason"], "requested_by": fields["actor"],
         "requested_at": fields["time"]}, pk="request_id", replace=True)


def _release_approve(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    catalog.table("releases").update(fields["request_id"], {
        "approved_by": fields["actor"], "approved_at": fields["time"]})


def _hold_place(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    for clip_id in fields["clip_ids"]:
        catalog.table("holds").insert(
            {"hold_id": f"{event.seq}:{clip_id}", "clip_id": clip_id, "reason": fields["reason"],
             "placed_by": fields["actor"], "placed_at": fields["time"], "seq": event.seq},
            pk="hold_id", replace=True)


def _hold_release(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    for clip_id in fields["clip_ids"]:
        catalog.db.execute("update holds set released_by = ?, released_at = ? where clip_id = ? "
                           "and released_at is null", [fields["actor"], fields["time"], clip_id])


def _deletion_request(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    for clip_id in fields["clip_ids"]:
        catalog.table("deletion_requests").upsert(
            {"clip_id": clip_id, "requested_by": fields["actor"], "requested_at": fields["time"],
             "reason": fields.get("reason"), "seq": event.seq}, pk="clip_id")


def _deletion(catalog: Catalog, event: Event) -> None:
    """The tombstone: the hash stays, the file is gone."""
    fields = event.fields
    catalog.table("deletions").upsert(
        {"clip_id": fields["clip_id"], "sha256": fields["sha256"],
         "requested_by": fields["requested_by"], "approved_by": fields["actor"],
         "klass": fields["klass"], "rule": fields["rule"], "expired_on": fields["expired_on"],
         "deleted_at": fields["time"], "seq": event.seq}, pk="clip_id")
    catalog.table("clips").update(fields["clip_id"], {"deleted_at": fields["time"]})
    catalog.db.execute("delete from deletion_requests where clip_id = ?", [fields["clip_id"]])


def _user_add(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    catalog.table("users").upsert(
        {"username": fields["username"], "role": fields["role"],
         "display_name": fields.get("display_name"), "officer_id": fields.get("officer_id"),
         "os_user": fields.get("os_user"), "created_at": fields["time"],
         "updated_at": fields["time"], "updated_by": fields["actor"]}, pk="username")


def _user_enabled(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    disabling = event.type == "user.disable"
    catalog.table("users").update(fields["username"], {
        "disabled_at": fields["time"] if disabling else None,
        "disabled_by": fields["actor"] if disabling else None,
        "updated_at": fields["time"], "updated_by": fields["actor"]})


def _user_role(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    catalog.table("users").update(fields["username"], {
        "role": fields["role"], "updated_at": fields["time"], "updated_by": fields["actor"]})


def _scrub_pass(catalog: Catalog, event: Event) -> None:
    """F34: one completed scrub pass, what ``scrub status`` reads."""
    fields = event.fields
    catalog.table("scrub_passes").insert(
        {"seq": event.seq, "pass_id": fields["pass_id"], "actor": fields["actor"],
         "trigger": fields.get("trigger"), "started_at": fields["started_at"],
         "ended_at": fields["ended_at"], "events": fields["events"], "objects": fields["objects"],
         "bytes": fields["bytes"], "expected_objects": fields["expected_objects"],
         "expected_bytes": fields["expected_bytes"], "coverage": fields["coverage_bp"] / 100,
         "mismatch_count": fields["mismatch_count"],
         "mismatches": json.dumps(fields.get("mismatches", []), ensure_ascii=False,
                                  sort_keys=True)},
        pk="seq", replace=True)


def _disc_burn(catalog: Catalog, event: Event) -> None:
    """R7: which clips are on which burned disc (the compliance report's "evidence without
    a disc" reads this instead of scanning the ledger)."""
    fields = event.fields
    catalog.table("disc_clips").insert_all(
        ({"id": f"{event.seq}:{clip_id}", "seq": event.seq, "clip_id": clip_id,
          "case_number": fields.get("case_number"), "volume_id": fields.get("volume_id"),
          "verified": int(bool(fields.get("verified"))), "burned_at": fields["time"]}
         for clip_id in fields.get("clip_ids", [])), pk="id", replace=True)


PROJECTORS: dict[str, Projector] = {
    "station.init": _station_init,
    "dock": _dock,
    "session.start": _session_start,
    "ingest": _ingest,
    "session.end": _session_end,
    "device.register": _device_register,
    "analysis": _analysis,
    "review.flag": _raise_flags,
    "witness.alarm": _raise_flags,
    "fleet.alarm": _raise_flags,
    "review.resolve": _review_resolve,
    "label": _label,
    "evidence.designate": _evidence_designate,
    "access.view": _access,
    "access.copy": _access,
    "access.copy.done": _access_copy_done,
    "access.release.request": _release_request,
    "access.release.approve": _release_approve,
    "hold.place": _hold_place,
    "hold.release": _hold_release,
    "deletion.request": _deletion_request,
    "deletion": _deletion,
    "disc.burn": _disc_burn,
    "user.add": _user_add,
    "user.disable": _user_enabled,
    "user.enable": _user_enabled,
    "user.role": _user_role,
    "scrub.alarm": _raise_flags,
    "scrub.pass": _scrub_pass,
    # R14 case files
    "case.end": project_case_end,
    "case.close": project_case_close,
}


def project(catalog: Catalog, event: Event) -> None:
    """Apply one event through its type's projector; refuse a type the registry lacks."""
    kind = EVENT_TYPES.get(event.type)
    if kind is None:
        raise ProjectionError(f"ledger event {event.seq} has type {event.type!r}, which is not "
                              "in the registry (evidence_station/event_types.py)")
    _remember_request(catalog, event)
    projector = PROJECTORS.get(event.type)
    if projector is None:
        if kind.tables:
            raise ProjectionError(f"event type {event.type!r} projects into {kind.tables} "
                                  "but has no projector")
        return  # recorded only
    projector(catalog, event)


def _remember_request(catalog: Catalog, event: Event) -> None:
    """A request id in ``auth`` (any type): a client's retry after the daemon restarted
    finds it here and is answered, not recorded again. The first event of a request wins
    (a command may record an intent and its outcome)."""
    auth = event.fields.get("auth")
    if isinstance(auth, dict) and isinstance(auth.get("request_id"), str):
        catalog.table("requests").insert(
            {"request_id": auth["request_id"], "seq": event.seq, "uid": auth.get("uid")},
            pk="request_id", ignore=True)


def projected_tables() -> set[str]:
    """Every catalog table some event projects into: what ``check`` compares."""
    return {table for kind in EVENT_TYPES.values() for table in kind.tables} | {"requests"}



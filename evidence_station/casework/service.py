"""Turn a request (kind, actor, fields) into a validated ledger event, against the
station's current state, and record it — in this process when it can take the ledger,
otherwise through the running daemon, which validates again before recording."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from evidence_station.casework import rules
from evidence_station.casework.identities import IdentityStore, protect
from evidence_station.config import Config
from evidence_station.errors import LedgerProblem
from evidence_station.station import Station
from hashing.ledger import Draft, LedgerBusyError

BUSY_WAIT_S = 10.0


def _clip(station: Station, clip_id: str) -> dict[str, Any]:
    matches = station.catalog.find_clip(clip_id)
    if len(matches) != 1 or matches[0]["id"] != clip_id:
        raise rules.CaseworkError(f"no clip {clip_id!r}; use the 16-character id from `clips`")
    return matches[0]


def _label(station: Station, fields: Mapping[str, Any]) -> dict[str, Any]:
    valid = rules.label_fields(fields)
    for clip_id in valid["clip_ids"]:
        _clip(station, clip_id)
    # R12: identities go to the protected store; the ledger gets commitments only
    store = IdentityStore(station.layout.root / "identities.sqlite")
    try:
        return protect(valid, store)
    finally:
        store.close()


def _evidence(station: Station, fields: Mapping[str, Any]) -> dict[str, Any]:
    clip_id = str(fields.get("clip_id") or "")
    _clip(station, clip_id)
    analysis = station.catalog.analysis_of(clip_id)
    media_kind = (analysis or {}).get("media", {}) or {}
    return rules.evidence_fields(fields, media_kind=media_kind.get("kind"),
                                 transcript=(analysis or {}).get("transcript"))


def _access(kind: str) -> Callable[[Station, Mapping[str, Any]], dict[str, Any]]:
    def build(station: Station, fields: Mapping[str, Any]) -> dict[str, Any]:
        _clip(station, str(fields.get("clip_id") or ""))
        approver = station.catalog.user(str(fields.get("approver") or ""))
        valid = rules.access_fields(kind, fields, approver_role=approver["role"] if approver else None)
        if kind == "copy":
            valid["destination"] = str(fields.get("destination") or "")
            valid["manifest_sha256"] = str(fields.get("manifest_sha256") or "")
        return valid
    return build


def _user_add(station: Station, fields: Mapping[str, Any]) -> dict[str, Any]:
    valid = rules.user_fields(fields)
    if station.catalog.user(valid["username"]) is not None:
        raise rules.CaseworkError(f"user {valid['username']!r} exists; use `user role`")
    return valid


def _user_role(station: Station, fields: Mapping[str, Any]) -> dict[str, Any]:
    username = str(fields.get("username") or "")
    if station.catalog.user(username) is None:
        raise rules.CaseworkError(f"no user {username!r}")
    if fields.get("role") not in rules.ROLES:
        raise rules.CaseworkError(f"role must be one of {', '.join(rules.ROLES)}")
    return {"username": username, "role": fields["role"]}


def _review_resolve(station: Station, fields: Mapping[str, Any]) -> dict[str, Any]:
    flag_id = str(fields.get("flag_id") or "")
    if not station.catalog.has_flag(flag_id):
        raise rules.CaseworkError(f"no flag {flag_id!r}")
    resolution = fields.get("resolution")
    if not isinstance(resolution, str) or not resolution.strip():
        raise rules.CaseworkError("a resolution says what was found or done")
    return {"flag_id": flag_id, "resolution": resolution.strip()}


def _device_register(station: Station, fields: Mapping[str, Any]) -> dict[str, Any]:
    device_id, officer_id = fields.get("device_id"), fields.get("officer_id")
    if not isinstance(device_id, str) or not device_id or not isinstance(officer_id, str) or not officer_id:
        raise rules.CaseworkError("device register needs a device id and an officer id")
    return {"device_id": device_id, "officer_id": officer_id, "note": fields.get("note")}


BUILDERS: dict[str, Callable[[Station, Mapping[str, Any]], dict[str, Any]]] = {
    "label": _label,
    "evidence.designate": _evidence,
    "access.view": _access("view"),
    "access.copy": _access("copy"),
    "user.add": _user_add,
    "user.role": _user_role,
    "user.password": lambda station, fields: {"username": str(fields.get("username"))},
    "review.resolve": _review_resolve,
    "device.register": _device_register,
}


def build_draft(station: Station, kind: str, actor: str, fields: Mapping[str, Any]) -> Draft:
    if kind not in BUILDERS:
        raise rules.CaseworkError(f"{kind!r} is not a request this station accepts")
    if not actor:
        raise rules.CaseworkError("every change names its actor")
    with station.lock:
        return Draft(kind, actor, BUILDERS[kind](station, fields))


def submit(data_dir: Path, config: Config, kind: str, actor: str,
           fields: Mapping[str, Any]) -> int:
    """Record one change; return its ledger seq. Uses the daemon when it holds the ledger."""
    from evidence_station.docking.control import ControlError, send_request, socket_path

    deadline = time.monotonic() + BUSY_WAIT_S
    while True:
        try:
            station = Station.open(data_dir, config, writable=True)
        except LedgerProblem as err:
            if not isinstance(err.__cause__, LedgerBusyError):
                raise
            if socket_path(data_dir).exists():
                try:
                    reply = send_request(data_dir, {"type": kind, "actor": actor,
                                                    "fields": dict(fields)})
                    return int(reply["seq"])
                except ControlError as control_err:
                    if "not answering" not in str(control_err):
                        raise
            # another short-lived writer (a CLI command, a web request): wait for it
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
            continue
        with station:
            return station.record(build_draft(station, kind, actor, fields)).seq

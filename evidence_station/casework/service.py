"""Turn a request (kind, actor, fields) into a validated ledger event, against the
station's current state, and record it — in this process when it can take the ledger,
otherwise through the running daemon, which validates again before recording."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from evidence_station.casework import retention, rules
from evidence_station.casework.identities import IdentityStore, protect
from evidence_station.config import Config
from evidence_station.errors import LedgerProblem
from evidence_station.station import Station
from hashing.ledger import Draft, LedgerBusyError
from retention.policy import deletion_refusal, sweep

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


def _clip_list(station: Station, fields: Mapping[str, Any]) -> list[str]:
    clip_ids = fields.get("clip_ids")
    if not isinstance(clip_ids, list) or not clip_ids:
        raise rules.CaseworkError("choose at least one clip")
    for clip_id in clip_ids:
        _clip(station, str(clip_id))
    return sorted({str(c) for c in clip_ids})


def _reason(fields: Mapping[str, Any]) -> str:
    reason = fields.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise rules.CaseworkError("give the reason (事由)")
    return reason.strip()


def _hold(station: Station, fields: Mapping[str, Any]) -> dict[str, Any]:
    return {"clip_ids": _clip_list(station, fields), "reason": _reason(fields)}


def _deletion_request(station: Station, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Only expired footage may even be requested for deletion (R11); saying why if not."""
    clip_ids = _clip_list(station, fields)
    now = retention.today(station.config, _when(fields))
    for clip_id in clip_ids:
        state = retention.retention_of(station, clip_id)
        if state is None:
            raise rules.CaseworkError(f"{clip_id} is already deleted")
        refusal = deletion_refusal(state, now, requested_by="request", approver="approval")
        if refusal:
            raise rules.CaseworkError(refusal)
    return {"clip_ids": clip_ids, "reason": _reason(fields), "today": now.isoformat()}


def _when(fields: Mapping[str, Any]) -> datetime | None:
    value = fields.get("now")
    return datetime.fromisoformat(str(value)) if value else None


def _deletion(station: Station, fields: Mapping[str, Any], actor: str) -> dict[str, Any]:
    clip_id = str(fields.get("clip_id") or "")
    clip = _clip(station, clip_id)
    state = retention.retention_of(station, clip_id)
    if state is None:
        raise rules.CaseworkError(f"{clip_id} is already deleted")
    now = retention.today(station.config, _when(fields))
    request = station.catalog.deletion_request(clip_id)
    refusal = deletion_refusal(state, now, requested_by=request["requested_by"] if request else None,
                               approver=actor)
    if refusal:
        raise rules.CaseworkError(refusal)
    assert request is not None and state.expires is not None
    return {"clip_id": clip_id, "sha256": clip["sha256"], "requested_by": request["requested_by"],
            "klass": state.klass, "rule": state.rule, "expired_on": state.expires.isoformat(),
            "today": now.isoformat()}


def expired_now(station: Station, now: datetime | None) -> list[dict[str, Any]]:
    """The sweep: every clip whose retention is over (and not held), with its rule."""
    day = retention.today(station.config, now)
    policy = retention.policy_of(station.config)
    return [{"id": state.clip_id, "sha256": state.sha256, "class": state.klass,
             "rule": state.rule, "expired_on": state.expires.isoformat() if state.expires else None}
            for state in sweep(retention.clip_facts(station), policy, day)]


def _sweep(station: Station, fields: Mapping[str, Any]) -> dict[str, Any]:
    return {"today": retention.today(station.config, _when(fields)).isoformat(),
            "expired": expired_now(station, _when(fields))}


BUILDERS: dict[str, Callable[[Station, Mapping[str, Any]], dict[str, Any]]] = {
    "retention.sweep": _sweep,
    "hold.place": _hold,
    "hold.release": _hold,
    "deletion.request": _deletion_request,
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
    if not actor:
        raise rules.CaseworkError("every change names its actor")
    with station.lock:
        if kind == "deletion":  # the approver is the actor: checked against the requester
            return Draft(kind, actor, _deletion(station, fields, actor))
        if kind not in BUILDERS:
            raise rules.CaseworkError(f"{kind!r} is not a request this station accepts")
        return Draft(kind, actor, BUILDERS[kind](station, fields))


def after_record(station: Station, draft: Draft) -> None:
    """What happens once an event is durable: an approved deletion removes the file."""
    if draft.type == "deletion":
        retention.remove_stored_file(station, str(draft.fields["sha256"]))


def record(station: Station, kind: str, actor: str, fields: Mapping[str, Any]) -> int:
    draft = build_draft(station, kind, actor, fields)
    seq = station.record(draft).seq
    after_record(station, draft)
    return seq


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
            return record(station, kind, actor, fields)

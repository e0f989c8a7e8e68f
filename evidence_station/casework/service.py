"""The one door for every change (DESIGN.md, "The write path: one door").

Every change from every entry point — a CLI command in-process or served by the daemon,
a web form, the scheduler — comes here as ``perform(station, actor, kind, fields)``:

1. **authenticate** — ``actor`` is an :class:`~evidence_station.identity.Actor` that the
   caller's front end authenticated (never a typed name);
2. **authorise** — the account's role must carry the request's permission;
3. **validate** — pure rules against the station's current state and the station's clock
   (never a caller's "now"); a refusal raises :class:`RefusedError` and leaves nothing;
4. **record** — one durable ledger event, which also **projects** it into the catalog;
5. **act** — what must follow the durable record (remove a deleted file, store a password
   hash). Acts that write outside the data dir (an access copy) are an intent event
   before and an outcome event after, recorded by the command through this same door.
"""

from __future__ import annotations

import pwd
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from evidence_station.case_files import build_case_close, build_case_end
from evidence_station.casework import retention, retry, rules
from evidence_station.casework.accounts import MIN_PASSWORD, AccountStore

# service.authorise is re-exported: callers check a permission through the service
from evidence_station.casework.authorise import authorise as authorise
from evidence_station.casework.identities import IdentityStore, protect
from evidence_station.casework.logins import end_sessions_of
from evidence_station.custody import build_custody_report
from evidence_station.errors import RefusedError
from evidence_station.identity import BUILT_IN, Actor
from evidence_station.station import Station
from hashing.ledger import RESERVED_FIELDS, Draft, Event
from retention.policy import deletion_refusal, sweep

Builder = Callable[[Station, Actor, Mapping[str, Any]], dict[str, Any]]
Act = Callable[[Station, Mapping[str, Any], Event], None]


def _clip(station: Station, clip_id: str) -> dict[str, Any]:
    matches = station.catalog.footage.find_clip(clip_id)
    if len(matches) != 1 or matches[0]["id"] != clip_id:
        raise RefusedError(f"no clip {clip_id!r}; use the 16-character id from `clips`")
    return matches[0]


def _clips_exist(station: Station, clip_ids: list[str]) -> None:
    """Refuse the first id that is not a clip, as :func:`_clip` would, with one query for
    the lot (issue 16: a session's label request checked its clips one by one)."""
    existing = station.catalog.footage.existing_clip_ids(clip_ids)
    for clip_id in clip_ids:
        if clip_id not in existing:
            raise RefusedError(f"no clip {clip_id!r}; use the 16-character id from `clips`")


def _clip_list(station: Station, fields: Mapping[str, Any]) -> list[str]:
    clip_ids = fields.get("clip_ids")
    if not isinstance(clip_ids, list) or not clip_ids:
        raise RefusedError("choose at least one clip")
    _clips_exist(station, [str(clip_id) for clip_id in clip_ids])
    return sorted({str(c) for c in clip_ids})


def _reason(fields: Mapping[str, Any]) -> str:
    reason = fields.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise RefusedError("give the reason (事由)")
    return reason.strip()


def _label(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
    valid = rules.label_fields(fields)
    _clips_exist(station, list(valid["clip_ids"]))
    # R12: identities go to the protected store; the ledger gets commitments only
    store = IdentityStore(station.layout.root / "identities.sqlite")
    try:
        return protect(valid, store)
    finally:
        store.close()


def _evidence(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
    clip_id = str(fields.get("clip_id") or "")
    _clip(station, clip_id)
    analysis = station.catalog.footage.analysis_of(clip_id)
    media_kind = (analysis or {}).get("media", {}) or {}
    return rules.evidence_fields(fields, media_kind=media_kind.get("kind"),
                                 transcript=(analysis or {}).get("transcript"))


def _access(kind: str) -> Builder:
    def build(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
        if kind == "copy" and fields.get("release_request") is not None:
            return _release_copy(station, actor, fields)
        _clip(station, str(fields.get("clip_id") or ""))
        valid = rules.access_fields(kind, fields)
        if kind == "copy":
            valid["destination"] = _text_field(fields, "destination")
        return valid
    return build


def _text_field(fields: Mapping[str, Any], key: str) -> str:
    value = fields.get(key)
    if not isinstance(value, str) or not value:
        raise RefusedError(f"`{key}` is required")
    return value


def _release_request(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
    valid = rules.release_request_fields(fields)
    _clip(station, valid["clip_id"])
    return valid


def _open_release(station: Station, fields: Mapping[str, Any]) -> dict[str, Any]:
    try:
        request_id = int(fields.get("request_id", fields.get("release_request")))
    except (TypeError, ValueError) as err:
        raise RefusedError("name the release request by its number (from `access copy --outside`)") from err
    request = station.catalog.casework.release_request(request_id)
    if request is None:
        raise RefusedError(f"there is no release request #{request_id}")
    return request


def _release_approve(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
    """R12: approval is an act of the approver, a different admin account than the requester."""
    request = _open_release(station, fields)
    if request["approved_by"]:
        raise RefusedError(f"release request #{request['request_id']} was already approved by "
                           f"{request['approved_by']}")
    if request["requested_by"] == actor.account:
        raise RefusedError(f"release request #{request['request_id']}: the approver must be another "
                           f"admin than the requester ({actor.account})")
    return {"request_id": request["request_id"], "clip_id": request["clip_id"]}


def _release_copy(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
    request = _open_release(station, fields)
    if not request["approved_by"]:
        raise RefusedError(f"release request #{request['request_id']} is not approved yet; an admin "
                           "other than the requester runs `access approve`")
    if request["copy_seq"] is not None:
        raise RefusedError(f"release request #{request['request_id']} was already used for the copy "
                           f"recorded at #{request['copy_seq']}; file a new request")
    if fields.get("clip_id") not in (None, request["clip_id"]):
        raise RefusedError(f"release request #{request['request_id']} is for clip {request['clip_id']}")
    return {"clip_id": request["clip_id"], "copier": request["copier"], "reason": request["reason"],
            "approver": request["approved_by"], "outside": True,
            "release_request": request["request_id"],
            "destination": _text_field(fields, "destination")}


def _copy_done(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
    copy_seq = fields.get("copy_seq")
    if not isinstance(copy_seq, int) or copy_seq >= station.ledger.size:
        raise RefusedError("`copy_seq` names the access.copy event of this copy")
    intent = station.ledger.event(copy_seq)
    if intent.type != "access.copy" or intent.fields["actor"] != actor.account:
        raise RefusedError(f"#{copy_seq} is not an access.copy by {actor.account}")
    return {"copy_seq": copy_seq, "clip_id": intent.fields["clip_id"],
            "sha256": _text_field(fields, "sha256"),
            "manifest_sha256": _text_field(fields, "manifest_sha256")}


def _password(fields: Mapping[str, Any]) -> None:
    password = fields.get("password")
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise RefusedError(f"passwords have at least {MIN_PASSWORD} characters")


def _user_add(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
    valid = rules.user_fields(fields)
    name = valid["username"]
    if name in BUILT_IN or station.catalog.accounts.user(name) is not None:
        raise RefusedError(f"user {name!r} exists; use `user role` or `user passwd`")
    _password(fields)
    os_user = fields.get("os_user")
    if os_user is not None:
        if not isinstance(os_user, str) or not os_user:
            raise RefusedError("`os_user` is an OS login name")
        try:
            pwd.getpwnam(os_user)
        except KeyError as err:
            raise RefusedError(f"there is no OS user {os_user!r} on this station") from err
        taken = station.catalog.accounts.user_for_os_login(os_user)
        if taken is not None:
            raise RefusedError(f"OS user {os_user!r} is already mapped to account {taken['username']!r}")
    return {**valid, "os_user": os_user}


def _existing_user(station: Station, fields: Mapping[str, Any]) -> str:
    username = str(fields.get("username") or "")
    if station.catalog.accounts.user(username) is None:
        raise RefusedError(f"no user {username!r}")
    return username


def _user_role(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
    username = _existing_user(station, fields)
    if fields.get("role") not in rules.ROLES:
        raise RefusedError(f"role must be one of {', '.join(rules.ROLES)}")
    return {"username": username, "role": fields["role"]}


def _user_password(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
    username = _existing_user(station, fields)
    _password(fields)
    return {"username": username}


def _user_disable(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
    username = _existing_user(station, fields)
    if username == actor.account:
        raise RefusedError("an account cannot disable itself")
    return {"username": username}


def _set_password(station: Station, fields: Mapping[str, Any], event: Event) -> None:
    store = AccountStore(station.layout.root / "accounts.sqlite", station.clock)
    try:
        store.set_password(str(event.fields["username"]), str(fields["password"]))
    finally:
        store.close()


def _new_password(station: Station, fields: Mapping[str, Any], event: Event) -> None:
    """A changed password ends the account's web sessions first: whoever held the old one
    must not stay logged in, even if storing the new hash then fails."""
    _end_sessions(station, fields, event)
    _set_password(station, fields, event)


def _end_sessions(station: Station, fields: Mapping[str, Any], event: Event) -> None:
    """A disabled account (or a changed password) logs out everywhere at once."""
    end_sessions_of(station.layout.root, str(event.fields["username"]))


def _review_resolve(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
    flag_id = str(fields.get("flag_id") or "")
    if not station.catalog.flags.has_flag(flag_id):
        raise RefusedError(f"no flag {flag_id!r}")
    resolution = fields.get("resolution")
    if not isinstance(resolution, str) or not resolution.strip():
        raise RefusedError("a resolution says what was found or done")
    return {"flag_id": flag_id, "resolution": resolution.strip()}


def _device_register(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
    device_id, officer_id = fields.get("device_id"), fields.get("officer_id")
    if not isinstance(device_id, str) or not device_id or not isinstance(officer_id, str) or not officer_id:
        raise RefusedError("device register needs a device id and an officer id")
    return {"device_id": device_id, "officer_id": officer_id, "note": fields.get("note")}


def _hold(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
    return {"clip_ids": _clip_list(station, fields), "reason": _reason(fields)}


def _deletion_request(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Only expired footage may even be requested for deletion (R11), judged on the
    station's date; saying why if not."""
    clip_ids = _clip_list(station, fields)
    today = retention.today(station)
    for clip_id in clip_ids:
        state = retention.retention_of(station, clip_id)
        if state is None:
            raise RefusedError(f"{clip_id} is already deleted")
        refusal = deletion_refusal(state, today, requested_by="request", approver="approval")
        if refusal:
            raise RefusedError(refusal)
    return {"clip_ids": clip_ids, "reason": _reason(fields), "today": today.isoformat()}


def _deletion(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
    """R11: the approval is the approver's own act, by an admin other than the requester."""
    clip_id = str(fields.get("clip_id") or "")
    clip = _clip(station, clip_id)
    state = retention.retention_of(station, clip_id)
    if state is None:
        raise RefusedError(f"{clip_id} is already deleted")
    today = retention.today(station)
    request = station.catalog.casework.deletion_request(clip_id)
    refusal = deletion_refusal(state, today, requested_by=request["requested_by"] if request else None,
                               approver=actor.account,
                               approver_is_admin=rules.can(actor.role, "deletion.approve"))
    if refusal:
        raise RefusedError(refusal)
    assert request is not None and state.expires is not None
    return {"clip_id": clip_id, "sha256": clip["sha256"], "requested_by": request["requested_by"],
            "request_seq": request["seq"], "klass": state.klass, "rule": state.rule,
            "expired_on": state.expires.isoformat(), "today": today.isoformat()}


def _remove_file(station: Station, fields: Mapping[str, Any], event: Event) -> None:
    retention.remove_stored_file(station, str(event.fields["sha256"]))


def expired_now(station: Station, as_of: Any = None) -> list[dict[str, Any]]:
    """The sweep: every clip whose retention is over (and not held), with its rule. ``as_of``
    (a date) is only for read-only listings; the default is the station's date."""
    day = as_of or retention.today(station)
    policy = retention.policy_of(station.config)
    return [{"id": state.clip_id, "sha256": state.sha256, "class": state.klass,
             "rule": state.rule, "expired_on": state.expires.isoformat() if state.expires else None}
            for state in sweep(retention.clip_facts(station), policy, day)]


def _sweep(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
    return {"today": retention.today(station).isoformat(), "expired": expired_now(station)}


@dataclass(frozen=True)
class Request:
    """One kind of change: the permission it needs, its validation, and its act."""

    permission: str
    build: Builder
    act: Act | None = None


REQUESTS: dict[str, Request] = {
    "retention.sweep": Request("retention.view", _sweep),
    "hold.place": Request("hold", _hold),
    "hold.release": Request("hold", _hold),
    "deletion.request": Request("deletion.request", _deletion_request),
    "deletion": Request("deletion.approve", _deletion, _remove_file),
    "label": Request("label", _label),
    "evidence.designate": Request("evidence", _evidence),
    "access.view": Request("access.register", _access("view")),
    "access.copy": Request("access.register", _access("copy")),
    "access.copy.done": Request("access.register", _copy_done),
    "access.release.request": Request("access.register", _release_request),
    "access.release.approve": Request("access.approve_outside", _release_approve),
    "user.add": Request("users.manage", _user_add, _set_password),
    "user.role": Request("users.manage", _user_role),
    "user.password": Request("users.manage", _user_password, _new_password),
    "user.disable": Request("users.manage", _user_disable, _end_sessions),
    "user.enable": Request("users.manage", lambda s, a, f: {"username": _existing_user(s, f)}),
    "review.resolve": Request("review.resolve", _review_resolve),
    "device.register": Request("devices.manage", _device_register),
    # R14 case files, and a custody report read (who saw which clips' history)
    "case.end": Request("casefile", build_case_end),
    "case.close": Request("casefile", build_case_close),
    "report": Request("custody", build_custody_report),
}


# Fields of an event the station fills in itself (the ledger's own plus the provenance).
STATION_SET_FIELDS = RESERVED_FIELDS | {"auth"}


def perform(station: Station, actor: Actor, kind: str, fields: Mapping[str, Any],
            *, request_id: str | None = None) -> Event:
    """Authorise, validate, record (durable, projected), act — in that order."""
    request = REQUESTS.get(kind)
    if request is None:
        raise RefusedError(f"{kind!r} is not a request this station accepts")
    forged = sorted(STATION_SET_FIELDS.intersection(fields))
    if forged:  # who acts and when is the station's to say, never the request's
        raise RefusedError(f"a request may not set {', '.join(forged)}: the station records "
                           "the authenticated account and its own time")
    authorise(actor, request.permission)
    with station.lock:  # validation sees the state the record lands on
        station.catalog.catch_up(station.ledger)  # ... all of it, had a projection failed
        # Issue 22: a request repeated after a crash is acknowledged, not recorded twice.
        if kind in retry.RETRIED_BEFORE_VALIDATION:
            repeated = retry.already_recorded(station, actor, kind, fields)
            if repeated is not None:
                if request.act is not None:  # finish what the crash may have cut short
                    request.act(station, fields, repeated)
                return repeated
        valid = request.build(station, actor, fields)
        repeated = retry.already_recorded(station, actor, kind, valid)
        if repeated is not None:
            return repeated
        auth = actor.provenance()
        if request_id:
            auth["request_id"] = request_id
        event = station.record(Draft(kind, actor.account, {**valid, "auth": auth}))
        if request.act is not None:
            request.act(station, fields, event)
    return event


def record_own(station: Station, actor: Actor, kind: str, fields: Mapping[str, Any]) -> Event:
    """Events a command records about its own act (a checkpoint issued, an export written, a
    report made, a disc burned): authorised by the command, stamped with the actor's
    provenance like every other change."""
    return station.record(Draft(kind, actor.account, {**fields, "auth": actor.provenance()}))

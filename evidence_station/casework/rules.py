"""Who may do what, and what a valid label, designation or access record is.

Pure functions: the CLI, the web UI and the daemon's control socket all call these, so a
request refused in one place is refused in all of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from evidence_station.errors import RefusedError
from retention.policy import LONG_TERM_CATEGORIES

ROLES = ("officer", "clerk", "auditor", "admin")

# Each role sees and may do only its part (R10: usage rights restricted by role).
PERMISSIONS: dict[str, frozenset[str]] = {
    "officer": frozenset({"clips.own", "docks.view", "ingest"}),
    "clerk": frozenset({"clips.all", "clips.play", "label", "evidence", "access.register",
                        "review.resolve", "docks.view", "identity.view", "ingest", "devices.manage",
                        "hold", "deletion.request", "disc.burn", "analysis.run", "retention.view",
                        "ledger.checkpoint", "custody", "casefile"}),
    "auditor": frozenset({"clips.all", "ledger.view", "ledger.verify", "ledger.export", "docks.view",
                          "reports", "retention.view", "ledger.checkpoint", "disc.verify",
                          "custody"}),
    "admin": frozenset({"clips.all", "users.manage", "docks.view", "settings.view", "ledger.view",
                        "identity.view", "access.approve_outside", "access.register", "hold",
                        "deletion.request", "deletion.approve", "reports", "retention.view",
                        "ledger.export", "ledger.checkpoint", "catalog.rebuild", "devices.manage",
                        "analysis.run", "ingest", "disc.verify", "custody", "casefile"}),
}
# What the station does by itself (docking, analysis, sweeps) and the break-glass root.
ALL_PERMISSIONS = frozenset().union(*PERMISSIONS.values())
PERMISSIONS["system"] = ALL_PERMISSIONS
# R12: reporters' and complainants' identities never leak to roles without identity.view.
IDENTITY_FIELDS = ("reporter", "complainant")
# What the footage is about; the R9 ones (LONG_TERM_CATEGORIES) are preserved long-term.
CATEGORIES = ("penalty", "coercion", "inspection", "other", *LONG_TERM_CATEGORIES)
MASK = "***"
USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{2,40}$")


# One error hierarchy (errors.py): a rule's refusal is a RefusedError everywhere.
CaseworkError = RefusedError


def can(role: str | None, action: str) -> bool:
    return role in PERMISSIONS and action in PERMISSIONS[role]


def require(role: str | None, action: str, who: str) -> None:
    if not can(role, action):
        raise CaseworkError(f"{who} ({role or 'no role'}) may not {action}")


def _text(fields: Mapping[str, Any], key: str, *, required: bool, limit: int = 200) -> str | None:
    value = fields.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise CaseworkError(f"`{key}` is required")
        return None
    if not isinstance(value, str) or len(value) > limit or "\n" in value:
        raise CaseworkError(f"`{key}` must be one line of at most {limit} characters")
    return value.strip()


# Optional label fields a relabel keeps unless the request names them (see label_fields).
KEPT_LABEL_FIELDS = (*IDENTITY_FIELDS, "category")


def label_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """R5: case number, party and handler, for one or more clips.

    Reporter, complainant and category are optional, and a relabel that leaves one *out*
    keeps the clip's current value (the event then lacks that key); naming it empty clears
    it on purpose. A form that always sent them empty used to erase identities (R12) and a
    long-term category (R9) whenever a clerk corrected a case number."""
    clip_ids = fields.get("clip_ids")
    if not isinstance(clip_ids, list) or not clip_ids or not all(isinstance(c, str) for c in clip_ids):
        raise CaseworkError("choose at least one clip to label")
    result: dict[str, Any] = {"clip_ids": sorted(set(clip_ids))}
    for key in ("case_number", "party", "handler"):
        result[key] = _text(fields, key, required=True)
    for key in KEPT_LABEL_FIELDS:
        if key in fields:
            result[key] = _text(fields, key, required=False)
    category = result.get("category")
    if category is not None and category not in CATEGORIES:
        raise CaseworkError(f"category must be one of {', '.join(CATEGORIES)}, not {category!r}")
    return result


def evidence_fields(fields: Mapping[str, Any], *, media_kind: str | None,
                    transcript: str | None) -> dict[str, Any]:
    """R7 designation; R8: audio-only evidence needs a written transcript."""
    result: dict[str, Any] = {"clip_id": _text(fields, "clip_id", required=True)}
    for key in ("collector", "location", "fact_to_prove"):
        result[key] = _text(fields, key, required=True, limit=1000)
    collected = _text(fields, "collected_at", required=True)
    try:
        datetime.fromisoformat(str(collected))
    except ValueError as err:
        raise CaseworkError(f"`collected_at` {collected!r} is not a time like 2026-11-03T14:30") from err
    result["collected_at"] = collected
    written = _text(fields, "transcript", required=False, limit=100_000) if "transcript" in fields \
        else None
    if media_kind == "audio" and not (written or transcript):
        raise CaseworkError("R8: audio-only evidence needs a written transcript of its content; "
                            "give one (--transcript-file) or analyse the clip with a speech model")
    result["transcript"] = written
    return result


def access_fields(kind: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """R10: who views or copies, who approved, why. The approver typed here is what the
    custodian (the actor) attests from the paper approval, and is recorded as such
    (``attested_approver``). R12: a release outside the unit is never attested: it needs a
    request and an admin's own authenticated approval (``access.release.*``)."""
    if kind not in ("view", "copy"):
        raise CaseworkError(f"access kind must be view or copy, not {kind!r}")
    if fields.get("outside"):
        raise CaseworkError("R12: a release outside the unit needs a request and an admin's approval: "
                            "`access copy CLIP --outside --copier C --reason R` files the request, "
                            "another admin runs `access approve REQUEST`, then "
                            "`access copy --request REQUEST --out DIR` writes the copy")
    person = "viewer" if kind == "view" else "copier"
    return {
        "clip_id": _text(fields, "clip_id", required=True),
        person: _text(fields, person, required=True),
        "approver": _text(fields, "approver", required=True),
        "approver_attested_by_actor": True,
        "reason": _text(fields, "reason", required=True, limit=1000),
        "outside": False,
    }


def release_request_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """R12: the request half of a release outside the unit (writes nothing out)."""
    return {"clip_id": _text(fields, "clip_id", required=True),
            "copier": _text(fields, "copier", required=True),
            "reason": _text(fields, "reason", required=True, limit=1000)}


def user_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    username = fields.get("username")
    if not isinstance(username, str) or not USERNAME.match(username):
        raise CaseworkError("user names are 2–40 letters, digits, '.', '_' or '-'")
    role = fields.get("role")
    if role not in ROLES:
        raise CaseworkError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return {"username": username, "role": role,
            "display_name": _text(fields, "display_name", required=False),
            "officer_id": _text(fields, "officer_id", required=False)}

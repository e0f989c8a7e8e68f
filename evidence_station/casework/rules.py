"""Who may do what, and what a valid label, designation or access record is.

Pure functions: the CLI, the web UI and the daemon's control socket all call these, so a
request refused in one place is refused in all of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from retention.policy import LONG_TERM_CATEGORIES

ROLES = ("officer", "clerk", "auditor", "admin")

# Each role sees and may do only its part.
PERMISSIONS: dict[str, frozenset[str]] = {
    "officer": frozenset({"clips.own", "docks.view"}),
    "clerk": frozenset({"clips.all", "clips.play", "label", "evidence", "access.register",
                        "review.resolve", "docks.view", "identity.view"}),
    "auditor": frozenset({"clips.all", "ledger.view", "ledger.verify", "ledger.export", "docks.view"}),
    "admin": frozenset({"clips.all", "users.manage", "docks.view", "settings.view", "ledger.view",
                        "identity.view", "access.approve_outside"}),
}
# R12: reporters' and complainants' identities never leak to roles without identity.view.
IDENTITY_FIELDS = ("reporter", "complainant")
# What the footage is about; the R9 ones (LONG_TERM_CATEGORIES) are preserved long-term.
CATEGORIES = ("penalty", "coercion", "inspection", "other", *LONG_TERM_CATEGORIES)
MASK = "***"
USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{2,40}$")


class CaseworkError(ValueError):
    """A request that breaks a rule; the message says which and what to do."""


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


def label_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """R5: case number, party and handler, for one or more clips."""
    clip_ids = fields.get("clip_ids")
    if not isinstance(clip_ids, list) or not clip_ids or not all(isinstance(c, str) for c in clip_ids):
        raise CaseworkError("choose at least one clip to label")
    result: dict[str, Any] = {"clip_ids": sorted(set(clip_ids))}
    for key in ("case_number", "party", "handler"):
        result[key] = _text(fields, key, required=True)
    for key in IDENTITY_FIELDS:
        result[key] = _text(fields, key, required=False)
    category = _text(fields, "category", required=False)
    if category is not None and category not in CATEGORIES:
        raise CaseworkError(f"category must be one of {', '.join(CATEGORIES)}, not {category!r}")
    result["category"] = category
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


def access_fields(kind: str, fields: Mapping[str, Any], *, approver_role: str | None) -> dict[str, Any]:
    """R10: who views or copies, who approved, why. R12: release outside the unit needs an
    approver who may approve it (an admin)."""
    if kind not in ("view", "copy"):
        raise CaseworkError(f"access kind must be view or copy, not {kind!r}")
    person = "viewer" if kind == "view" else "copier"
    result: dict[str, Any] = {
        "clip_id": _text(fields, "clip_id", required=True),
        person: _text(fields, person, required=True),
        "approver": _text(fields, "approver", required=True),
        "reason": _text(fields, "reason", required=True, limit=1000),
        "outside": bool(fields.get("outside", False)),
    }
    if result["outside"] and not can(approver_role, "access.approve_outside"):
        raise CaseworkError("R12: release outside the unit must be approved by an admin; "
                            f"{result['approver']!r} is {approver_role or 'not a user here'}")
    return result


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

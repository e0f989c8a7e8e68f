"""A request repeated after a crash is the same request: acknowledge it, record nothing.

A command killed after its event became durable but before it said so (kill -9, a power
cut, a dropped control-socket connection) leaves the person who ran it without an answer;
they run it again. Without this module that second run records the act a second time —
two identical labels, two holds for one litigation, two deletion requests — and the
catalog shows a duplicate the person never meant (issue 22, crash points). So before
recording, :func:`already_recorded` asks whether the event that set the present state of
these clips is this very request — same type, same account, same fields — and if so the
door returns that event instead of a new one. A request that would change anything (other
values, another account, a released hold) is recorded as always.

An approved deletion is the one such request whose act can be left half done (its
tombstone durable, the file not yet unlinked): its retry returns the tombstone and runs the
act again, which finishes the deletion (R11) — unlinking is idempotent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from evidence_station.identity import Actor
from evidence_station.station import Station
from hashing.ledger import RESERVED_FIELDS, Event

# Which catalog row says which event set a clip's present state, per request kind.
_STATE_SEQS = {
    "label": "select seq from labels where clip_id = ?",
    "evidence.designate": "select seq from evidence where clip_id = ?",
    "hold.place": "select seq from holds where clip_id = ? and released_at is null",
    "deletion.request": "select seq from deletion_requests where clip_id = ?",
    "deletion": "select seq from deletions where clip_id = ?",
}
RETRIED_BEFORE_VALIDATION = frozenset({"deletion"})  # validation refuses a deleted clip


def _clip_ids(fields: Mapping[str, Any]) -> list[str]:
    if isinstance(fields.get("clip_ids"), list):
        return [str(clip) for clip in fields["clip_ids"]]
    return [str(fields["clip_id"])] if fields.get("clip_id") else []


def _plain(value: Mapping[str, Any]) -> dict[str, Any]:
    """The fields as they read back from the ledger (tuples are lists there, and so on)."""
    return dict(json.loads(json.dumps(dict(value), ensure_ascii=False)))


def already_recorded(station: Station, actor: Actor, kind: str,
                     fields: Mapping[str, Any]) -> Event | None:
    """The earlier event this request repeats, or None. For most kinds ``fields`` are the
    validated fields; for kinds in :data:`RETRIED_BEFORE_VALIDATION` the request's own."""
    query = _STATE_SEQS.get(kind)
    clips = _clip_ids(fields)
    if query is None or not clips:
        return None
    seqs: set[int] = set()
    for clip_id in clips:
        rows = [int(row["seq"]) for row in station.catalog.db.query(query, [clip_id])]
        if not rows:
            return None
        seqs.update(rows)
    for seq in sorted(seqs, reverse=True):
        if seq >= station.ledger.size:
            continue
        event = station.ledger.event(seq)
        if event.type != kind or event.fields.get("actor") != actor.account:
            continue
        if sorted(_clip_ids(event.fields)) != sorted(clips):
            continue
        if kind in RETRIED_BEFORE_VALIDATION:
            return event
        recorded = {key: value for key, value in event.fields.items()
                    if key not in RESERVED_FIELDS and key != "auth"}
        if recorded == _plain(fields):
            return event
    return None

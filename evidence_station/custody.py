"""Chain of custody: every ledger event touching some clips, in ledger order, each with
its inclusion proof against the latest signed (cosigned where available) checkpoint,
checked when the report is made.

Which events "touch" the clips is derived from the event fields, not from a list of
types, so event types added later (scrub, replication) are included without a change
here. An event touches the clips when
1. any of its values (at any depth: lists, nested objects) contains a clip's id — the
   first 16 hex digits of its SHA-256, so a full hash or a file named by it counts too —
   or, for a report by case number, equals that case number; or
2. it names no clip at all (no ``clip_id``/``clip_ids``/``sha256`` field) but refers to
   something a touching event introduced: its docking session (``session_id``: the
   session's start and end, with the port), a review flag (``flag_id``: the flag's
   resolution), a disc (``volume_id``: the disc's read-back verification), or the event
   itself (a ``*_seq``/``request_id`` field naming a touching event's seq).
The ledger's own fields (``prev``, ``station``) never count.

Checking: each covered event's canonical bytes are wrapped as a C2SP tlog-proof (the
event as ``extra``, its inclusion proof, the checkpoint) and verified by
``hashing.proof.verify_proof`` against the station's verifier key — the same code an
auditor's ``evidence-station-verify`` runs — and the witnesses' cosignatures on the
checkpoint by ``verify_cosignatures``. The stored file of each clip is re-hashed. What is
not checked: events after the checkpoint (listed as pending, covered by the next one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from evidence_station.errors import RefusedError
from evidence_station.identity import ROOT_ACCOUNT, STATION_ACCOUNT, Actor
from evidence_station.station import Station
from hashing.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from hashing.cosignature import CosignerVerifier, verify_cosignatures
from hashing.ledger import Event
from hashing.merkle import leaf_hash
from hashing.note import NoteError
from hashing.proof import ProofFileMalformed, encode_proof, verify_proof
from hashing.stream import hash_file_from_disk

BEIJING = ZoneInfo("Asia/Shanghai")
# the ledger's own fields: they say where an event sits, never what it is about
LEDGER_FIELDS = frozenset({"seq", "time", "station", "type", "actor", "prev"})
# fields that name a clip: an event with one of them is about the clips it names
CLIP_KEYS = frozenset({"clip_id", "clip_ids", "sha256"})
# identifiers a touching event introduces, which later events refer to by the same key
DERIVED_KEYS = ("session_id", "flag_id", "volume_id")
# fields that refer to another event by its seq
SEQ_REFERENCE_KEYS = frozenset({"request_id", "release_request"})
# events that decide roles (the role an actor had when acting)
ROLE_TYPES = frozenset({"user.add", "user.role"})
_CLIP_KEY_BYTES = re.compile(b"|".join(f'"{key}":'.encode() for key in sorted(CLIP_KEYS)))
_LINK_BYTES = re.compile(b"|".join([*(f'"{key}":'.encode() for key in (*DERIVED_KEYS,
                                                                         *sorted(SEQ_REFERENCE_KEYS))),
                                    b'_seq":']))
Touching = tuple[Event, list[str]]  # an event and the report's clips it names
Roles = dict[str, list[tuple[int, str]]]  # account -> (seq, role) changes


@dataclass
class CustodyEntry:
    """One event in the chain of custody."""

    seq: int
    type: str
    time: str  # UTC, RFC 3339, as in the event
    actor: str
    role: str
    clip_ids: list[str]  # the report's clips this event names (empty: a linked event)
    details: list[tuple[str, str]]  # (field, value) shown for the event
    event: str  # canonical bytes (UTF-8)
    leaf_hash: str
    proof: list[str] = field(default_factory=list)  # hex, RFC 6962 inclusion proof
    verified: bool | None = None  # None: after the checkpoint (not yet covered)
    problem: str | None = None

    @property
    def time_utc(self) -> str:
        return _moment(self.time).strftime("%Y-%m-%d %H:%M:%S UTC")

    @property
    def time_beijing(self) -> str:
        return _moment(self.time).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class ClipOnFile:
    """One clip of the report, and what re-hashing its stored file found."""

    id: str
    sha256: str
    size: int
    recorded_at: str | None
    device_id: str | None
    officer_id: str | None
    ingest_seq: int
    deleted_at: str | None
    file_state: str = ""  # "ok" | "deleted" | "missing" | "mismatch" | "not checked"
    file_detail: str = ""


@dataclass
class CustodyReport:
    station: str
    origin: str
    subject: str  # the clips' ids or "案号 N"
    case_number: str | None
    made_at: str  # the station's time (UTC, RFC 3339)
    made_by: str
    verifier_key: str
    checkpoint_note: str
    checkpoint_size: int
    checkpoint_root: str
    checkpoint_ok: bool
    witnesses: list[str]  # witness names whose cosignature verified
    witness_problems: list[str]
    clips: list[ClipOnFile]
    entries: list[CustodyEntry]
    findings: list[str] = field(default_factory=list)
    report_seq: int | None = None

    @property
    def ok(self) -> bool:
        """Every check passed: checkpoint, every covered event's proof, every stored file."""
        return not self.findings

    @property
    def made_at_beijing(self) -> str:
        return _moment(self.made_at).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")

    @property
    def verified_count(self) -> int:
        return sum(1 for entry in self.entries if entry.verified)

    @property
    def pending(self) -> list[CustodyEntry]:
        return [entry for entry in self.entries if entry.verified is None]


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- choosing the clips --------------------------------------------------------------------
def select_clips(station: Station, clip_refs: Iterable[str], case_number: str | None) -> list[dict[str, Any]]:
    """The report's clips: by id (a unique prefix, deleted clips too: their history stays),
    or every clip ever labelled with ``case_number``. Refuses an unknown or ambiguous id
    and a case number no clip was ever labelled with."""
    refs = [ref.strip() for ref in clip_refs if ref.strip()]
    if bool(refs) == bool(case_number):
        raise RefusedError("name clips, or a case number (--case-number), not both")
    footage = station.catalog.footage
    chosen: dict[str, dict[str, Any]] = {}
    if case_number:
        ids = [row["clip_id"] for row in station.catalog.db.query(
            "select h.clip_id from label_history h join clips c on c.clip_id = h.clip_id "
            "where h.case_number = ? group by h.clip_id order by min(c.first_seq)", [case_number])]
        if not ids:
            raise RefusedError(f"no clip was ever labelled with case number {case_number!r}")
        refs = ids
    for ref in refs:
        matches = footage.find_clip(ref)
        exact = [m for m in matches if m["id"] == ref.lower()]
        if len(matches) != 1 and len(exact) != 1:
            raise RefusedError(f"{ref!r} matches {len(matches)} clips; give the 16-character id "
                               "from `clips`")
        clip = exact[0] if exact else matches[0]
        chosen[clip["id"]] = clip
    return sorted(chosen.values(), key=lambda clip: int(clip["ledger_seq"]))


def build_custody_report(station: Station, actor: Actor, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The one door's builder for ``report`` (kind ``custody``): reading a clip's history
    is itself recorded — who read which clips' custody, when (R10)."""
    if fields.get("kind") != "custody":
        raise RefusedError("through the one door a report is a custody report (kind custody); "
                           "admin reports are recorded by `report retention/compliance`")
    refs = fields.get("clip_ids") or []
    if not isinstance(refs, list) or not all(isinstance(ref, str) for ref in refs):
        raise RefusedError("`clip_ids` is a list of clip ids")
    case_number = fields.get("case_number")
    if case_number is not None and (not isinstance(case_number, str) or not case_number.strip()):
        raise RefusedError("`case_number` is a case number (案号)")
    clips = select_clips(station, refs, case_number.strip() if case_number else None)
    formats = fields.get("formats") or []
    if not isinstance(formats, list) or not set(formats) <= {"html", "pdf", "csv", "web"}:
        raise RefusedError("`formats` are html, pdf, csv or web")
    return {"kind": "custody", "clip_ids": [clip["id"] for clip in clips],
            "case_number": case_number.strip() if case_number else None,
            "formats": sorted(set(formats)), "file": fields.get("file")}


# -- finding the events --------------------------------------------------------------------
def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _values_of(value: Any, key: str) -> Iterable[Any]:
    """Every value stored under ``key`` at any depth."""
    if isinstance(value, Mapping):
        for name, item in value.items():
            if name == key:
                yield item
            yield from _values_of(item, key)
    elif isinstance(value, list):
        for item in value:
            yield from _values_of(item, key)


def named_clips(fields: Mapping[str, Any], clip_ids: Iterable[str]) -> list[str]:
    """The ``clip_ids`` whose id appears in any of the event's own (non-ledger) values."""
    texts = [text.lower() for key, value in fields.items() if key not in LEDGER_FIELDS
             for text in _strings(value)]
    return [clip for clip in clip_ids if any(clip in text for text in texts)]


@dataclass
class _Links:
    """What touching events introduced, that later events may refer to."""

    ids: dict[str, set[str]] = field(default_factory=lambda: {key: set() for key in DERIVED_KEYS})
    seqs: set[int] = field(default_factory=set)

    def learn(self, event: Event) -> None:
        self.seqs.add(event.seq)
        for key in DERIVED_KEYS:
            self.ids[key].update(str(v) for v in _values_of(dict(event.fields), key) if v)

    def refers(self, fields: Mapping[str, Any]) -> bool:
        if CLIP_KEYS & set(fields):
            return False  # about other clips
        for key in DERIVED_KEYS:
            if any(str(v) in self.ids[key] for v in _values_of(dict(fields), key)):
                return True
        return any(isinstance(value, int) and value in self.seqs for key, value in fields.items()
                   if key not in LEDGER_FIELDS and (key.endswith("_seq") or key in SEQ_REFERENCE_KEYS))


def touching_events(station: Station, clip_ids: list[str], case_number: str | None = None,
                    size: int | None = None) -> tuple[list[Touching], Roles]:
    """Every event touching the clips, in ledger order, with the clips each names; and
    each account's role changes (seq, role) for "the role when acting".

    Sessions are learnt from ingest events that come after their start, so the starts
    seen on the way are kept aside (a handful per docking) and added afterwards."""
    wanted = [clip.lower() for clip in clip_ids]
    needles = [clip.encode() for clip in wanted]
    if case_number:  # as the ledger writes it: JSON-escaped, UTF-8 (ensure_ascii=False)
        needles.append(json.dumps(case_number, ensure_ascii=False)[1:-1].encode("utf-8"))
    named = re.compile(b"|".join(re.escape(needle) for needle in needles))
    links = _Links()
    found: dict[int, tuple[Event, list[str]]] = {}
    sessions: dict[str, list[Event]] = {}
    roles: dict[str, list[tuple[int, str]]] = {}
    end = station.ledger.size if size is None else size
    for seq, body in station.ledger.raw_events(0):
        if seq >= end:
            break
        # cheap filters on the bytes first: most events of a big ledger are about other
        # clips (they name a clip, but none of these) and are never parsed
        direct = named.search(body) is not None
        linked = False
        if not direct and b'"type":"user.' not in body:
            if _CLIP_KEY_BYTES.search(body) or not _LINK_BYTES.search(body):
                continue
            linked = True
        event = Event(seq, body, _parse(seq, body))
        fields = event.fields
        if event.type in ROLE_TYPES:
            roles.setdefault(str(fields.get("username")), []).append((seq, str(fields.get("role"))))
        if event.type in ("session.start", "session.end") and fields.get("session_id"):
            sessions.setdefault(str(fields["session_id"]), []).append(event)
        names = named_clips(fields, wanted) if direct else []
        by_case = case_number is not None and case_number in (
            str(v) for k, v in fields.items() if k not in LEDGER_FIELDS)
        if names or by_case:
            found[seq] = (event, names)
            links.learn(event)
        elif linked and links.refers(fields):
            found[seq] = (event, [])
            links.learn(event)
    for session_id in links.ids["session_id"]:
        for event in sessions.get(session_id, []):
            found.setdefault(event.seq, (event, []))
    return [found[seq] for seq in sorted(found)], roles


def _parse(seq: int, body: bytes) -> dict[str, Any]:
    value = json.loads(body)
    if not isinstance(value, dict):
        raise ValueError(f"ledger event {seq} is not a JSON object")
    return value


def role_at(account: str, seq: int, roles: Mapping[str, list[tuple[int, str]]]) -> str:
    """The role ``account`` had when event ``seq`` was recorded (the ledger's own
    user.add/user.role events decide, not today's catalog)."""
    if account == ROOT_ACCOUNT:
        return "admin (root)"
    if account == STATION_ACCOUNT or account not in roles:
        return "system"  # the station's own acts (docking, the daemon's "analysis"): no user.add
    role = "?"
    for changed, name in roles.get(account, []):
        if changed <= seq:
            role = name
    return role


# -- what each event says ------------------------------------------------------------------
# fields too bulky or too internal for the table (they stay in the CSV's event column)
HIDDEN = frozenset({"auth", "source_path_b64", "media", "statement", "speech_model_sha256",
                    "transcript_backend", "mtime_ns", "verifier_key", "usb", "filesystem",
                    "tags", "problems", "flags", "expired", "counts", "dock"})


def _short(value: Any, limit: int = 120) -> str:
    if isinstance(value, bool):
        text = "✓" if value else "✗"
    elif isinstance(value, list):
        text = ", ".join(_short(item, 40) for item in value)
    elif isinstance(value, Mapping):
        text = ", ".join(f"{k}={_short(v, 40)}" for k, v in value.items())
    else:
        text = "" if value is None else str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def details_of(event: Event, sessions: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """The fields worth reading, in the event's own order (keys sorted), with what the
    ledger knows around them: an ingest's port (from its session), an analysis's flags,
    a media summary. Values too long are cut (the full event is in the CSV)."""
    fields = event.fields
    shown: list[tuple[str, str]] = []
    if event.type == "ingest":
        session = sessions.get(str(fields.get("session_id")), {})
        dock = session.get("dock") or {}
        shown.append(("port", str(dock.get("port") or "—")))
        # invariant 1: an ingest event exists only after the copy was re-read and hashed
        shown.append(("verified", "✓"))
    if event.type in ("session.start", "session.end") and isinstance(fields.get("dock"), Mapping):
        shown.append(("port", str(fields["dock"].get("port") or "—")))
    media = fields.get("media")
    if isinstance(media, Mapping):
        shown.append(("media", _short({k: media.get(k) for k in ("kind", "container", "duration_ms")
                                       if media.get(k) is not None})))
    flags = fields.get("flags")
    if isinstance(flags, list) and flags:
        shown.append(("flags", ", ".join(str(f.get("kind", f)) if isinstance(f, Mapping) else str(f)
                                         for f in flags)))
    counts = fields.get("counts")
    if isinstance(counts, Mapping):
        shown.append(("counts", _short(counts)))
    for key in sorted(fields):
        if key in LEDGER_FIELDS or key in HIDDEN or fields[key] in (None, "", [], {}):
            continue
        shown.append((key, _short(fields[key])))
    return shown


# -- checking ------------------------------------------------------------------------------
def _witness_keys(station: Station) -> list[CosignerVerifier]:
    return [CosignerVerifier.parse(key) for key in station.config.witness.keys]


def make_report(station: Station, clips: list[dict[str, Any]], *, note: str, made_by: str,
                case_number: str | None = None, report_seq: int | None = None,
                verify_data: bool = True) -> CustodyReport:
    """Gather and check. ``note`` is the checkpoint to prove against (the latest, with
    the witnesses' cosignatures when there are); events after it are listed as pending."""
    findings: list[str] = []
    verifier = station.verifier
    try:
        checkpoint: Checkpoint | None = open_checkpoint(note, verifier)
        checkpoint_ok = True
    except (CheckpointError, NoteError) as err:
        findings.append(f"checkpoint: {err}")
        checkpoint, checkpoint_ok = None, False
    witnesses: list[str] = []
    witness_problems: list[str] = []
    if checkpoint is not None:
        try:
            good, witness_problems = verify_cosignatures(note, _witness_keys(station))
            witnesses = [w.witness.split("+", 1)[0] for w in good]
        except NoteError as err:
            witness_problems = [str(err)]
        findings += [f"witness cosignature: {p}" for p in witness_problems]
    size = checkpoint.size if checkpoint else 0
    if size > station.ledger.size:
        findings.append(f"the checkpoint covers {size} events, this view of the ledger has "
                        f"{station.ledger.size}; make the report again")
        size = 0
    ids = [clip["id"] for clip in clips]
    events, roles = touching_events(station, ids, case_number)
    sessions = {str(event.fields["session_id"]): dict(event.fields) for event, _ in events
                if event.type == "session.start"}
    entries = []
    for event, names in events:
        entry = CustodyEntry(
            seq=event.seq, type=event.type, time=str(event.fields["time"]),
            actor=str(event.fields["actor"]),
            role=role_at(str(event.fields["actor"]), event.seq, roles), clip_ids=names,
            details=details_of(event, sessions), event=event.data.decode("utf-8"),
            leaf_hash=leaf_hash(event.data).hex())
        if checkpoint is not None and event.seq < size:
            hashes = station.ledger.inclusion_proof(event.seq, size)
            entry.proof = [h.hex() for h in hashes]
            entry.problem = _check_one(event, hashes, note, verifier)
            entry.verified = entry.problem is None
            if entry.problem:
                findings.append(f"event #{event.seq}: {entry.problem}")
        entries.append(entry)
    on_file = [_clip_on_file(station, clip, verify_data) for clip in clips]
    findings += [f"clip {c.id}: {c.file_detail}" for c in on_file if c.file_state in ("missing", "mismatch")]
    subject = f"案号 {case_number}" if case_number else " ".join(ids)
    return CustodyReport(
        station=station.name, origin=checkpoint.origin if checkpoint else "", subject=subject,
        case_number=case_number, made_at=station.clock.now().astimezone(ZoneInfo("UTC"))
        .strftime("%Y-%m-%dT%H:%M:%SZ"), made_by=made_by, verifier_key=verifier.encode(),
        checkpoint_note=note, checkpoint_size=size,
        checkpoint_root=checkpoint.root.hex() if checkpoint else "", checkpoint_ok=checkpoint_ok,
        witnesses=witnesses, witness_problems=witness_problems, clips=on_file, entries=entries,
        findings=findings, report_seq=report_seq)


def _check_one(event: Event, hashes: list[bytes], note: str, verifier: Any) -> str | None:
    """The auditor's check of one event, run now: the event's canonical bytes included
    under the signed checkpoint (C2SP tlog-proof, ``hashing.proof.verify_proof``)."""
    text = encode_proof(event.seq, hashes, note, event.data)
    try:
        result = verify_proof(text, key=verifier, witnesses=[], min_witnesses=0)
    except ProofFileMalformed as err:
        return str(err)
    return "; ".join(result.findings) or None


def _clip_on_file(station: Station, clip: Mapping[str, Any], verify_data: bool) -> ClipOnFile:
    on_file = ClipOnFile(
        id=str(clip["id"]), sha256=str(clip["sha256"]), size=int(clip["size"]),
        recorded_at=clip.get("recorded_at"), device_id=clip.get("device_id"),
        officer_id=clip.get("officer_id"), ingest_seq=int(clip["ledger_seq"]),
        deleted_at=clip.get("deleted_at"))
    path: Path = station.store.path_for(on_file.sha256)
    if on_file.deleted_at:
        on_file.file_state = "deleted"
        on_file.file_detail = f"deleted {on_file.deleted_at} (R11); the hash stays"
    elif not path.exists():
        on_file.file_state, on_file.file_detail = "missing", "the stored file is missing"
    elif not verify_data:
        on_file.file_state, on_file.file_detail = "not checked", "present; not re-hashed"
    else:
        digest = hash_file_from_disk(path)
        if digest.sha256 != on_file.sha256 or digest.size != on_file.size:
            on_file.file_state = "mismatch"
            on_file.file_detail = f"the stored file now hashes to {digest.sha256} ({digest.size} bytes)"
        else:
            on_file.file_state, on_file.file_detail = "ok", "re-hashed: SHA-256 and size match"
    return on_file


def csv_rows(report: CustodyReport) -> list[list[str]]:
    """One row per event, each standing alone: with the checkpoint's size and root, the
    event's canonical bytes, its leaf hash and inclusion proof, a reader re-checks it with
    any RFC 6962 implementation (RFC 9162 §2.1.3.2)."""
    rows = [["seq", "type", "time_utc", "time_beijing", "actor", "role", "clips", "details",
             "verified", "tree_size", "root", "leaf_hash", "inclusion_proof", "event"]]
    for entry in report.entries:
        rows.append([str(entry.seq), entry.type, entry.time, entry.time_beijing,
                     spreadsheet_safe(entry.actor), entry.role, " ".join(entry.clip_ids),
                     spreadsheet_safe("; ".join(f"{k}={v}" for k, v in entry.details)),
                     {True: "yes", False: "NO", None: "pending"}[entry.verified],
                     str(report.checkpoint_size) if entry.verified is not None else "",
                     report.checkpoint_root if entry.verified is not None else "",
                     entry.leaf_hash, " ".join(entry.proof), entry.event])
    return rows


def spreadsheet_safe(text: str) -> str:
    """A cell a clerk's spreadsheet program will not run as a formula (CSV injection: a
    party typed as ``=HYPERLINK(…)``). The ``event`` column is never changed: it is the
    ledger's exact bytes, and it starts with ``{``."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

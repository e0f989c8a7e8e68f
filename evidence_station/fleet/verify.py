"""`fleet verify`: the whole fleet from PostgreSQL and the bucket alone.

What it proves, per station (origin) in ``ledger_event``:

* the events are seq 0 … n-1 with no gap, each body's ``seq`` is its row's, and every
  ``prev`` is the SHA-256 of the previous body (the hash chain);
* every stored checkpoint's signature is the station's key (pinned with ``--key``, else
  the key the mirror registered on first contact, which must also be the key in the
  station's ``station.init`` event), its root is the RFC 6962 root of the mirrored events
  at its size, and each checkpoint extends the one before it (the consistency proof the
  station sent, checked with :func:`hashing.merkle.verify_consistency`);
* every file an ingest event names and no deletion removed is in the bucket as
  ``sha256/<hex>`` with the clip's size, COMPLIANCE lock, a retain-until no earlier
  than the mirror recorded and the legal hold it recorded; and (unless ``--no-data``)
  its bytes re-hash to its name.

What it does not prove: events after a station's latest checkpoint are chained but not
yet signed (counted as ``unsigned_events``); a key trusted on first contact is only as
good as that contact (pin keys for an audit). The first failure is named; exit 1.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from evidence_station.fleet import central
from evidence_station.fleet.objects import Bucket, key_for
from hashing.checkpoint import open_checkpoint
from hashing.event_scan import ZERO_HASH
from hashing.merkle import ProofError, leaf_hash, node_hash, verify_consistency
from hashing.note import NoteError, Verifier


class CompactRange:
    """The RFC 6962 root of a growing log in O(log n) memory: the perfect subtrees of
    the prefix, merged as leaves arrive (``root`` folds them from the right)."""

    def __init__(self) -> None:
        self.size = 0
        self.stack: list[tuple[int, bytes]] = []

    def append(self, leaf: bytes) -> None:
        height, digest = 0, leaf
        while self.stack and self.stack[-1][0] == height:
            _, left = self.stack.pop()
            digest = node_hash(left, digest)
            height += 1
        self.stack.append((height, digest))
        self.size += 1

    def root(self) -> bytes:
        if not self.stack:
            return hashlib.sha256(b"").digest()
        digest = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            digest = node_hash(left, digest)
        return digest


@dataclass
class Finding:
    origin: str
    what: str  # event | checkpoint | object | station
    where: str  # seq, checkpoint size or object key
    reason: str


@dataclass
class StationReport:
    origin: str
    station: str
    events: int = 0
    checkpoints: int = 0
    signed_size: int = 0
    unsigned_events: int = 0
    objects: int = 0
    bytes: int = 0


@dataclass
class FleetReport:
    stations: list[StationReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "first_failure": asdict(self.findings[0]) if self.findings else None,
                "stations": [asdict(s) for s in self.stations],
                "findings": [asdict(f) for f in self.findings]}


def verify_fleet(conn: Any, bucket: Bucket, *, pinned: dict[str, Verifier] | None = None,
                 data: bool = True) -> FleetReport:
    report = FleetReport()
    expected: dict[str, tuple[str, int]] = {}  # sha256 -> (origin, size) of live files
    for origin, station, key_line in central.origins(conn):
        summary = StationReport(origin, station)
        report.stations.append(summary)
        live = _verify_station(conn, origin, key_line, (pinned or {}).get(origin), summary, report)
        for sha256, size in live.items():
            expected.setdefault(sha256, (origin, size))
    locks = {row["sha256"]: row for row in central.object_rows(conn)}
    for sha256, (origin, size) in sorted(expected.items()):
        _verify_object(bucket, origin, sha256, size, locks.get(sha256), data, report)
    return report


def _verify_station(conn: Any, origin: str, key_line: str, pinned: Verifier | None,
                    summary: StationReport, report: FleetReport) -> dict[str, int]:
    def fail(what: str, where: str, reason: str) -> None:
        report.findings.append(Finding(origin, what, where, reason))

    try:
        verifier = pinned or Verifier.parse(key_line)
    except NoteError as err:
        fail("station", origin, f"verifier key cannot be read: {err}")
        return {}
    if pinned is not None and pinned.encode() != key_line:
        fail("station", origin, "the mirror registered another key than the pinned one")
    checkpoints = central.checkpoints(conn, origin)
    roots_at = {size for size, *_ in checkpoints}
    roots: dict[int, bytes] = {0: hashlib.sha256(b"").digest()} if 0 in roots_at else {}
    tree = CompactRange()
    previous = ZERO_HASH
    live: dict[str, int] = {}
    broken = False
    for seq, body in central.stream_events(conn, origin):
        if broken:
            break
        if seq != tree.size:
            fail("event", str(tree.size), f"missing from the mirror (next row is seq {seq})")
            broken = True
            break
        try:
            event = json.loads(body)
        except ValueError:
            fail("event", str(seq), "body is not JSON")
            broken = True
            break
        if event.get("seq") != seq:
            fail("event", str(seq), f"body says seq {event.get('seq')}")
            broken = True
        elif event.get("prev") != previous:
            fail("event", str(seq), "prev is not the hash of the previous event (chain broken)")
            broken = True
        elif seq == 0 and event.get("verifier_key") not in (None, verifier.encode()):
            fail("event", "0", "station.init names another verifier key than the mirror's")
            broken = True
        previous = hashlib.sha256(body).hexdigest()
        tree.append(leaf_hash(body))
        if tree.size in roots_at:
            roots[tree.size] = tree.root()
        kind = event.get("type")
        if kind == "ingest":
            live[str(event["sha256"])] = int(event["size"])
        elif kind == "deletion":
            live.pop(str(event.get("sha256")), None)
    summary.events = tree.size
    if broken:
        return live
    last_size, last_root = None, None
    for size, note, proof_from, proof in checkpoints:
        try:
            checkpoint = open_checkpoint(note, verifier, origin=origin)
        except Exception as err:
            fail("checkpoint", str(size), f"signature or format does not check: {err}")
            return live
        if checkpoint.size != size:
            fail("checkpoint", str(size), f"note says size {checkpoint.size}")
            return live
        if size not in roots:
            fail("checkpoint", str(size), f"signs {size} events; the mirror holds {tree.size}")
            return live
        if roots[size] != checkpoint.root:
            fail("checkpoint", str(size), "root differs from the mirrored events' tree "
                 "(an event row was changed)")
            return live
        if last_size is not None and last_root is not None:
            try:
                if proof_from != last_size:
                    raise ProofError(f"proof is from size {proof_from}, previous checkpoint is {last_size}")
                verify_consistency(old_size=last_size, new_size=size, old_root=last_root,
                                   new_root=checkpoint.root, proof=proof)
            except ProofError as err:
                fail("checkpoint", str(size), f"does not extend checkpoint {last_size}: {err}")
                return live
        last_size, last_root = size, checkpoint.root
        summary.checkpoints += 1
        summary.signed_size = size
    if not checkpoints:
        fail("checkpoint", "-", "no signed checkpoint mirrored for this station")
    summary.unsigned_events = tree.size - summary.signed_size
    summary.objects = len(live)
    summary.bytes = sum(live.values())
    return live


def _verify_object(bucket: Bucket, origin: str, sha256: str, size: int, lock: dict[str, Any] | None,
                   data: bool, report: FleetReport) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    key = key_for(sha256)

    def fail(reason: str) -> None:
        report.findings.append(Finding(origin, "object", key, reason))

    try:
        head = bucket.head(sha256)
    except (ClientError, BotoCoreError) as err:
        fail(f"cannot be read: {err}")
        return
    if head is None:
        fail("missing from the bucket (deleted centrally?)")
        return
    if int(head.get("ContentLength", -1)) != size:
        fail(f"size {head.get('ContentLength')} ≠ ingested {size} (overwritten?)")
        return
    if lock is None:
        fail("the mirror has no lock record for it")
    else:
        until: datetime | None = head.get("ObjectLockRetainUntilDate")
        if head.get("ObjectLockMode") != "COMPLIANCE":
            fail(f"lock mode {head.get('ObjectLockMode')}, not COMPLIANCE")
        elif until is None or until < lock["retain_until"]:
            fail(f"retain-until {until} is earlier than recorded {lock['retain_until']}")
        elif lock["legal_hold"] and head.get("ObjectLockLegalHoldStatus") != "ON":
            fail("legal hold is off, the mirror says on")
    if data:
        digest, read = bucket.hash_object(sha256)
        if digest != sha256:
            fail(f"content hashes to {digest} ({read} bytes): overwritten or corrupted")

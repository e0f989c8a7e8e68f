"""One catch-up pass from a station to the central engines, its state and its alarms.

A pass, in this order:

1. **Extension check** — the mirror's head for this origin must be a prefix of this
   ledger: same verifier key, no more events than we have, the mirrored last event byte
   for byte ours (the hash chain then covers everything before it), and the mirror's
   latest checkpoint root equal to our tree's root at its size. Otherwise the station is
   refused and alarmed, never merged (:class:`DivergedError`).
2. **Objects** — every stored file not yet in the bucket is uploaded (``objects``);
   retention that grew (label, category, evidence, hold) is extended, a hold sets the
   legal hold; files of an approved deletion are deleted and the row marked.
3. **Events** — the ledger streamed from the mirror's head, ``batch_events`` rows per
   transaction (bounded memory for a week offline), then the latest checkpoint with a
   consistency proof from the previous one the mirror holds.

State (``fleet.sqlite`` beside the ledger): which objects the bucket holds with which
lock, the mirror's size, the last attempt, success and error. It is a cache of what the
central side holds: losing it costs a pass that re-checks each object by its checksum,
never a duplicate. Alarms (behind longer than ``alarm_after_s``, a diverged ledger) are
``fleet.alarm`` events by the ``station`` actor through the one door, a review flag and a
journald crit line; the return to normal is a ``fleet.recovered`` event.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_start
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from evidence_station.config import FleetConfig
from evidence_station.fleet import DivergedError, FleetError, central
from evidence_station.fleet.objects import MIB, Bucket, Lock, describe, s3_client
from evidence_station.station import Station
from hashing.checkpoint import read_checkpoint

log = logging.getLogger(__name__)

STATE_FILE = "fleet.sqlite"
_PASSES: dict[Path, threading.Lock] = {}
_PASSES_LOCK = threading.Lock()


@dataclass
class PushReport:
    events_sent: int = 0
    checkpoint_sent: int | None = None
    objects_sent: int = 0
    objects_reused: int = 0
    bytes_sent: int = 0
    parts_sent: int = 0
    parts_kept: int = 0
    locks_extended: int = 0
    objects_deleted: int = 0
    caught_up: bool = False
    seconds: float = 0.0
    status: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class LocalState:
    """``fleet.sqlite``: what this station knows the central side holds."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        self.db.execute("pragma journal_mode=wal")
        self.db.execute("pragma synchronous=full")
        self.db.executescript(
            "create table if not exists pushed_object (sha256 text primary key, size integer not null, "
            "retain_until text not null, legal_hold integer not null, deleted integer not null default 0);"
            "create table if not exists state (key text primary key, value text);")

    def get(self, key: str) -> str | None:
        row = self.db.execute("select value from state where key = ?", [key]).fetchone()
        return None if row is None else str(row[0]) if row[0] is not None else None

    def set(self, **values: str | int | None) -> None:
        with self.db:
            self.db.executemany("insert into state (key, value) values (?, ?) on conflict (key) "
                                "do update set value = excluded.value",
                                [(k, None if v is None else str(v)) for k, v in values.items()])

    def pushed(self) -> dict[str, tuple[datetime, bool, bool]]:
        return {sha: (datetime.fromisoformat(until), bool(hold), bool(deleted)) for sha, until, hold, deleted
                in self.db.execute("select sha256, retain_until, legal_hold, deleted from pushed_object")}

    def remember(self, sha256: str, size: int, lock: Lock, *, deleted: bool = False) -> None:
        with self.db:
            self.db.execute(
                "insert into pushed_object (sha256, size, retain_until, legal_hold, deleted) "
                "values (?, ?, ?, ?, ?) on conflict (sha256) do update set retain_until = "
                "max(retain_until, excluded.retain_until), legal_hold = excluded.legal_hold, "
                "deleted = excluded.deleted",
                [sha256, size, lock.retain_until.isoformat(), int(lock.legal_hold), int(deleted)])

    def close(self) -> None:
        self.db.close()


def _wanted_locks(station: Station) -> tuple[dict[str, tuple[int, Lock]], set[str], int]:
    """What the bucket must hold: each live file's size and lock (the longest over the
    clips that share it), the hashes of deleted clips no live clip shares, and how many
    events that answer covers (the catalog's position: events past it wait for the next
    pass, so the mirror never names a file this pass did not send)."""
    from evidence_station.casework.retention import clip_facts, policy_of
    from retention.policy import add_months, classify, retention_start

    view = station.view()  # its own catalog connection: never the daemon's
    try:
        covered = view.catalog.applied_seq + 1  # read first: the rows below are at least as new
        policy = policy_of(station.config)
        zone = ZoneInfo(station.config.station.timezone)
        sizes = {row["sha256"]: int(row["size"]) for row in view.catalog.db.query(
            "select sha256, size from clips where deleted_at is null")}
        wanted: dict[str, tuple[int, Lock]] = {}
        for facts in clip_facts(view):
            decided = classify(facts, policy)
            # Footage with no end of its own (evidence, long-term) still carries the general
            # period as its lock, and a legal hold for as long as it has no end.
            floor = add_months(retention_start(facts.recorded_on, facts.ingested_on), policy.general_months)
            until: date = max(decided.expires or floor, floor)
            lock = Lock(datetime.combine(until, day_start(0), tzinfo=zone).astimezone(UTC),
                        decided.held or decided.expires is None)
            if facts.sha256 in wanted:
                previous = wanted[facts.sha256][1]
                lock = Lock(max(previous.retain_until, lock.retain_until),
                            previous.legal_hold or lock.legal_hold)
            wanted[facts.sha256] = (sizes.get(facts.sha256, 0), lock)
        deleted = {row["sha256"] for row in view.catalog.db.query(
            "select sha256 from clips where deleted_at is not null")} - set(sizes)
        return wanted, deleted, covered
    finally:
        view.catalog.close()


class Replicator:
    def __init__(self, station: Station, config: FleetConfig | None = None) -> None:
        self.station = station
        self.config = config or station.config.fleet
        self.state = LocalState(station.layout.root / STATE_FILE)
        self.bucket: Bucket | None = None
        self.on_part: Any = None  # progress / fault injection for multipart parts
        with _PASSES_LOCK:
            self.pass_lock = _PASSES.setdefault(station.layout.root.resolve(), threading.Lock())

    @property
    def origin(self) -> str:
        return self.station.verifier.name

    def close(self) -> None:
        self.state.close()

    def __enter__(self) -> Replicator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self) -> datetime:
        now: datetime = self.station.clock.now()
        return now

    # -- a pass ------------------------------------------------------------------------------
    def push(self) -> PushReport:
        """Catch up until the mirror holds every event and every stored file (a recovery
        alarm recorded on the way is one more event: sent in the next round)."""
        if not self.config.enabled:
            raise FleetError("[fleet] database_url and s3_bucket are not set: replication is off")
        with self.pass_lock:
            started = time.perf_counter()
            report = PushReport()
            for _ in range(3):
                self._one_pass(report)
                report.status = self.status()
                report.caught_up = report.status["caught_up"]
                if report.caught_up:
                    break
            report.seconds = round(time.perf_counter() - started, 3)
            return report

    def _one_pass(self, report: PushReport) -> None:
        self.state.set(last_attempt=self._now().isoformat())
        conn = None
        try:
            conn = central.connect(str(self.config.database_url), self.config.timeout_s)
            self._check_extends(conn)
            bucket = self._bucket()
            bucket.check(minimum_months=self.station.config.retention.general_months)
            covered = self._push_objects(conn, bucket, report)
            self._push_events(conn, report, covered)
            self._push_checkpoint(conn, report)
        except DivergedError as err:
            self._failed(str(err))
            self._alarm("diverged", str(err), conn)
            raise
        except FleetError as err:
            self._failed(str(err))
            raise
        except Exception as err:
            detail = self._explain(err)
            self._failed(detail)
            raise FleetError(detail) from err
        finally:
            if conn is not None:
                conn.close()
        self.state.set(last_success=self._now().isoformat(), last_error=None)
        self._judge(caught_up=True)

    def _explain(self, err: Exception) -> str:
        import psycopg

        if isinstance(err, psycopg.Error):
            return f"PostgreSQL: {central._first_line(err)}"
        return describe(err)

    def _failed(self, detail: str) -> None:
        log.warning("fleet replication: %s", detail)
        self.state.set(last_error=detail, last_error_at=self._now().isoformat())
        self._judge(caught_up=False)

    def _bucket(self) -> Bucket:
        if self.bucket is None:
            client = s3_client(self.config.s3_endpoint_url, self.config.s3_region, self.config.timeout_s)
            self.bucket = Bucket(client, str(self.config.s3_bucket),
                                 multipart_threshold=self.config.multipart_threshold_mib * MIB,
                                 part_size=self.config.part_size_mib * MIB)
        self.bucket.on_part = self.on_part
        return self.bucket

    # -- 1. is this ledger an extension of the mirror? ---------------------------------------
    def _check_extends(self, conn: Any) -> None:
        origin, ledger = self.origin, self.station.ledger
        mine = self.station.verifier.encode()
        mirror = central.head(conn, origin)
        if mirror.verifier_key is not None and mirror.verifier_key != mine:
            raise DivergedError(f"the mirror knows {origin} by another key ({mirror.verifier_key}); "
                                f"this station's is {mine}")
        size = ledger.size
        if mirror.size > size:
            raise DivergedError(f"the mirror holds {mirror.size} events of {origin}, this ledger only "
                                f"{size}: it was rolled back or rewritten")
        if mirror.size and mirror.last_body != ledger.event(mirror.size - 1).data:
            raise DivergedError(f"event {mirror.size - 1} of {origin} differs from the mirrored one: "
                                "this ledger was rewritten")
        if mirror.checkpoint_note is not None and mirror.checkpoint_size is not None:
            held = read_checkpoint(mirror.checkpoint_note)
            with self.station.lock:
                ours = ledger.root(held.size) if held.size <= ledger.size else None
            if ours != held.root:
                raise DivergedError(f"the mirror's checkpoint of {origin} at size {held.size} has "
                                    "another root than this ledger: history was changed")
        if mirror.verifier_key is None:
            central.register_station(conn, origin, self.station.name, mine)

    # -- 2. objects ----------------------------------------------------------------------------
    def _push_objects(self, conn: Any, bucket: Bucket, report: PushReport) -> int:
        wanted, deleted, covered = _wanted_locks(self.station)
        pushed = self.state.pushed()
        soonest = self._now() + timedelta(days=1)  # S3 takes no retain-until in the past
        for sha256, (size, lock) in wanted.items():
            known = pushed.get(sha256)
            if known is None or known[2]:
                upload_lock = Lock(max(lock.retain_until, soonest), lock.legal_hold)
                with central.object_lock(conn, sha256):
                    result = bucket.put(self.station.store.path_for(sha256), sha256, size, upload_lock)
                if result.reused:
                    report.objects_reused += 1
                else:
                    report.objects_sent += 1
                    report.bytes_sent += size
                report.parts_sent += result.parts_sent
                report.parts_kept += result.parts_kept
                central.record_object(conn, sha256=sha256, size=size, retain_until=upload_lock.retain_until,
                                      legal_hold=lock.legal_hold, version_id=result.version_id,
                                      origin=self.origin)
                self.state.remember(sha256, size, upload_lock)
                continue
            until, held, _ = known
            if lock.retain_until > until or lock.legal_hold != held:
                grown = Lock(max(lock.retain_until, until), lock.legal_hold)  # never shortened
                bucket.extend(sha256, grown)
                central.record_object(conn, sha256=sha256, size=size, retain_until=grown.retain_until,
                                      legal_hold=grown.legal_hold, version_id=None, origin=self.origin)
                self.state.remember(sha256, size, grown)
                report.locks_extended += 1
        for sha256 in sorted(deleted):
            known = pushed.get(sha256)
            if known is None or known[2]:
                continue
            if not central.held_elsewhere(conn, sha256, self.origin):
                bucket.delete(sha256)  # R11: only after an approved deletion, its lock run out
                central.record_object_deleted(conn, sha256)
            self.state.remember(sha256, 0, Lock(known[0], False), deleted=True)
            report.objects_deleted += 1
        return covered

    # -- 3. events and checkpoints -------------------------------------------------------------
    def _push_events(self, conn: Any, report: PushReport, upto: int) -> None:
        origin, ledger = self.origin, self.station.ledger
        start = central.head(conn, origin).size
        batch: list[bytes] = []
        first = start
        for seq, body in ledger.raw_events(start):
            if seq >= upto:
                break
            batch.append(body)
            if len(batch) >= self.config.batch_events:
                report.events_sent += central.append_events(conn, origin, first, batch)
                first = seq + 1
                batch = []
                self.state.set(mirrored_events=first)
        if batch:
            report.events_sent += central.append_events(conn, origin, first, batch)
            first += len(batch)
        self.state.set(mirrored_events=first)

    def _push_checkpoint(self, conn: Any, report: PushReport) -> None:
        latest = self.station.latest_of_this_ledger()  # the mirror gets no other history's
        if latest is None:
            return
        checkpoint, note = latest
        mirror = central.head(conn, self.origin)
        if checkpoint.size > mirror.size:
            return  # its events are not all mirrored yet: next pass
        previous = mirror.checkpoint_size
        if previous is not None and previous >= checkpoint.size:
            return
        with self.station.lock:
            proof = (self.station.ledger.consistency_proof(previous, checkpoint.size)
                     if previous and previous < checkpoint.size else [])
        if central.add_checkpoint(conn, self.origin, checkpoint.size, note, previous, proof):
            report.checkpoint_sent = checkpoint.size

    # -- status and alarms --------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """How far behind the mirror is and why, from local state alone (works offline)."""
        size = self.station.ledger.size
        mirrored = int(self.state.get("mirrored_events") or 0)
        pushed = self.state.pushed()
        wanted, deleted, _ = _wanted_locks(self.station)
        files = [(sha, size_) for sha, (size_, _) in wanted.items()
                 if sha not in pushed or pushed[sha][2]]
        deletions = [sha for sha in deleted if sha in pushed and not pushed[sha][2]]
        behind = max(0, size - mirrored)
        caught_up = behind == 0 and not files and not deletions
        return {
            "configured": self.config.enabled,
            "origin": self.origin,
            "database": central._safe(self.config.database_url) if self.config.database_url else None,
            "bucket": self.config.s3_bucket,
            "events": size, "events_mirrored": mirrored, "events_behind": behind,
            "files_behind": len(files), "bytes_behind": sum(s for _, s in files),
            "deletions_behind": len(deletions),
            "caught_up": caught_up,
            "last_attempt": self.state.get("last_attempt"),
            "last_success": self.state.get("last_success"),
            "last_error": self.state.get("last_error"),
            "last_error_at": self.state.get("last_error_at"),
            "behind_since": self.state.get("behind_since"),
            "alarm": self.state.get("alarm"),
        }

    def _judge(self, *, caught_up: bool) -> None:
        now = self._now()
        alarm = self.state.get("alarm")
        if caught_up:
            self.state.set(behind_since=None)
            if alarm and alarm != "diverged":
                self.state.set(alarm=None)
                self._record("fleet.recovered", {"alarm": alarm, "origin": self.origin})
            return
        since_text = self.state.get("behind_since")
        if since_text is None:
            self.state.set(behind_since=now.isoformat())
            since = now
        else:
            since = datetime.fromisoformat(since_text)
        if alarm is None and now - since > timedelta(seconds=self.config.alarm_after_s):
            self._alarm("behind", f"behind the central mirror since {since.isoformat()}: "
                        f"{self.state.get('last_error') or 'not caught up'}", None)

    def _alarm(self, kind: str, detail: str, conn: Any) -> None:
        if self.state.get("alarm") == kind:
            return
        self.state.set(alarm=kind)
        log.critical("中心同步告警 fleet alarm (%s) for %s: %s", kind, self.origin, detail)
        if conn is not None:
            try:
                central.raise_alarm(conn, self.origin, kind, detail)
            except Exception as err:  # the local alarm stands on its own
                log.warning("could not record the alarm centrally: %s", err)
        self._record("fleet.alarm", {
            "kind": kind, "origin": self.origin, "detail": detail[:1000],
            "flags": [{"flag_id": "", "clip_id": None, "kind": f"fleet_{kind}", "article": None,
                       "figures": {"origin": self.origin, "detail": detail[:300]}}]})

    def _record(self, kind: str, fields: dict[str, Any]) -> None:
        """An alarm or recovery through the one door, as the station's own act."""
        from evidence_station.casework.service import record_own
        from evidence_station.identity import STATION

        if not self.station.ledger.writable:
            return
        with self.station.lock:
            if kind == "fleet.alarm":
                fields["flags"][0]["flag_id"] = f"F{self.station.ledger.size}"  # the event's seq
                record_own(self.station, STATION, "fleet.alarm", fields)
            else:
                record_own(self.station, STATION, "fleet.recovered", fields)


def push(station: Station) -> PushReport:
    with Replicator(station) as replicator:
        return replicator.push()


def status(station: Station) -> dict[str, Any]:
    with Replicator(station) as replicator:
        return replicator.status()


def status_json(station: Station) -> str:
    return json.dumps(status(station), ensure_ascii=False, sort_keys=True)

"""The catalog: a SQLite projection of the ledger (invariant 3), through sqlite-utils.

Every row here is derived from a ledger event; ``meta.applied_seq`` says how far. After
a crash between "ledger event durable" and "catalog row written", :meth:`catch_up`
replays the missing events, so the catalog can lag the ledger but never lead it or
disagree with it. ``catalog rebuild`` throws the file away and replays everything.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence_station.catalog.case_files import CASE_FILE_COLUMNS, CaseFileQueries
from evidence_station.catalog.casework import CaseworkQueries
from evidence_station.catalog.docking import DockingQueries
from evidence_station.catalog.duties import ensure_duties_schema
from evidence_station.catalog.flags import FlagQueries
from evidence_station.catalog.footage import FootageQueries
from evidence_station.catalog.indexes import ensure_scale_schema
from evidence_station.catalog.reader import Rows
from evidence_station.catalog.rows import FastTable
from evidence_station.catalog.users import UserQueries
from evidence_station.errors import CatalogWriteError
from evidence_station.projection import ProjectionError, project
from hashing.ledger import Event, Ledger

if TYPE_CHECKING:  # sqlite-utils loads when the catalog is first written (Catalog.db)
    import sqlite_utils

SCHEMA_VERSION = 9  # 6: indexes and clips.labelled (catalog/indexes.py), scrub_passes, case_files;
# 7: case_last (R14: each case's last labelled recording, kept by triggers);
# 8: clips.duty_bits and compliance_weeks (R15, catalog/duties.py) and case_pairs (R14's
# late cases per officer and device, catalog/indexes.py), kept by triggers;
# 9: clips by (recorded_at, clip_id), per duty its clips' partial index (R15's lists) and
# compliance_blocks (R15's counts per 8 weeks, catalog/duties.py)


# R16: the device register — who a camera belongs to, and what the station saw of it.
DEVICE_REGISTER_COLUMNS: dict[str, type] = {
    "registered": int, "registered_at": str, "registered_by": str, "note": str,
    "last_port": str, "last_docked": str, "profile": str, "label": str, "usb_serial": str,
    "storage_total": int, "storage_free": int,
}




def clip_id_for(sha256: str) -> str:
    """A clip is one distinct content; its id is the first 16 hex digits of its hash."""
    return sha256[:16]


def _is_disk_error(err: sqlite3.Error) -> bool:
    """SQLITE_FULL, SQLITE_IOERR, SQLITE_CANTOPEN and friends: the disk, not our SQL."""
    code = getattr(err, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN,
                               sqlite3.SQLITE_READONLY)
    text = str(err)
    return "disk" in text or "full" in text or "I/O" in text


class Catalog:
    def __init__(self, path: Path) -> None:
        self.path = path
        # The daemon's dock threads share one connection, always under Station.lock.
        conn = sqlite3.connect(path, check_same_thread=False)
        # sqlite-utils' enable_wal(): only when not WAL yet (a reader then writes nothing)
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode=wal")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        # Issue 16: reads go to the connection itself (catalog/reader.py); sqlite-utils is
        # imported only when something writes or migrates (``db``).
        self.rows = Rows(conn)
        self._db: sqlite_utils.Database | None = None
        self.replay_needed = False  # a new projected table: the writer replays the ledger
        self._statements: dict[tuple[Any, ...], str] = {}  # FastTable's prepared SQL
        self._tables: dict[str, FastTable] = {}  # table(): one sqlite-utils lookup per name
        self._ensure_schema()
        # the queries, one class per area, sharing this connection
        self.footage = FootageQueries(self.rows)
        self.casework = CaseworkQueries(self.rows)
        self.flags = FlagQueries(self.rows)
        self.docking = DockingQueries(self.rows)
        self.accounts = UserQueries(self.rows)
        self.case_files = CaseFileQueries(self.rows)

    @property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils on this catalog's connection, for writes and schema: made on first
        use (its import and plugins cost a read-only command ~40 ms, issue 16)."""
        if self._db is None:
            from evidence_station.sqlite import sqlite_utils

            self._db = sqlite_utils.Database(self.rows.conn)
        return self._db

    def close(self) -> None:
        self.rows.conn.close()

    def reset(self) -> None:
        """Drop every projected table and create the schema again (``catalog rebuild``)."""
        with self.db.conn:
            for name in self.db.table_names():
                self.db.execute(f"drop table if exists [{name}]")
        self._ensure_schema()

    def table(self, name: str) -> FastTable:
        """The table, with one-statement ``insert``/``upsert`` for the projection
        (catalog/rows.py); every other method is sqlite-utils'.

        Kept per name: ``db.table()`` asks SQLite for the view names on every call, and the
        projection calls this for each row it writes (issue 16: ~10 µs of a ~60 µs event).
        A sqlite-utils Table holds only its name and the connection, so the cached one
        stays right when the table is dropped and created again (``reset``)."""
        fast = self._tables.get(name)
        if fast is None:
            from evidence_station.sqlite import Table

            table = self.db.table(name)
            assert isinstance(table, Table)
            fast = self._tables[name] = FastTable(table, self.db.conn, self._statements)
        return fast

    def _ensure_schema(self) -> None:
        if "users" in self.rows.table_names() and list(self.rows.query(
                "select 1 from meta where key = 'schema_version' and value = ?", [str(SCHEMA_VERSION)])):
            return  # current: opening for reading writes nothing (web requests, readers)
        db = self.db
        if "meta" not in db.table_names():
            self.table("meta").create({"key": str, "value": str}, pk="key")
        if "devices" not in db.table_names():
            self.table("devices").create(
                {"device_id": str, "officer_id": str, "first_seen": str, "last_seen": str,
                 "sessions": int},
                pk="device_id",
            )
        devices = self.table("devices")
        for column, kind in DEVICE_REGISTER_COLUMNS.items():  # added with the device register
            if column not in devices.columns_dict:
                devices.add_column(column, kind)
        if "sessions" not in db.table_names():
            self.table("sessions").create(
                {"session_id": str, "device_id": str, "officer_id": str, "source": str,
                 "started_at": str, "ended_at": str, "state": str, "reason": str,
                 "files_seen": int, "files_committed": int, "files_duplicate": int,
                 "files_already": int, "files_skipped": int, "files_failed": int,
                 "bytes_committed": int, "start_seq": int, "end_seq": int, "problems": str},
                pk="session_id",
            )
        if "clips" not in db.table_names():
            self.table("clips").create(
                {"clip_id": str, "sha256": str, "size": int, "first_seq": int,
                 "ingested_at": str, "recorded_at": str, "device_id": str, "officer_id": str,
                 "source_path": str, "flags": str},
                pk="clip_id",
            )
            self.table("clips").create_index(["sha256"], unique=True)
        if "sources" not in db.table_names():
            self.table("sources").create(
                {"seq": int, "clip_id": str, "sha256": str, "session_id": str,
                 "device_id": str, "officer_id": str, "source_path": str,
                 "source_path_b64": str, "size": int, "file_mtime": str, "mtime_ns": int,
                 "recorded_at": str, "ingested_at": str, "duplicate": int, "flags": str},
                pk="seq",
            )
            self.table("sources").create_index(["clip_id"])
            self.table("sources").create_index(["device_id", "source_path_b64", "size"])
        if "analysis" not in db.table_names():
            self.table("analysis").create(
                {"clip_id": str, "seq": int, "analysed_at": str, "duration_s": float,
                 "spoken_time": str, "transcript": str, "drift_s": int, "media": str},
                pk="clip_id")
        if "review" not in db.table_names():
            self.table("review").create(
                {"flag_id": str, "clip_id": str, "kind": str, "article": str, "figures": str,
                 "raised_seq": int, "raised_at": str, "state": str, "resolution": str,
                 "resolved_by": str, "resolved_at": str, "resolved_seq": int},
                pk="flag_id")
            self.table("review").create_index(["clip_id"])
            self.table("review").create_index(["state"])
        self._ensure_casework_schema()
        sources = self.table("sources")
        if "file_seq" not in sources.columns_dict:  # added with analysis (missing files)
            sources.add_column("file_seq", int)
        sessions = self.table("sessions")
        if "returned_at" not in sessions.columns_dict:  # R4 remote-work variant
            sessions.add_column("returned_at", str)
        for table_name in ("labels", "label_history"):  # R9 categories (schema 3)
            if "category" not in self.table(table_name).columns_dict:
                self.table(table_name).add_column("category", str)
        clips = self.table("clips")
        if "deleted_at" not in clips.columns_dict:  # tombstones (schema 3)
            clips.add_column("deleted_at", str)
        tables = set(self.db.table_names())
        if "holds" not in tables:
            self.table("holds").create(
                {"hold_id": str, "clip_id": str, "reason": str, "placed_by": str, "placed_at": str,
                 "released_by": str, "released_at": str, "seq": int}, pk="hold_id")
            self.table("holds").create_index(["clip_id"])
        if "deletion_requests" not in tables:
            self.table("deletion_requests").create(
                {"clip_id": str, "requested_by": str, "requested_at": str, "reason": str, "seq": int},
                pk="clip_id")
        if "deletions" not in tables:
            self.table("deletions").create(
                {"clip_id": str, "sha256": str, "requested_by": str, "approved_by": str,
                 "klass": str, "rule": str, "expired_on": str, "deleted_at": str, "seq": int},
                pk="clip_id")
        users = self.table("users")
        for column in ("os_user", "disabled_at", "disabled_by"):  # accounts as actors (schema 4)
            if column not in users.columns_dict:
                users.add_column(column, str)
        if "releases" not in tables:  # R12: release outside the unit, request + approval
            self.table("releases").create(
                {"request_id": int, "clip_id": str, "copier": str, "reason": str,
                 "requested_by": str, "requested_at": str, "approved_by": str, "approved_at": str,
                 "copy_seq": int}, pk="request_id")
        if "requests" not in tables:  # the control socket's request ids, kept across restarts
            self.table("requests").create({"request_id": str, "seq": int, "uid": int},
                                          pk="request_id")
            if self.applied_seq >= 0:
                self.replay_needed = True  # earlier events may carry ids: project them again
        if "disc_clips" not in tables:  # R7: clips on burned discs (schema 6, compliance report)
            self.table("disc_clips").create(
                {"id": str, "seq": int, "clip_id": str, "case_number": str, "volume_id": str,
                 "verified": int, "burned_at": str}, pk="id")
            self.table("disc_clips").create_index(["clip_id"])
            if self.applied_seq >= 0:
                self.replay_needed = True  # discs burned before: project them again
        access = self.table("access")
        for column, kind in (("release_request", int), ("done_seq", int), ("manifest_sha256", str)):
            if column not in access.columns_dict:
                access.add_column(column, kind)
        if "scrub_passes" not in tables:  # F34: completed scrub passes (schema 6)
            self.table("scrub_passes").create(
                {"seq": int, "pass_id": str, "actor": str, "trigger": str, "started_at": str,
                 "ended_at": str, "events": int, "objects": int, "bytes": int,
                 "expected_objects": int, "expected_bytes": int, "coverage": float,
                 "mismatch_count": int, "mismatches": str}, pk="seq")
        ensure_scale_schema(self.db.conn)  # schema 6: issue 16's indexes (catalog/indexes.py)
        with self.db.conn:
            ensure_duties_schema(self.db.conn)  # schema 8: R15's weeks (catalog/duties.py)
        if "case_files" not in tables:  # R14: case end and case file formed (schema 6)
            self.table("case_files").create(CASE_FILE_COLUMNS, pk="case_number")
        self.table("meta").upsert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")

    # -- projection ---------------------------------------------------------------------
    @property
    def applied_seq(self) -> int:
        """Seq of the last applied ledger event, -1 when none."""
        rows = list(self.rows.query("select value from meta where key = 'applied_seq'"))
        return int(rows[0]["value"]) if rows else -1

    def catch_up(self, ledger: Ledger) -> int:
        """Apply every ledger event the catalog has not seen; return how many.

        A full or failing disk under the catalog rolls the transaction back (the previous
        durable state) and is reported as :class:`CatalogWriteError` naming the file; the
        events stay in the ledger and the next catch-up applies them (DESIGN.md, "Failure")."""
        start = self.applied_seq + 1
        events = ledger.events(start)
        try:
            return self.apply_events(events)
        except sqlite3.OperationalError as err:
            if not _is_disk_error(err):
                raise
            behind = ledger.size > start
            raise CatalogWriteError(
                catalog=self.path, detail=str(err),
                recorded=(f"Ledger events from seq {start} on are durable in the ledger and "
                          "not yet in the catalog. " if behind else ""),
                recorded_zh=(f"账本中自序号 {start} 起的事件已持久保存，尚未进入目录。"
                             if behind else "")) from err
        finally:
            events.close()  # the events file is closed now, not whenever GC comes by

    def apply_events(self, events: Iterable[Event]) -> int:
        """Apply ``events`` in one transaction, strictly in ``seq`` order: each must be the
        next after ``applied_seq``. A gap is refused, never jumped, so a write that failed
        once (a locked database) is replayed by the next :meth:`catch_up` instead of lost."""
        count = 0
        # One transaction for the events and applied_seq (issue 22, crash points): sqlite-utils
        # commits each write by itself unless a transaction is open, and a kill between an
        # event's rows and applied_seq made the next catch-up apply it twice (a device's
        # session count, say). atomic() opens it; sqlite-utils' own writes nest as savepoints.
        with self.db.atomic():
            last = self.applied_seq
            for event in events:
                if event.seq != last + 1:
                    raise ProjectionError(
                        f"ledger event {event.seq} arrived after {last}: the catalog applies "
                        "events in order only; catch up from the ledger")
                project(self, event)
                last = event.seq
                count += 1
            if count:
                self.table("meta").upsert({"key": "applied_seq", "value": str(last)}, pk="key")
        return count

    def _ensure_casework_schema(self) -> None:
        tables = set(self.db.table_names())
        if "labels" not in tables:  # R5: the current label of each clip
            self.table("labels").create(
                {"clip_id": str, "case_number": str, "party": str, "handler": str, "reporter": str,
                 "complainant": str, "labelled_by": str, "labelled_at": str, "seq": int},
                pk="clip_id")
            self.table("labels").create_index(["case_number"])
        if "label_history" not in tables:  # every change, for the full history
            self.table("label_history").create(
                {"id": str, "seq": int, "clip_id": str, "case_number": str, "party": str,
                 "handler": str, "reporter": str, "complainant": str, "actor": str, "time": str},
                pk="id")
            self.table("label_history").create_index(["clip_id"])
        if "evidence" not in tables:  # R7
            self.table("evidence").create(
                {"clip_id": str, "collector": str, "collected_at": str, "location": str,
                 "fact_to_prove": str, "transcript": str, "designated_by": str,
                 "designated_at": str, "seq": int}, pk="clip_id")
        if "access" not in tables:  # R10
            self.table("access").create(
                {"seq": int, "clip_id": str, "kind": str, "person": str, "approver": str,
                 "reason": str, "outside": int, "actor": str, "time": str, "destination": str},
                pk="seq")
            self.table("access").create_index(["clip_id"])
        if "users" not in tables:
            self.table("users").create(
                {"username": str, "role": str, "display_name": str, "officer_id": str,
                 "created_at": str, "updated_at": str, "updated_by": str}, pk="username")

    def table_rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of one projected table (``check`` compares them with a fresh projection)."""
        if table not in self.rows.table_names():
            raise KeyError(table)
        return list(self.rows.query(f"select * from [{table}]"))

    def request(self, request_id: str) -> dict[str, Any] | None:
        """The first event a control-socket request recorded (its id is in ``auth``)."""
        rows = list(self.rows.query("select * from requests where request_id = ?", [request_id]))
        return dict(rows[0]) if rows else None


    def counts(self) -> dict[str, int]:
        return {name: self.db[name].count for name in ("clips", "sources", "sessions", "devices")}


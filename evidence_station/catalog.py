"""The catalog: a SQLite projection of the ledger (invariant 3), through sqlite-utils.

Every row here is derived from a ledger event; ``meta.applied_seq`` says how far. After
a crash between "ledger event durable" and "catalog row written", :meth:`catch_up`
replays the missing events, so the catalog can lag the ledger but never lead it or
disagree with it. ``catalog rebuild`` throws the file away and replays everything.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.db import Table

from evidence_station.projection import ProjectionError, project
from hashing.ledger import Event, Ledger

SCHEMA_VERSION = 5


# R16: the device register — who a camera belongs to, and what the station saw of it.
DEVICE_REGISTER_COLUMNS: dict[str, type] = {
    "registered": int, "registered_at": str, "registered_by": str, "note": str,
    "last_port": str, "last_docked": str, "profile": str, "label": str, "usb_serial": str,
    "storage_total": int, "storage_free": int,
}


CLIP_SELECT = (
    "select c.*, a.duration_s, a.spoken_time, a.transcript, a.drift_s, a.seq as analysed, "
    "(select json_group_array(json_object('kind', r.kind, 'article', r.article, 'flag_id', "
    "r.flag_id, 'state', r.state, 'figures', json(r.figures))) from review r "
    "where r.clip_id = c.clip_id) as review "
    "from clips c left join analysis a on a.clip_id = c.clip_id"
)


def clip_id_for(sha256: str) -> str:
    """A clip is one distinct content; its id is the first 16 hex digits of its hash."""
    return sha256[:16]


class Catalog:
    def __init__(self, path: Path) -> None:
        self.path = path
        # The daemon's dock threads share one connection, always under Station.lock.
        self.db = sqlite_utils.Database(sqlite3.connect(path, check_same_thread=False))
        self.db.enable_wal()
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=10000")
        self.replay_needed = False  # a new projected table: the writer replays the ledger
        self._ensure_schema()

    def close(self) -> None:
        self.db.close()

    def reset(self) -> None:
        """Drop every projected table and create the schema again (``catalog rebuild``)."""
        with self.db.conn:
            for name in self.db.table_names():
                self.db.execute(f"drop table if exists [{name}]")
        self._ensure_schema()

    def table(self, name: str) -> Table:
        table = self.db.table(name)
        assert isinstance(table, Table)
        return table

    def _ensure_schema(self) -> None:
        db = self.db
        if "users" in db.table_names() and list(db.query(
                "select 1 from meta where key = 'schema_version' and value = ?", [str(SCHEMA_VERSION)])):
            return  # current: opening for reading writes nothing (web requests, readers)
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
            self.table("clips").create_index(["recorded_at"])
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
        access = self.table("access")
        for column, kind in (("release_request", int), ("done_seq", int), ("manifest_sha256", str)):
            if column not in access.columns_dict:
                access.add_column(column, kind)
        self.table("meta").upsert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")

    # -- projection ---------------------------------------------------------------------
    @property
    def applied_seq(self) -> int:
        """Seq of the last applied ledger event, -1 when none."""
        rows = list(self.db.query("select value from meta where key = 'applied_seq'"))
        return int(rows[0]["value"]) if rows else -1

    def catch_up(self, ledger: Ledger) -> int:
        """Apply every ledger event the catalog has not seen; return how many."""
        start = self.applied_seq + 1
        return self.apply_events(ledger.events(start))

    def apply_events(self, events: Iterable[Event]) -> int:
        """Apply ``events`` in one transaction, strictly in ``seq`` order: each must be the
        next after ``applied_seq``. A gap is refused, never jumped, so a write that failed
        once (a locked database) is replayed by the next :meth:`catch_up` instead of lost."""
        count = 0
        with self.db.conn:
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

    # -- casework queries ---------------------------------------------------------------
    def table_rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of one projected table (``check`` compares them with a fresh projection)."""
        if table not in self.db.table_names():
            raise KeyError(table)
        return list(self.db.query(f"select * from [{table}]"))

    def request(self, request_id: str) -> dict[str, Any] | None:
        """The first event a control-socket request recorded (its id is in ``auth``)."""
        rows = list(self.db.query("select * from requests where request_id = ?", [request_id]))
        return dict(rows[0]) if rows else None

    def open_holds(self) -> list[dict[str, Any]]:
        return list(self.db.query("select * from holds where released_at is null order by seq"))

    def deletion_requests(self) -> list[dict[str, Any]]:
        return list(self.db.query("select * from deletion_requests order by seq"))

    def access_register(self) -> list[dict[str, Any]]:
        """R10: every viewing and copy, in ledger order."""
        return list(self.db.query("select * from access order by seq"))

    def drifts(self) -> list[float]:
        """Every measured clock drift (s) of an analysed clip."""
        return [float(row["drift_s"]) for row in self.db.query(
            "select drift_s from analysis where drift_s is not null")]

    def retention_rows(self, time_flag_kinds: Iterable[str],
                       clip_id: str | None = None) -> list[dict[str, Any]]:
        """What retention needs of each stored (not deleted) clip: times, case, category,
        when it was first labelled with its case number, evidence, open time flags."""
        kinds = list(time_flag_kinds)
        sql = ("select c.clip_id, c.sha256, c.recorded_at, c.ingested_at, l.case_number, "
               "l.category, (select min(h.time) from label_history h where h.clip_id = c.clip_id "
               "and h.case_number = l.case_number) labelled_at, "
               "e.clip_id is not null as evidence, "
               "(select json_group_array(r.kind) from review r where r.clip_id = c.clip_id and "
               f"r.state = 'open' and r.kind in ({', '.join('?' for _ in kinds)})) time_flags "
               "from clips c left join labels l on l.clip_id = c.clip_id "
               "left join evidence e on e.clip_id = c.clip_id where c.deleted_at is null")
        params: list[str] = list(kinds)
        if clip_id:
            sql += " and c.clip_id = ?"
            params.append(clip_id)
        return [dict(row) for row in self.db.query(sql + " order by c.first_seq", params)]

    def session_counts(self, session_id: str) -> dict[str, int]:
        """What a session committed, from its sources (an interrupted session's end)."""
        row = next(self.db.query(
            "select sum(case when duplicate then 0 else 1 end) c, sum(duplicate) d, "
            "sum(case when duplicate then 0 else size end) b from sources where session_id = ?",
            [session_id]))
        return {"committed": row["c"] or 0, "duplicate": row["d"] or 0, "bytes": row["b"] or 0}

    def first_docking(self, clip_id: str) -> dict[str, Any] | None:
        """started_at and returned_at of the session that first brought ``clip_id``."""
        rows = list(self.db.query(
            "select s.started_at, s.returned_at from sources src join sessions s "
            "on s.session_id = src.session_id where src.clip_id = ? order by src.seq limit 1",
            [clip_id]))
        return dict(rows[0]) if rows else None

    def device_clips(self, device_id: str) -> list[dict[str, Any]]:
        """Each clip of a device: earliest recorded time, file number, duration, statement."""
        return list(self.db.query(
            "select src.clip_id, min(src.recorded_at) recorded_at, min(src.file_seq) file_seq, "
            "a.duration_s, a.spoken_time from sources src "
            "left join analysis a on a.clip_id = src.clip_id "
            "where src.device_id = ? group by src.clip_id", [device_id]))

    def case_evidence_ids(self, case_number: str) -> list[str]:
        """R7: the stored clips designated as evidence in ``case_number``."""
        return [row["clip_id"] for row in self.db.query(
            "select c.clip_id from clips c join labels l on l.clip_id = c.clip_id join evidence e "
            "on e.clip_id = c.clip_id where l.case_number = ? and c.deleted_at is null "
            "order by c.first_seq", [case_number])]

    def label_of(self, clip_id: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from labels where clip_id = ?", [clip_id]))
        return dict(rows[0]) if rows else None

    def label_history(self, clip_id: str) -> list[dict[str, Any]]:
        return list(self.db.query(
            "select * from label_history where clip_id = ? order by seq", [clip_id]))

    def evidence_of(self, clip_id: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from evidence where clip_id = ?", [clip_id]))
        return dict(rows[0]) if rows else None

    def access_of(self, clip_id: str) -> list[dict[str, Any]]:
        return list(self.db.query("select * from access where clip_id = ? order by seq", [clip_id]))

    def committed_hash(self, device_id: str, source_path_b64: str) -> str | None:
        """The SHA-256 this device's file at that path was committed with, if it was."""
        rows = list(self.db.query(
            "select sha256 from sources where device_id = ? and source_path_b64 = ? "
            "order by seq desc limit 1", [device_id, source_path_b64]))
        return str(rows[0]["sha256"]) if rows else None

    def active_holds(self, clip_id: str) -> list[str]:
        return [row["reason"] for row in self.db.query(
            "select reason from holds where clip_id = ? and released_at is null", [clip_id])]

    def deletion_request(self, clip_id: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from deletion_requests where clip_id = ?", [clip_id]))
        return dict(rows[0]) if rows else None

    def deletions(self) -> list[dict[str, Any]]:
        return list(self.db.query("select * from deletions order by seq"))

    def user(self, username: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from users where username = ?", [username]))
        return dict(rows[0]) if rows else None

    def user_for_os_login(self, login: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from users where os_user = ?", [login]))
        return dict(rows[0]) if rows else None

    def release_request(self, request_id: int) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from releases where request_id = ?", [request_id]))
        return dict(rows[0]) if rows else None

    def users(self) -> list[dict[str, Any]]:
        return list(self.db.query("select * from users order by username"))

    def review(self, *, include_resolved: bool = False,
               clip_id: str | None = None) -> list[dict[str, Any]]:
        where, params = [], []
        if not include_resolved:
            where.append("state = 'open'")
        if clip_id:
            where.append("clip_id = ?")
            params.append(clip_id)
        sql = "select * from review" + (" where " + " and ".join(where) if where else "")
        rows = []
        for row in self.db.query(sql + " order by raised_seq, flag_id", params):
            item = dict(row)
            item["figures"] = json.loads(item["figures"] or "{}")
            rows.append(item)
        return rows

    def has_flag(self, flag_id: str) -> bool:
        return bool(list(self.db.query("select 1 from review where flag_id = ?", [flag_id])))

    def analysis_of(self, clip_id: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from analysis where clip_id = ?", [clip_id]))
        if not rows:
            return None
        row = dict(rows[0])
        row["media"] = json.loads(row["media"] or "null")
        return row

    def unanalysed_clips(self) -> list[str]:
        return [row["clip_id"] for row in self.db.query(
            "select clip_id from clips where clip_id not in (select clip_id from analysis) "
            "order by first_seq")]

    # -- queries --------------------------------------------------------------------------
    def already_ingested(self, device_id: str, source_path_b64: str, size: int,
                         mtime_ns: int) -> bool:
        """Was this camera file committed before (a resumed or repeated docking)?

        Same device, same exact path bytes, same size, and a modification time within
        2 s: FAT keeps 2-second times and different drivers round them differently.
        """
        rows = self.db.query(
            "select mtime_ns from sources where device_id = ? and source_path_b64 = ? "
            "and size = ?",
            [device_id, source_path_b64, size],
        )
        return any(abs((row["mtime_ns"] or 0) - mtime_ns) <= 2_000_000_000 for row in rows)

    def clips(self, *, device_id: str | None = None, session_id: str | None = None,
              flagged: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
        where, params = [], []
        if device_id:
            where.append("c.device_id = ?")
            params.append(device_id)
        if session_id:
            where.append("c.clip_id in (select clip_id from sources where session_id = ?)")
            params.append(session_id)
        if flagged:
            where.append("(c.flags != '[]' or exists (select 1 from review r "
                         "where r.clip_id = c.clip_id and r.state = 'open'))")
        sql = CLIP_SELECT
        if where:
            sql += " where " + " and ".join(where)
        sql += " order by c.first_seq"
        if limit:
            sql += f" limit {int(limit)}"
        return [self._clip_row(row) for row in self.db.query(sql, params)]

    def _clip_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": row["clip_id"], "sha256": row["sha256"], "size": row["size"],
            "source_path": row["source_path"], "device_id": row["device_id"],
            "officer_id": row["officer_id"], "recorded_at": row["recorded_at"],
            "ingested_at": row["ingested_at"], "ledger_seq": row["first_seq"],
            "duration_s": row["duration_s"], "spoken_time": row["spoken_time"],
            "transcript": row["transcript"], "drift_s": row["drift_s"],
            "analysed": row["analysed"] is not None,
            "deleted_at": row["deleted_at"],  # after an approved deletion: the hash stays
            # ingest flags (what the file itself showed) and review flags (analysis, R1–R4)
            "flags": [*json.loads(row["flags"] or "[]"), *json.loads(row["review"] or "[]")],
        }

    def has_clip(self, clip_id: str) -> bool:
        return any(True for _ in self.db.query("select 1 from clips where clip_id = ?", [clip_id]))

    def find_clip(self, prefix: str) -> list[dict[str, Any]]:
        prefix = prefix.lower()
        rows = self.db.query(
            CLIP_SELECT + " where c.clip_id like ? or c.sha256 like ? order by c.first_seq limit 5",
            [prefix + "%", prefix + "%"],
        )
        return [self._clip_row(row) for row in rows]

    def sources_of(self, clip_id: str) -> list[dict[str, Any]]:
        rows = self.db.query("select * from sources where clip_id = ? order by seq", [clip_id])
        result = []
        for row in rows:
            item = dict(row)
            item["flags"] = json.loads(item["flags"] or "[]")
            item["duplicate"] = bool(item["duplicate"])
            result.append(item)
        return result

    def sessions(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self.db.query("select * from sessions order by start_seq")]

    def running_sessions(self) -> list[dict[str, Any]]:
        return [dict(row) for row in
                self.db.query("select * from sessions where state = 'running' order by start_seq")]


    def devices(self) -> list[dict[str, Any]]:
        return list(self.db.query("select * from devices order by device_id"))

    def registered_device(self, keys: Iterable[str]) -> dict[str, Any] | None:
        """The register entry for the first of ``keys`` that is registered, if any."""
        for key in keys:
            rows = list(self.db.query(
                "select * from devices where device_id = ? and registered = 1", [key]))
            if rows:
                return rows[0]
        return None

    def counts(self) -> dict[str, int]:
        return {name: self.db[name].count for name in ("clips", "sources", "sessions", "devices")}

    def clip_list_page(self, *, officer_id: str | None = None, unlabelled: bool = False,
                       session_id: str | None = None, search: str | None = None,
                       limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """One page of the clip list, filtered and paged in SQL (the web UI's clip queue),
        each row with its current ``label`` (case number, party, handler) or None.

        ``officer_id`` limits to one officer's clips; ``search`` matches a substring of the
        clip id, device, officer, recording time, case number, party or handler. Reporter
        and complainant are commitments here (R12) and are never searched. Ask for one row
        more than a page to learn whether a next page exists."""
        where: list[str] = []
        params: list[Any] = []
        if officer_id is not None:
            where.append("x.officer_id = ?")
            params.append(officer_id)
        if unlabelled:
            where.append("l.clip_id is null")
        if session_id:
            where.append("x.clip_id in (select clip_id from sources where session_id = ?)")
            params.append(session_id)
        if search:
            needle = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%") \
                .replace("_", "\\_") + "%"
            columns = ("x.clip_id", "x.device_id", "x.officer_id", "x.recorded_at",
                       "l.case_number", "l.party", "l.handler")
            where.append("(" + " or ".join(f"lower(coalesce({column}, '')) like ? escape '\\'"
                                           for column in columns) + ")")
            params.extend([needle] * len(columns))
        sql = (f"select x.*, l.clip_id as label_clip, l.case_number as label_case_number, "
               f"l.party as label_party, l.handler as label_handler from ({CLIP_SELECT}) x "
               "left join labels l on l.clip_id = x.clip_id")
        if where:
            sql += " where " + " and ".join(where)
        sql += " order by x.first_seq limit ? offset ?"
        params.extend([max(0, int(limit)), max(0, int(offset))])
        rows = []
        for row in self.db.query(sql, params):
            item = self._clip_row(row)
            item["label"] = {"case_number": row["label_case_number"], "party": row["label_party"],
                             "handler": row["label_handler"]} if row["label_clip"] else None
            rows.append(item)
        return rows

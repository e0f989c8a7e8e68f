"""Clips, their sources and analysis, the clip list: what was docked and what analysis found."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlite_utils

CLIP_SELECT = (
    "select c.*, a.duration_s, a.spoken_time, a.transcript, a.drift_s, a.seq as analysed, "
    "(select json_group_array(json_object('kind', r.kind, 'article', r.article, 'flag_id', "
    "r.flag_id, 'state', r.state, 'figures', json(r.figures))) from review r "
    "where r.clip_id = c.clip_id) as review "
    "from clips c left join analysis a on a.clip_id = c.clip_id"
)


class FootageQueries:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

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

    def find_clip(self, prefix: str) -> list[dict[str, Any]]:
        prefix = prefix.lower()
        rows = self.db.query(
            CLIP_SELECT + " where c.clip_id like ? or c.sha256 like ? order by c.first_seq limit 5",
            [prefix + "%", prefix + "%"],
        )
        return [self._clip_row(row) for row in rows]

    def all_clip_ids(self) -> list[str]:
        """Every clip id (deleted ones too): short ids must be unique among all of them."""
        return [row["clip_id"] for row in self.db.query("select clip_id from clips")]

    def has_clip(self, clip_id: str) -> bool:
        return any(True for _ in self.db.query("select 1 from clips where clip_id = ?", [clip_id]))

    def sources_of(self, clip_id: str) -> list[dict[str, Any]]:
        rows = self.db.query("select * from sources where clip_id = ? order by seq", [clip_id])
        result = []
        for row in rows:
            item = dict(row)
            item["flags"] = json.loads(item["flags"] or "[]")
            item["duplicate"] = bool(item["duplicate"])
            result.append(item)
        return result

    def unanalysed_clips(self) -> list[str]:
        return [row["clip_id"] for row in self.db.query(
            "select clip_id from clips where clip_id not in (select clip_id from analysis) "
            "order by first_seq")]

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

    def committed_hash(self, device_id: str, source_path_b64: str) -> str | None:
        """The SHA-256 this device's file at that path was committed with, if it was."""
        rows = list(self.db.query(
            "select sha256 from sources where device_id = ? and source_path_b64 = ? "
            "order by seq desc limit 1", [device_id, source_path_b64]))
        return str(rows[0]["sha256"]) if rows else None

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

    def analysis_of(self, clip_id: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from analysis where clip_id = ?", [clip_id]))
        if not rows:
            return None
        row = dict(rows[0])
        row["media"] = json.loads(row["media"] or "null")
        return row

    def drifts(self) -> list[float]:
        """Every measured clock drift (s) of an analysed clip."""
        return [float(row["drift_s"]) for row in self.db.query(
            "select drift_s from analysis where drift_s is not null")]

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

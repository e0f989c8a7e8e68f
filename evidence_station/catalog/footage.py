"""Clips, their sources and analysis, the clip list: what was docked and what analysis found."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from evidence_station.catalog.indexes import search_available

CLIP_SELECT = (
    "select c.*, a.duration_s, a.spoken_time, a.transcript, a.drift_s, a.seq as analysed, "
    "(select json_group_array(json_object('kind', r.kind, 'article', r.article, 'flag_id', "
    "r.flag_id, 'state', r.state, 'figures', json(r.figures))) from review r "
    "where r.clip_id = c.clip_id) as review "
    "from clips c left join analysis a on a.clip_id = c.clip_id"
)

if TYPE_CHECKING:  # the catalog's read side: plain sqlite3 (catalog/reader.py, issue 16)
    from evidence_station.catalog.reader import Rows


class FootageQueries:
    def __init__(self, db: Rows) -> None:
        self.db = db

    def clips(self, *, device_id: str | None = None, session_id: str | None = None,
              flagged: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
        """Clips in ledger order without their labels: :meth:`search` with these filters
        (one set of filter SQL and indexes for both)."""
        rows = self.search(device_id=device_id, session_id=session_id, flagged=flagged,
                           limit=limit or None)
        for row in rows:
            del row["label"]
        return rows

    def find_clip(self, prefix: str) -> list[dict[str, Any]]:
        """Up to 5 clips whose id or SHA-256 starts with ``prefix`` (lower-cased).

        Each prefix is an index range (``>= prefix and < the next prefix``), never a
        ``like`` over every clip: at 10^6 clips ``show`` and a clip's page stay O(log n)."""
        prefix = prefix.lower()
        upper = _next_prefix(prefix)
        rows = self.db.query(
            CLIP_SELECT + " where c.clip_id in (select clip_id from (select clip_id, first_seq "
            "from clips where clip_id >= :p and clip_id < :u union select clip_id, first_seq "
            "from clips where sha256 >= :p and sha256 < :u) order by first_seq limit 5) "
            "order by c.first_seq",
            {"p": prefix, "u": upper},
        )
        return [self._clip_row(row) for row in rows]

    def existing_clip_ids(self, clip_ids: Iterable[str]) -> set[str]:
        """Which of ``clip_ids`` are clips (exact ids): one primary-key query per 500 ids
        instead of a :meth:`find_clip` with its whole row per id (issue 16: a session's
        ``label`` request checked 200 clips one by one)."""
        wanted = list(dict.fromkeys(clip_ids))
        found: set[str] = set()
        for start in range(0, len(wanted), 500):  # below SQLite's 999-variable floor
            chunk = wanted[start:start + 500]
            found.update(row[0] for row in self.db.execute(
                f"select clip_id from clips where clip_id in ({', '.join('?' * len(chunk))})",
                chunk).fetchall())
        return found

    def clip(self, clip_id: str) -> dict[str, Any] | None:
        """The clip with exactly this id, by primary key (the media route: O(1))."""
        rows = list(self.db.query(CLIP_SELECT + " where c.clip_id = ?", [clip_id]))
        return self._clip_row(rows[0]) if rows else None

    def search(self, *, case_number: str | None = None, party: str | None = None,
               handler: str | None = None, officer_id: str | None = None,
               device_id: str | None = None, session_id: str | None = None,
               time_from: str | None = None, time_to: str | None = None,
               unlabelled: bool = False, flagged: bool = False, limit: int | None = None,
               offset: int = 0) -> list[dict[str, Any]]:
        """``clips`` with its filters in SQL, in ledger order, each row with its current
        ``label`` (case number, party, handler) or None.

        Same meaning as the filters always had: case number exact, party and handler a
        substring, officer and device exact, ``time_from <= recorded_at < time_to`` as
        text (ISO times compare as text). Each filter has its index (catalog/indexes.py),
        so a search reads the rows it returns, not the catalog."""
        where: list[str] = []
        params: list[Any] = []
        if case_number:
            where.append("c.clip_id in (select clip_id from labels where case_number = ?)")
            params.append(case_number)
        for wanted, column in ((party, "party"), (handler, "handler")):
            if wanted:
                where.append(f"instr(l.{column}, ?) > 0")
                params.append(wanted)
        for wanted, column in ((officer_id, "officer_id"), (device_id, "device_id")):
            if wanted:
                where.append(f"c.{column} = ?")
                params.append(wanted)
        if session_id:
            where.append("c.clip_id in (select clip_id from sources where session_id = ?)")
            params.append(session_id)
        if time_from:
            where.append("c.recorded_at >= ?")
            params.append(time_from)
        if time_to:
            # As the filter always was: an unknown time counts as before any time (with a
            # lower bound it is out anyway). Written so the index bounds the range.
            where.append("c.recorded_at < ?" if time_from else
                         "(c.recorded_at < ? or c.recorded_at is null)")
            params.append(time_to)
        if unlabelled:
            where.append("c.labelled = 0")
        if flagged:
            where.append("(c.flags != '[]' or exists (select 1 from review r "
                         "where r.clip_id = c.clip_id and r.state = 'open'))")
        sql = (CLIP_SELECT.replace(" from clips c ", ", l.clip_id as label_clip, l.case_number "
                                   "as label_case_number, l.party as label_party, l.handler as "
                                   "label_handler from clips c ", 1)
               + " left join labels l on l.clip_id = c.clip_id")
        if where:
            sql += " where " + " and ".join(where)
        # With a time range, the recorded_at index finds the rows and they are sorted; the
        # unary + keeps SQLite from walking every clip in first_seq order instead.
        sql += " order by +c.first_seq" if time_from or time_to else " order by c.first_seq"
        if limit is not None or offset:
            sql += " limit ? offset ?"
            params.extend([-1 if limit is None else max(0, int(limit)), max(0, int(offset))])
        rows = []
        for row in self.db.query(sql, params):
            item = self._clip_row(row)
            item["label"] = {"case_number": row["label_case_number"], "party": row["label_party"],
                             "handler": row["label_handler"]} if row["label_clip"] else None
            rows.append(item)
        return rows

    def with_neighbours(self, clip_ids: list[str]) -> list[str]:
        """``clip_ids`` and, for each, the clip ids just before and after it in id order
        (deleted clips too): enough to give each its shortest unique prefix among ALL clips
        (cli/tables.py ``short_ids``) with two primary-key lookups a row, not a scan of
        10^6 ids."""
        found = set(clip_ids)
        for clip_id in clip_ids:
            for sql in ("select max(clip_id) m from clips where clip_id < ?",
                        "select min(clip_id) m from clips where clip_id > ?"):
                for row in self.db.query(sql, [clip_id]):
                    if row["m"] is not None:
                        found.add(row["m"])
        return sorted(found)

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
        more than a page to learn whether a next page exists.

        The page is found first as rowids from an index (``limit``/``offset`` over index
        entries only, a "deferred join"), then only those rows are read with their
        analysis, flags and label: the last page of 10^6 clips costs an index walk, not
        10^6 rows built and thrown away."""
        where: list[str] = []
        params: list[Any] = []
        if officer_id is not None:
            where.append("c.officer_id = ?")
            params.append(officer_id)
        if unlabelled:
            where.append("c.labelled = 0")  # indexed (catalog/indexes.py), not a scan
        if session_id:
            where.append("c.clip_id in (select clip_id from sources where session_id = ?)")
            params.append(session_id)
        source, order = "clips c", "c.first_seq"
        trigram = bool(search and len(search) >= 3 and search_available(self.db.conn)
                       and "\n" not in search)
        if trigram and unlabelled and self._few_unlabelled():
            # The clerk's queue (unlabelled) holding few clips: walk them by their index and
            # test each (the "like" below). Walking the trigram index instead reads every
            # match of a common text to find the few unlabelled ones: 10 s at 380,000
            # clips with none unlabelled.
            trigram = False
        if trigram:
            assert search is not None
            # The trigram index (catalog/indexes.py): the same substring match, from the
            # index, walked in rowid order and stopped at the page's last match. Issue 16: a
            # string of common characters (a case number "2024-XC-001234", a device prefix)
            # matched as "clip_id in (all matches)" had every match found and sorted first:
            # 1-3 s at 10^5 clips for a text in every clip, now the page's matches only.
            # Rowid order is first_seq order: the projection inserts each clip once, in
            # ledger order, and nothing deletes, replaces or vacuums clips (tested).
            source, order = "clip_search s cross join clips c on c.rowid = s.rowid", "s.rowid"
            where.insert(0, "s.clip_search match ?")
            params.insert(0, '"' + search.replace('"', '""') + '"')
        elif search:
            needle = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%") \
                .replace("_", "\\_") + "%"
            like = "lower(coalesce({}, '')) like ? escape '\\'"
            own = ("c.clip_id", "c.device_id", "c.officer_id", "c.recorded_at")
            labelled = ("l.case_number", "l.party", "l.handler")
            where.append("(" + " or ".join(like.format(column) for column in own)
                         # correlated: the ordered scan stops at the page's last match
                         + " or exists (select 1 from labels l where l.clip_id = c.clip_id and ("
                         + " or ".join(like.format(column) for column in labelled) + ")))")
            params.extend([needle] * (len(own) + len(labelled)))
        page = (f"select c.rowid from {source}" + (" where " + " and ".join(where) if where else "")
                + f" order by {order} limit ? offset ?")
        params.extend([max(0, int(limit)), max(0, int(offset))])
        sql = (CLIP_SELECT.replace(" from clips c ", ", l.clip_id as label_clip, l.case_number "
                                   "as label_case_number, l.party as label_party, l.handler as "
                                   "label_handler from clips c ", 1)
               + f" left join labels l on l.clip_id = c.clip_id where c.rowid in ({page}) "
               "order by c.first_seq")
        rows = []
        for row in self.db.query(sql, params):
            item = self._clip_row(row)
            item["label"] = {"case_number": row["label_case_number"], "party": row["label_party"],
                             "handler": row["label_handler"]} if row["label_clip"] else None
            rows.append(item)
        return rows

    def _few_unlabelled(self) -> bool:
        """Whether fewer than :data:`UNLABELLED_WALK` clips are unlabelled (an index range
        of at most that many entries, whatever the catalog's size)."""
        count = self.db.execute("select count(*) from (select 1 from clips where labelled = 0 "
                                "limit ?)", [UNLABELLED_WALK]).fetchone()[0]
        return bool(count < UNLABELLED_WALK)

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


# Up to this many unlabelled clips, a search of the clerk's queue tests each of them
# instead of walking the trigram index (clip_list_page).
UNLABELLED_WALK = 2000


def _next_prefix(prefix: str) -> str:
    """The least string above every string that starts with ``prefix`` (SQLite compares
    text as UTF-8 bytes, which orders like code points). ``\U0010ffff`` for the empty
    prefix, above any clip id or hash."""
    if not prefix:
        return "\U0010ffff"
    last = prefix[-1]
    if last == "\U0010ffff":
        return _next_prefix(prefix[:-1])
    if last == "\ud7ff":  # the surrogates are not text: the next code point is U+E000
        return prefix[:-1] + "\ue000"
    return prefix[:-1] + chr(ord(last) + 1)

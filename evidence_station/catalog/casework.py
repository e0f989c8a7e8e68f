"""Labels (R5), evidence (R7), access (R10, R12), holds and deletions (R11), and what
retention needs of each clip."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the catalog's read side: plain sqlite3 (catalog/reader.py, issue 16)
    from evidence_station.catalog.reader import Rows


class CaseworkQueries:
    def __init__(self, db: Rows) -> None:
        self.db = db

    def label_of(self, clip_id: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from labels where clip_id = ?", [clip_id]))
        return dict(rows[0]) if rows else None

    def labels_of(self, clip_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The current label of each of ``clip_ids`` that has one (as :meth:`label_of`),
        one query per 500 ids: the projection of a session's label event asked per clip."""
        wanted = list(dict.fromkeys(clip_ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), 500):  # below SQLite's 999-variable floor
            chunk = wanted[start:start + 500]
            for row in self.db.query(f"select * from labels where clip_id in "
                                     f"({', '.join('?' * len(chunk))})", chunk):
                found[row["clip_id"]] = dict(row)
        return found

    def label_history(self, clip_id: str) -> list[dict[str, Any]]:
        return list(self.db.query(
            "select * from label_history where clip_id = ? order by seq", [clip_id]))

    def evidence_of(self, clip_id: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from evidence where clip_id = ?", [clip_id]))
        return dict(rows[0]) if rows else None

    def access_of(self, clip_id: str) -> list[dict[str, Any]]:
        return list(self.db.query("select * from access where clip_id = ? order by seq", [clip_id]))

    def access_register(self) -> list[dict[str, Any]]:
        """R10: every viewing and copy, in ledger order."""
        return list(self.db.query("select * from access order by seq"))

    def active_holds(self, clip_id: str) -> list[str]:
        return [row["reason"] for row in self.db.query(
            "select reason from holds where clip_id = ? and released_at is null", [clip_id])]

    def open_holds(self) -> list[dict[str, Any]]:
        return list(self.db.query("select * from holds where released_at is null order by seq"))

    def deletion_request(self, clip_id: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from deletion_requests where clip_id = ?", [clip_id]))
        return dict(rows[0]) if rows else None

    def deletion_requests(self) -> list[dict[str, Any]]:
        return list(self.db.query("select * from deletion_requests order by seq"))

    def deletions(self) -> list[dict[str, Any]]:
        return list(self.db.query("select * from deletions order by seq"))

    def release_request(self, request_id: int) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from releases where request_id = ?", [request_id]))
        return dict(rows[0]) if rows else None

    def case_evidence_ids(self, case_number: str) -> list[str]:
        """R7: the stored clips designated as evidence in ``case_number``."""
        return [row["clip_id"] for row in self.db.query(
            "select c.clip_id from clips c join labels l on l.clip_id = c.clip_id join evidence e "
            "on e.clip_id = c.clip_id where l.case_number = ? and c.deleted_at is null "
            "order by c.first_seq", [case_number])]

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

"""The review queue: the flags analysis raised and how they were resolved."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the catalog's read side: plain sqlite3 (catalog/reader.py, issue 16)
    from evidence_station.catalog.reader import Rows


class FlagQueries:
    def __init__(self, db: Rows) -> None:
        self.db = db

    def review(self, *, include_resolved: bool = False, clip_id: str | None = None,
               limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """Flags in the order they were raised; ``limit``/``offset`` page it in SQL (the
        web queue: one page, whatever the number of open flags)."""
        where: list[str] = []
        params: list[Any] = []
        if not include_resolved:
            where.append("state = 'open'")
        if clip_id:
            where.append("clip_id = ?")
            params.append(clip_id)
        sql = "select * from review" + (" where " + " and ".join(where) if where else "")
        rows = []
        sql += " order by raised_seq, flag_id"
        if limit is not None or offset:
            sql += " limit ? offset ?"
            params.extend([-1 if limit is None else max(0, int(limit)), max(0, int(offset))])
        for row in self.db.query(sql, params):
            item = dict(row)
            item["figures"] = json.loads(item["figures"] or "{}")
            rows.append(item)
        return rows

    def has_flag(self, flag_id: str) -> bool:
        return bool(list(self.db.query("select 1 from review where flag_id = ?", [flag_id])))

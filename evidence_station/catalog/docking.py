"""The device register (R16) and the docking sessions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the catalog's read side: plain sqlite3 (catalog/reader.py, issue 16)
    from evidence_station.catalog.reader import Rows


class DockingQueries:
    def __init__(self, db: Rows) -> None:
        self.db = db

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

    def sessions(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self.db.query("select * from sessions order by start_seq")]

    def last_session_id(self) -> str | None:
        """The latest docking session (by its start in the ledger), from the index."""
        rows = list(self.db.query(
            "select session_id from sessions order by start_seq desc limit 1"))
        return str(rows[0]["session_id"]) if rows else None

    def running_sessions(self) -> list[dict[str, Any]]:
        return [dict(row) for row in
                self.db.query("select * from sessions where state = 'running' order by start_seq")]

    def session_counts(self, session_id: str) -> dict[str, int]:
        """What a session committed, from its sources (an interrupted session's end)."""
        row = next(self.db.query(
            "select sum(case when duplicate then 0 else 1 end) c, sum(duplicate) d, "
            "sum(case when duplicate then 0 else size end) b from sources where session_id = ?",
            [session_id]))
        return {"committed": row["c"] or 0, "duplicate": row["d"] or 0, "bytes": row["b"] or 0}

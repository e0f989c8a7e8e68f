"""The catalog's read side on the plain ``sqlite3`` connection (issue 16, "a command
answers at once").

Every query class (``catalog.footage``, ``.casework`` …) only reads, and reads only
``query`` (rows as dicts), ``execute``, ``table_names`` and the connection: what
sqlite-utils' ``Database`` offers for that, without importing sqlite-utils and loading
its plugins (~40 ms of every read-only command's ~0.3 s). Writes, schema and migrations
keep going through sqlite-utils (``Catalog.db``, made when first used), on the same
connection, so a query inside a write transaction sees that transaction's rows as before.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any


class Rows:
    """Rows of one catalog connection, each a dict keyed by column name (sqlite-utils'
    ``Database.query`` shape, so the query classes read the same either way)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None,
              ) -> Iterator[dict[str, Any]]:
        """Run ``sql`` now; its rows are fetched as the iterator is read."""
        cursor = self.conn.execute(sql, params or [])
        if cursor.description is None:  # sqlite-utils' rule: query() is for row-returning SQL
            raise ValueError("query() can only be used with SQL that returns rows - "
                             "use execute() for other statements")
        keys = [column[0] for column in cursor.description]
        return (dict(zip(keys, row, strict=True)) for row in cursor)

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None,
                ) -> sqlite3.Cursor:
        return self.conn.execute(sql, params or [])

    def table_names(self) -> list[str]:
        return [row[0] for row in self.conn.execute(
            "select name from sqlite_master where type = 'table'")]

"""Row writes for the projection without sqlite-utils' per-call introspection.

A profile of projecting 10^5 clips (issue 16) showed sqlite-utils' ``Table.insert`` and
``upsert`` running ~13 SQL statements per row (``PRAGMA table_info``, existence checks,
index lookups) around the one that writes: ~2 ms a row, so a ``catalog rebuild`` (and
``check``, which projects the ledger afresh) of 10^7 events took hours. :class:`FastTable`
keeps the exact statements sqlite-utils would run for the calls the projection makes
(``insert`` plain / ``replace`` / ``ignore``, ``upsert`` = insert-or-ignore then update
of the given columns) as one prepared statement per shape, and hands everything else
(``create``, ``update``, ``columns_dict``, …) to sqlite-utils unchanged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any


def _quote(name: str) -> str:
    return "[" + name.replace("]", "]]") + "]"


def _value(value: Any) -> Any:
    """What sqlite-utils stores for a value (it JSON-encodes lists and dicts)."""
    if isinstance(value, dict | list | tuple):
        import json

        return json.dumps(value, default=repr, ensure_ascii=False)
    return value


class FastTable:
    """A sqlite-utils table whose ``insert`` and ``upsert`` of one row are one statement."""

    def __init__(self, table: Any, conn: sqlite3.Connection, cache: dict[tuple[Any, ...], str]) -> None:
        self._table = table
        self._conn = conn
        self._cache = cache
        self.name: str = table.name

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def insert(self, record: Mapping[str, Any], *, pk: str | None = None, replace: bool = False,
               ignore: bool = False) -> FastTable:
        """``INSERT [OR REPLACE | OR IGNORE]`` of one row into an existing table."""
        del pk  # the table exists with its primary key; sqlite-utils uses pk only to create
        columns = tuple(record)
        key = ("insert", self.name, columns, replace, ignore)
        sql = self._cache.get(key)
        if sql is None:
            verb = "insert or replace" if replace else "insert or ignore" if ignore else "insert"
            sql = (f"{verb} into {_quote(self.name)} ({', '.join(map(_quote, columns))}) "
                   f"values ({', '.join('?' * len(columns))})")
            self._cache[key] = sql
        self._execute(sql, [_value(record[c]) for c in columns])
        return self

    def upsert(self, record: Mapping[str, Any], *, pk: str) -> FastTable:
        """Insert the row, or update the given columns of the row with that ``pk`` (the
        columns not given keep their values) — sqlite-utils' upsert, in one statement."""
        columns = tuple(record)
        key = ("upsert", self.name, columns, pk)
        sql = self._cache.get(key)
        if sql is None:
            updates = [c for c in columns if c != pk]
            sql = (f"insert into {_quote(self.name)} ({', '.join(map(_quote, columns))}) "
                   f"values ({', '.join('?' * len(columns))}) on conflict ({_quote(pk)}) do "
                   + (f"update set {', '.join(f'{_quote(c)} = excluded.{_quote(c)}' for c in updates)}"
                      if updates else "nothing"))
            self._cache[key] = sql
        self._execute(sql, [_value(record[c]) for c in columns])
        return self

    def _execute(self, sql: str, values: list[Any]) -> None:
        """Run one write as sqlite-utils would: inside the caller's transaction when one is
        open (``Catalog.apply_events`` opens one with ``atomic()``), else committed by
        itself. Without the commit, a write made outside a transaction (schema set-up's
        ``meta`` row) left Python's implicit transaction open, and ``atomic()`` then nested
        the projection in a savepoint of it that nothing ever committed."""
        if self._conn.in_transaction:
            self._conn.execute(sql, values)
            return
        with self._conn:
            self._conn.execute(sql, values)

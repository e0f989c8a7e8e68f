"""Small private SQLite stores beside the ledger (mode 0600 from creation): what must be
kept but never exported — password hashes, reporters' and complainants' names."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from evidence_station.sqlite import Table, sqlite_utils


def private_table(path: Path, name: str, columns: dict[str, Any],
                  pk: str) -> tuple[sqlite_utils.Database, Table]:
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    db = sqlite_utils.Database(sqlite3.connect(path, check_same_thread=False))
    table = db.table(name)
    assert isinstance(table, Table)
    if name not in db.table_names():
        table.create(columns, pk=pk)
    return db, table

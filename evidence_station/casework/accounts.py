"""Local accounts: argon2 password hashes, kept out of the ledger.

The ledger is handed to auditors, so it records that a user exists, their role and every
change to them — never a password hash. Hashes live in ``accounts.sqlite`` (mode 0600)
beside it; argon2-cffi does the hashing with its recommended parameters.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlite_utils.db import Table

MIN_PASSWORD = 10
_HASHER = PasswordHasher()


class AccountStore:
    def __init__(self, path: Path) -> None:
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self.db = sqlite_utils.Database(sqlite3.connect(path, check_same_thread=False))
        table = self.db.table("accounts")
        assert isinstance(table, Table)
        self.table = table
        if "accounts" not in self.db.table_names():
            table.create({"username": str, "password_hash": str, "updated_at": str}, pk="username")

    def set_password(self, username: str, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"passwords have at least {MIN_PASSWORD} characters")
        self.table.upsert({"username": username, "password_hash": _HASHER.hash(password),
                           "updated_at": datetime.now(UTC).isoformat()}, pk="username")

    def verify(self, username: str, password: str) -> bool:
        rows = list(self.db.query("select password_hash from accounts where username = ?", [username]))
        if not rows:
            _HASHER.hash(password)  # same work either way: no timing hint that the user is unknown
            return False
        stored = rows[0]["password_hash"]
        try:
            _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
        if _HASHER.check_needs_rehash(stored):
            self.set_password(username, password)
        return True

    def close(self) -> None:
        self.db.close()

"""Local accounts: argon2 password hashes, kept out of the ledger.

The ledger is handed to auditors, so it records that a user exists, their role and every
change to them — never a password hash. Hashes live in ``accounts.sqlite`` (mode 0600)
beside it; argon2-cffi does the hashing with its recommended parameters.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from evidence_station.casework.private import private_table
from evidence_station.clock import SYSTEM_CLOCK, Clock

MIN_PASSWORD = 10
_HASHER = PasswordHasher()


class AccountStore:
    def __init__(self, path: Path, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock  # the station's: a password's age is judged against session times
        self.db, self.table = private_table(
            path, "accounts", {"username": str, "password_hash": str, "updated_at": str}, "username")

    def set_password(self, username: str, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"passwords have at least {MIN_PASSWORD} characters")
        self.table.upsert({"username": username, "password_hash": _HASHER.hash(password),
                           "updated_at": self.clock.now().astimezone(UTC).isoformat()},
                          pk="username")

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

    def changed_at(self, username: str) -> float | None:
        """When the password was last set (POSIX seconds): a web session older than that
        belongs to the old password and is over."""
        rows = list(self.db.query("select updated_at from accounts where username = ?", [username]))
        if not rows or not rows[0]["updated_at"]:
            return None
        return datetime.fromisoformat(str(rows[0]["updated_at"])).timestamp()

    def close(self) -> None:
        self.db.close()

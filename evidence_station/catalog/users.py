"""Accounts as the ledger projects them (role, OS user, disabled); password hashes live
in accounts.sqlite, never here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # runtime: catalog/__init__.py imports it (evidence_station/sqlite.py)
    import sqlite_utils


class UserQueries:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def user(self, username: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from users where username = ?", [username]))
        return dict(rows[0]) if rows else None

    def users(self) -> list[dict[str, Any]]:
        return list(self.db.query("select * from users order by username"))

    def user_for_os_login(self, login: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from users where os_user = ?", [login]))
        return dict(rows[0]) if rows else None

"""Accounts as the ledger projects them (role, OS user, disabled); password hashes live
in accounts.sqlite, never here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the catalog's read side: plain sqlite3 (catalog/reader.py, issue 16)
    from evidence_station.catalog.reader import Rows


class UserQueries:
    def __init__(self, db: Rows) -> None:
        self.db = db

    def user(self, username: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from users where username = ?", [username]))
        return dict(rows[0]) if rows else None

    def users(self) -> list[dict[str, Any]]:
        return list(self.db.query("select * from users order by username"))

    def user_for_os_login(self, login: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from users where os_user = ?", [login]))
        return dict(rows[0]) if rows else None

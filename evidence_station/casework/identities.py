"""R12: reporters' and complainants' identities never leak — not even to auditors.

The ledger is exported to auditors, so a label's reporter/complainant is recorded there
only as a salted SHA-256 commitment (``sha256:<hex>``); the name itself and its salt live
in ``identities.sqlite`` (mode 0600) beside the ledger. Anyone holding the name and the
salt can prove it is the one recorded; nobody can read it from the ledger or a bundle.
Only roles with ``identity.view`` see it revealed.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence_station.casework.rules import IDENTITY_FIELDS, MASK, can

if TYPE_CHECKING:
    import sqlite_utils

    from evidence_station.sqlite import Table

PREFIX = "sha256:"


def commitment(value: str, salt: str) -> str:
    return PREFIX + hashlib.sha256(f"{salt}\n{value}".encode()).hexdigest()


class IdentityStore:
    """The private identities file (0600). Reading it (``reveal``: ``show``, the web UI)
    uses a read-only sqlite3 connection, which never creates the file; sqlite-utils is
    opened only to store (``commit``), so a read-only command does not import it
    (issue 16, "a command answers at once")."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite_utils.Database | None = None
        self._table: Table | None = None
        self._reader: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite_utils.Database:
        if self._db is None:
            from evidence_station.casework.private import private_table

            self._db, self._table = private_table(
                self.path, "identities", {"commitment": str, "value": str, "salt": str},
                "commitment")
        return self._db

    @property
    def table(self) -> Table:
        self.db  # noqa: B018  # opens it
        assert self._table is not None
        return self._table

    def commit(self, value: str) -> str:
        """Store ``value`` and return the commitment that goes into the ledger."""
        salt = secrets.token_hex(16)
        digest = commitment(value, salt)
        self.table.insert({"commitment": digest, "value": value, "salt": salt}, pk="commitment")
        self.db.conn.commit()
        return digest

    def reveal(self, digest: str) -> str | None:
        conn = self._db.conn if self._db is not None else self._read_only()
        if conn is None:
            return None  # no identity was ever stored here
        try:
            rows = conn.execute("select value, salt from identities where commitment = ?",
                                [digest]).fetchall()
        except sqlite3.OperationalError as err:
            if "no such table" not in str(err):
                raise
            return None  # created, not yet written (the writer makes the table first)
        if not rows or commitment(rows[0][0], rows[0][1]) != digest:
            return None
        return str(rows[0][0])

    def _read_only(self) -> sqlite3.Connection | None:
        if self._reader is None:
            if not self.path.exists():
                return None  # asked again next time: a writer may create it meanwhile
            # mode=ro: a reader never creates or changes the file (its mode stays 0600)
            self._reader = sqlite3.connect(f"{self.path.absolute().as_uri()}?mode=ro", uri=True,
                                           check_same_thread=False)
        return self._reader

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
        if self._reader is not None:
            self._reader.close()


def protect(fields: Mapping[str, Any], store: IdentityStore) -> dict[str, Any]:
    """Replace identity values by commitments (before the event is recorded)."""
    protected = dict(fields)
    for key in IDENTITY_FIELDS:
        if protected.get(key):
            protected[key] = store.commit(str(protected[key]))
    return protected


def shown(label: Mapping[str, Any] | None, role: str | None,
          store: IdentityStore | None) -> dict[str, Any] | None:
    """A label as ``role`` may see it: identities revealed, or masked."""
    if label is None:
        return None
    result = dict(label)
    for key in IDENTITY_FIELDS:
        value = result.get(key)
        if not value:
            continue
        if can(role, "identity.view") and store is not None and str(value).startswith(PREFIX):
            result[key] = store.reveal(str(value)) or MASK
        elif not can(role, "identity.view"):
            result[key] = MASK
    return result

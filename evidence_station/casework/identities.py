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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evidence_station.casework.private import private_table
from evidence_station.casework.rules import IDENTITY_FIELDS, MASK, can

PREFIX = "sha256:"


def commitment(value: str, salt: str) -> str:
    return PREFIX + hashlib.sha256(f"{salt}\n{value}".encode()).hexdigest()


class IdentityStore:
    def __init__(self, path: Path) -> None:
        self.db, self.table = private_table(
            path, "identities", {"commitment": str, "value": str, "salt": str}, "commitment")

    def commit(self, value: str) -> str:
        """Store ``value`` and return the commitment that goes into the ledger."""
        salt = secrets.token_hex(16)
        digest = commitment(value, salt)
        self.table.insert({"commitment": digest, "value": value, "salt": salt}, pk="commitment")
        self.db.conn.commit()
        return digest

    def reveal(self, digest: str) -> str | None:
        rows = list(self.db.query("select value, salt from identities where commitment = ?", [digest]))
        if not rows or commitment(rows[0]["value"], rows[0]["salt"]) != digest:
            return None
        return str(rows[0]["value"])

    def close(self) -> None:
        self.db.close()


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

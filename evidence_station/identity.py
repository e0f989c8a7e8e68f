"""Who is acting: every event's ``actor`` is an authenticated account, never a typed name.

DESIGN.md, "The write path: one door", "Identity":
- the web UI acts for its session's account (it runs as the service user, the only peer
  allowed to name an account on the control socket);
- the CLI acts for the OS user of the connecting process (SO_PEERCRED on the control
  socket, or the process's own uid in-process), mapped to an account with
  ``user add NAME --role R --os-user LOGIN``;
- root — and the service user, who owns the data dir and could change anything in it
  anyway — is the built-in break-glass admin account ``root``; every use is ledgered so;
- what the station does by itself has the built-in account ``station``, which cannot log
  in and cannot be named by any client.
A disabled account, an unknown account and an OS user without an account are refused.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence_station.catalog import Catalog
from evidence_station.errors import NotAuthorisedError

ROOT_ACCOUNT = "root"
STATION_ACCOUNT = "station"
BUILT_IN = (ROOT_ACCOUNT, STATION_ACCOUNT)


@dataclass(frozen=True)
class Actor:
    """An authenticated account and how it reached the station."""

    account: str
    role: str  # officer | clerk | auditor | admin | system
    uid: int | None = None  # the OS user behind it, when there is one
    via: str = "cli"  # cli | socket | web | station
    officer_id: str | None = None

    def provenance(self) -> dict[str, Any]:
        """What the ledger keeps beside the actor: how the request was authenticated."""
        value: dict[str, Any] = {"via": self.via}
        if self.uid is not None:
            value["uid"] = self.uid
        return value


STATION = Actor(STATION_ACCOUNT, "system", via="station")


def service_uid(data_dir: Path) -> int:
    """The service user is whoever owns the data dir (0700): the daemon's user."""
    return os.stat(data_dir).st_uid


def login_of(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def _active(row: dict[str, Any] | None, name: str) -> dict[str, Any]:
    if row is None:
        raise NotAuthorisedError(f"there is no account {name!r}")
    if row.get("disabled_at"):
        raise NotAuthorisedError(f"account {name!r} is disabled (since {row['disabled_at']})")
    return row


def account_named(catalog: Catalog, name: str, *, via: str, uid: int | None = None) -> Actor:
    """An account a trusted front end (the web session) authenticated by password."""
    if name in BUILT_IN:
        raise NotAuthorisedError(f"the built-in account {name!r} cannot be used from {via}")
    row = _active(catalog.accounts.user(name), name)
    return Actor(row["username"], row["role"], uid, via, row.get("officer_id"))


def actor_for_uid(catalog: Catalog, uid: int, *, data_dir: Path, via: str) -> Actor:
    """The account of an OS user (the CLI's caller)."""
    if uid == 0 or uid == service_uid(data_dir):
        return Actor(ROOT_ACCOUNT, "admin", uid, via)
    login = login_of(uid)
    if login is None:
        raise NotAuthorisedError(f"OS uid {uid} has no login name, so no account")
    row = catalog.accounts.user_for_os_login(login)
    if row is None:
        raise NotAuthorisedError(
            f"OS user {login!r} has no station account; an admin adds one with "
            f"`evidence-station user add NAME --role ROLE --os-user {login}`")
    row = _active(row, row["username"])
    return Actor(row["username"], row["role"], uid, via, row.get("officer_id"))


def may_name_accounts(uid: int, data_dir: Path) -> bool:
    """Only the service user (the web UI's process) may say which account it acts for."""
    return uid == service_uid(data_dir)

"""May this account do that? One function, apart from the write path, so a read-only
command checks a permission without importing the whole service (issue 16: a command
answers at once). ``casework.service.authorise`` is this function."""

from __future__ import annotations

from evidence_station.casework import rules
from evidence_station.errors import NotAuthorisedError
from evidence_station.identity import ROOT_ACCOUNT, Actor


def authorise(actor: Actor, permission: str) -> None:
    if actor.account == ROOT_ACCOUNT or rules.can(actor.role, permission):
        return
    raise NotAuthorisedError(f"account {actor.account!r} ({actor.role}) may not {permission}")

"""How a trusted front end (the web UI, running as the service user) acts for an account
it authenticated: through the daemon when it runs (naming the account on the control
socket, which only the service user may do), else in-process on the same service.

Either way the change goes through ``casework.service.perform`` — the one door.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evidence_station.clock import SYSTEM_CLOCK, Clock
from evidence_station.config import Config
from evidence_station.docking.socket_client import daemon_answers, send_request, socket_path
from evidence_station.errors import LedgerProblem, RefusedError
from evidence_station.identity import account_named
from evidence_station.station import Station
from hashing.ledger import LedgerBusyError

WRITER_WAIT_S = 60.0


class _Remote(RefusedError):
    """A refusal reported by the daemon, carried with its own message."""


def _open_writer(data_dir: Path, config: Config, clock: Clock = SYSTEM_CLOCK) -> Station | None:
    """The writer in this process, or None when the daemon has come up meanwhile."""
    deadline = time.monotonic() + WRITER_WAIT_S
    while True:
        try:
            return Station.open(data_dir, config, writable=True, clock=clock)
        except LedgerProblem as err:
            if not isinstance(err.__cause__, LedgerBusyError) or time.monotonic() > deadline:
                raise
            if daemon_answers(socket_path(data_dir, config)):
                return None
            time.sleep(0.2)


def _reply(reply: Mapping[str, Any]) -> Mapping[str, Any]:
    if not reply.get("ok"):
        raise _Remote(str(reply.get("error", "refused")))
    return reply


def submit_as(data_dir: Path, config: Config, account: str, kind: str,
              fields: Mapping[str, Any], clock: Clock = SYSTEM_CLOCK) -> int:
    """Record one change for ``account``; return its ledger seq. ``clock`` is the
    station's "now" when the change is made in-process (tests pin it; the daemon has its
    own)."""
    from evidence_station.casework.service import perform

    while True:
        path = socket_path(data_dir, config)
        if daemon_answers(path):
            reply = _reply(send_request(path, {"kind": "event", "type": kind, "fields": dict(fields),
                                               "as_account": account}))
            return int(reply["seq"])
        station = _open_writer(data_dir, config, clock)
        if station is None:
            continue
        with station:
            actor = account_named(station.catalog, account, via="web")
            return perform(station, actor, kind, fields).seq


def run_as(data_dir: Path, config: Config, account: str, argv: list[str],
           lang: str = "zh", clock: Clock = SYSTEM_CLOCK) -> tuple[int, str, str]:
    """Run one CLI command for ``account`` (e.g. ``ledger export``): exit code, out, err."""
    from evidence_station.cli import serve_command

    while True:
        path = socket_path(data_dir, config)
        if daemon_answers(path):
            reply = _reply(send_request(path, {"kind": "command", "argv": argv, "lang": lang,
                                               "as_account": account}))
            return int(reply.get("code", 0)), str(reply.get("stdout", "")), str(reply.get("stderr", ""))
        station = _open_writer(data_dir, config, clock)
        if station is None:
            continue
        with station:
            actor = account_named(station.catalog, account, via="web")
            result = serve_command(station, actor, {"argv": argv, "lang": lang, "peer_uid": os.getuid()})
            return int(result["code"]), str(result["stdout"]), str(result["stderr"])


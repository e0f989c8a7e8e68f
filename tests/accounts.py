"""Run a CLI command as a station account, the way the daemon serves a client's command
(``evidence_station.cli.serve_command``): the same click command, the caller's account as
the actor. Tests run as root, whose own commands act as the break-glass ``root``; this is
how they act as a clerk or a second admin without typing a name anywhere."""

from __future__ import annotations

from pathlib import Path

from evidence_station.cli import serve_command
from evidence_station.clock import SYSTEM_CLOCK, Clock
from evidence_station.config import Config, load_config
from evidence_station.docking.control import new_request_id
from evidence_station.identity import account_named
from evidence_station.station import Station


def run_as(data: Path, account: str, *argv: str, stdin: str = "", config: Config | None = None,
           clock: Clock = SYSTEM_CLOCK) -> tuple[int, str, str]:
    with Station.open(data, config or load_config(None), writable=True, clock=clock) as station:
        actor = account_named(station.catalog, account, via="socket")
        reply = serve_command(station, actor, {"argv": list(argv), "stdin": stdin, "lang": "en",
                                               "peer_uid": 0, "request_id": new_request_id()})
    return int(reply["code"]), str(reply["stdout"]), str(reply["stderr"])

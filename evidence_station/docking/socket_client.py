"""The client side of the daemon's control socket (docking/control.py is the server).

Apart from the server so that a command sent to the daemon loads only this, the config
and click: not the station, catalog, ledger or accounts, which the daemon opens for it
(issue 16, "a command answers at once"; DESIGN.md, one door).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence_station.errors import ControlError, NotAuthorisedError

if TYPE_CHECKING:
    from evidence_station.config import Config

SOCKET_NAME = "control.sock"
MAX_REQUEST = 4 * 1024 * 1024  # a transcript file or a password travels with its command
RECEIVE_DEADLINE_S = 10.0


def socket_path(data_dir: Path, config: Config | None = None) -> Path:
    runtime = config.daemon.runtime_dir if config is not None else None
    return (runtime or data_dir / "run") / SOCKET_NAME


def receive(connection: socket.socket, deadline: float | None) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ControlError(f"the request did not arrive within {RECEIVE_DEADLINE_S:.0f} s")
            connection.settimeout(remaining)
        try:
            chunk = connection.recv(65536)
        except TimeoutError as err:
            raise ControlError(f"the request did not arrive within {RECEIVE_DEADLINE_S:.0f} s") from err
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ControlError("request too large")
    return data


def new_request_id() -> str:
    return secrets.token_hex(16)


def daemon_answers(path: Path) -> bool:
    """A daemon listens at ``path`` (connect succeeds); a stale socket file is not one.

    A caller the socket's mode keeps out is told so, rather than falling back to running
    the command in-process, which would fail on the data dir (0700) less clearly."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(str(path))
        except PermissionError as err:
            from evidence_station.identity import login_of

            raise NotAuthorisedError(
                f"OS user {login_of(os.getuid()) or os.getuid()} may not reach the station's "
                f"control socket {path} (permission denied): an admin adds you to the "
                "socket group ([daemon] socket_group) and maps you to an account "
                "(`evidence-station user add NAME --role ROLE --os-user LOGIN`)") from err
        except OSError:
            return False
    return True


def send_request(path: Path, request: Mapping[str, Any], *, attempts: int = 3) -> dict[str, Any]:
    """Send ``request`` and wait for the answer however long the command runs. If the
    connection breaks, send the same request id again: the daemon records it once."""
    payload = {"request_id": new_request_id(), **request}
    last: Exception | None = None
    for attempt in range(attempts):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            try:
                client.settimeout(10)
                client.connect(str(path))
                client.sendall(json.dumps(payload, ensure_ascii=False).encode() + b"\n")
                client.settimeout(None)
                raw = receive(client, None)
                if raw:
                    return dict(json.loads(raw))
                last = ControlError("the daemon closed the connection without answering")
            except OSError as err:
                last = err
        time.sleep(0.2 * (attempt + 1))
    raise ControlError(f"the daemon is not answering at {path}: {last}")

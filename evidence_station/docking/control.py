"""The daemon's control socket: how other commands write while the daemon runs.

The ledger has one writer at a time (``hashing.ledger``), and while the daemon runs that
writer is the daemon. ``device register`` (and later commands) open the ledger
themselves when they can, and otherwise hand the request to the daemon over a Unix
socket in ``run/`` (mode 0600, so only the station's own user can connect). The kernel
tells the daemon who connected (SO_PEERCRED); that uid is recorded with the event.
Requests are validated by ``casework.service`` exactly as in the CLI.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import struct
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evidence_station.station import Station
from hashing.ledger import Draft

log = logging.getLogger(__name__)
SOCKET_NAME = "control.sock"
MAX_REQUEST = 64 * 1024


class ControlError(Exception):
    """The daemon refused a request or could not be reached."""


def socket_path(data_dir: Path) -> Path:
    return data_dir / "run" / SOCKET_NAME


def handle_request(station: Station, request: Mapping[str, Any], peer_uid: int) -> dict[str, Any]:
    """Validate one request exactly as the CLI would and record it; the reply says which
    event it became."""
    from evidence_station.casework.rules import CaseworkError
    from evidence_station.casework.service import after_record, build_draft

    kind, actor, fields = request.get("type"), request.get("actor"), request.get("fields")
    if not isinstance(kind, str) or not isinstance(actor, str) or not isinstance(fields, dict):
        raise ControlError("a request is {type, actor, fields}")
    try:
        draft = build_draft(station, kind, actor, fields)
    except CaseworkError as err:
        raise ControlError(str(err)) from err
    draft_fields = {**draft.fields, "via": {"control_socket": True, "peer_uid": peer_uid}}
    event = station.record(Draft(draft.type, draft.actor, draft_fields))
    after_record(station, draft)
    return {"ok": True, "seq": event.seq}


class ControlServer:
    def __init__(self, station: Station) -> None:
        self.station = station
        self.path = socket_path(station.layout.root)
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)

    def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            server.bind(str(self.path))
        finally:
            os.umask(old_umask)
        server.listen(8)
        self._socket = server
        self._thread.start()

    def stop(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
            self._socket.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _serve(self) -> None:
        assert self._socket is not None
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return  # closed by stop()
            with connection:
                self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                            struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", credentials)
        try:
            connection.settimeout(10)
            request = json.loads(_receive(connection))
            if not isinstance(request, dict):
                raise ControlError("a request is a JSON object")
            reply = handle_request(self.station, request, uid)
        except (ControlError, ValueError, OSError) as err:
            reply = {"ok": False, "error": str(err)}
        except Exception as err:  # the daemon keeps running; the caller learns why
            log.exception("control request failed")
            reply = {"ok": False, "error": f"{type(err).__name__}: {err}"}
        with contextlib.suppress(OSError):
            connection.sendall(json.dumps(reply, ensure_ascii=False).encode() + b"\n")


def _receive(connection: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ControlError("request too large")
    return data


def send_request(data_dir: Path, request: Mapping[str, Any], timeout: float = 30) -> dict[str, Any]:
    """Ask the running daemon to record ``request``; raise :class:`ControlError` if refused."""
    path = socket_path(data_dir)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout)
        try:
            client.connect(str(path))
        except OSError as err:
            raise ControlError(f"the daemon is not answering at {path}: {err}") from err
        client.sendall(json.dumps(request, ensure_ascii=False).encode() + b"\n")
        reply = json.loads(_receive(client) or b"{}")
    if not reply.get("ok"):
        raise ControlError(str(reply.get("error", "no reply")))
    return dict(reply)

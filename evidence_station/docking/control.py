"""The daemon's control socket: how every command works while the daemon runs.

The daemon is the station's one writer (DESIGN.md, one door). Any command run while it
runs is sent here and executed by the daemon for the caller, as the caller's account:
- **who**: the kernel says who connected (SO_PEERCRED). Root and the service user (the
  data dir's owner) may connect; other OS users only as members of ``socket_group``.
  The peer's OS user is mapped to its account; only the service user — the web UI's
  process — may instead name the account it acts for (the web session's). A request
  naming an account from any other peer is refused.
- **one thread per connection**, with a deadline to receive the request: a client that
  trickles bytes or never finishes holds only its own thread.
- **idempotency**: each request carries an id; a retried request (the connection broke
  while it ran) gets the first answer, recorded once. An id reused by another peer is
  refused.

Two request kinds: ``command`` (argv of a CLI command, run by the daemon; its output and
exit code are sent back) and ``event`` (one change through ``casework.service.perform``,
what the web UI sends).
"""

from __future__ import annotations

import contextlib
import grp
import json
import logging
import os
import pwd
import socket
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from evidence_station.docking import socket_client
from evidence_station.errors import ControlError, EvidenceStationError, NotAuthorisedError
from evidence_station.identity import (
    Actor,
    account_named,
    actor_for_uid,
    may_name_accounts,
    service_uid,
)
from evidence_station.station import Station

log = logging.getLogger(__name__)
REMEMBERED_REPLIES = 1000
# The client side lives in socket_client.py (a client loads only that, issue 16); these
# names stay importable from here.
SOCKET_NAME = socket_client.SOCKET_NAME
MAX_REQUEST = socket_client.MAX_REQUEST
RECEIVE_DEADLINE_S = socket_client.RECEIVE_DEADLINE_S
socket_path = socket_client.socket_path
daemon_answers = socket_client.daemon_answers
send_request = socket_client.send_request
new_request_id = socket_client.new_request_id
_receive = socket_client.receive


@dataclass(frozen=True)
class Peer:
    pid: int
    uid: int
    gid: int


# Runs one CLI command for a peer: (station view, actor, request) -> reply fields.
CommandRunner = Callable[[Station, Actor, Mapping[str, Any]], dict[str, Any]]


class ControlServer:
    def __init__(self, station: Station, run_command: CommandRunner | None = None) -> None:
        self.station = station
        self.run_command = run_command
        self.path = socket_path(station.layout.root, station.config)
        self.group = station.config.daemon.socket_group
        self.service_uid = service_uid(station.layout.root)
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)
        self._replies: OrderedDict[str, tuple[int, dict[str, Any]]] = OrderedDict()
        self._running: dict[str, threading.Event] = {}
        self._replies_lock = threading.Lock()

    def start(self) -> None:
        self.path.parent.mkdir(mode=0o750 if self.group else 0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            server.bind(str(self.path))
        finally:
            os.umask(old_umask)
        if self.group:
            gid = grp.getgrnam(self.group).gr_gid
            os.chown(self.path, -1, gid)
            os.chmod(self.path, 0o660)
            if self.path.parent != self.station.layout.root / "run":
                os.chown(self.path.parent, -1, gid)
                os.chmod(self.path.parent, 0o750)
        server.listen(64)
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
            threading.Thread(target=self._answer, args=(connection,), name="control-request",
                             daemon=True).start()

    # -- one connection ----------------------------------------------------------------
    def _may_connect(self, peer: Peer) -> bool:
        if peer.uid in (0, self.service_uid):
            return True
        if not self.group:
            return False
        try:
            login = pwd.getpwuid(peer.uid)
            gid = grp.getgrnam(self.group).gr_gid
        except KeyError:
            return False
        return gid in os.getgrouplist(login.pw_name, login.pw_gid)

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            raw = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            peer = Peer(*struct.unpack("3i", raw))
            try:
                # Read the (bounded) request before judging the peer: closing a socket with
                # unread data resets it, and a refused client then saw "Broken pipe" instead
                # of the refusal that says what to do.
                received = _receive(connection, time.monotonic() + RECEIVE_DEADLINE_S)
                if not self._may_connect(peer):
                    raise NotAuthorisedError(
                        f"OS uid {peer.uid} is not in the socket group {self.group or '(none)'}")
                request = json.loads(received)
                if not isinstance(request, dict):
                    raise ControlError("a request is a JSON object")
                reply = self._once(peer, request)
            except EvidenceStationError as err:
                reply = _refusal(err)
            except (ValueError, OSError) as err:
                reply = _refusal(ControlError(str(err)))
            except Exception as err:  # the daemon keeps running; the caller learns why
                log.exception("control request failed")
                reply = _refusal(ControlError(f"{type(err).__name__}: {err}"))
            with contextlib.suppress(OSError):
                connection.settimeout(RECEIVE_DEADLINE_S)
                connection.sendall(json.dumps(reply, ensure_ascii=False).encode() + b"\n")

    def _once(self, peer: Peer, request: Mapping[str, Any]) -> dict[str, Any]:
        """Run a request at most once per id: a retry waits for, then repeats, the answer."""
        request_id = request.get("request_id")
        if not isinstance(request_id, str) or not 16 <= len(request_id) <= 64:
            raise ControlError("each request carries a request_id (16–64 characters)")
        while True:
            with self._replies_lock:
                if request_id in self._replies:
                    owner, reply = self._replies[request_id]
                    if owner != peer.uid:
                        raise NotAuthorisedError("that request id belongs to another user")
                    return {**reply, "replayed": True}
                running = self._running.get(request_id)
                if running is None:
                    running = self._running[request_id] = threading.Event()
                    break
            running.wait()
        try:
            try:
                reply = self._recorded_before(peer, request_id) or self._dispatch(
                    peer, request, request_id)
            except EvidenceStationError as err:
                reply = _refusal(err)
            with self._replies_lock:
                self._replies[request_id] = (peer.uid, reply)
                while len(self._replies) > REMEMBERED_REPLIES:
                    self._replies.popitem(last=False)
            return reply
        finally:
            with self._replies_lock:
                self._running.pop(request_id, None)
            running.set()

    def _recorded_before(self, peer: Peer, request_id: str) -> dict[str, Any] | None:
        """A request this daemon no longer remembers (it restarted) but the ledger does:
        its events carry the id. Answer it; do not record it again."""
        with self.station.lock:
            earlier = self.station.catalog.request(request_id)
        if earlier is None:
            return None
        if earlier["uid"] != peer.uid:
            raise NotAuthorisedError("that request id belongs to another user")
        message = f"request {request_id} was already recorded as ledger event {earlier['seq']}\n"
        return {"ok": True, "seq": earlier["seq"], "replayed": True, "code": 0, "stdout": "",
                "stderr": message}

    def _dispatch(self, peer: Peer, request: Mapping[str, Any], request_id: str) -> dict[str, Any]:
        from evidence_station.casework.service import perform

        view = self.station.view()
        try:
            actor = self._actor(view, peer, request.get("as_account"))
            kind = request.get("kind")
            if kind == "event":
                fields = request.get("fields")
                if not isinstance(request.get("type"), str) or not isinstance(fields, dict):
                    raise ControlError("an event request is {type, fields}")
                event = perform(view, actor, str(request["type"]), fields, request_id=request_id)
                return {"ok": True, "seq": event.seq}
            if kind == "command" and self.run_command is not None:
                return {"ok": True, **self.run_command(view, actor, {**request, "peer_uid": peer.uid,
                                                                    "request_id": request_id})}
            raise ControlError(f"unknown request kind {kind!r}")
        finally:
            view.close()

    def _actor(self, view: Station, peer: Peer, as_account: object) -> Actor:
        if as_account is None:
            return actor_for_uid(view.catalog, peer.uid, data_dir=view.layout.root, via="socket")
        if not isinstance(as_account, str) or not may_name_accounts(peer.uid, view.layout.root):
            raise NotAuthorisedError(
                "only the station's service user (the web UI) may act for a named account; "
                "every other caller acts as its own OS user's account")
        return account_named(view.catalog, as_account, via="web", uid=peer.uid)


def _refusal(err: EvidenceStationError) -> dict[str, Any]:
    return {"ok": False, "error": str(err), "error_zh": err.render("zh"),
            "error_type": type(err).__name__, "exit_code": err.exit_code}

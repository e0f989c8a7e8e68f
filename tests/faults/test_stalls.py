"""Stalls (issue 22): a control-socket client that never finishes its request, a camera
whose FUSE helper hangs, a web client that reads its answer slowly. Other docks, CLI
users and web users go on. The real daemon (tests/docking_helpers.py DaemonProcess) and
the real web server (uvicorn, `evidence-station web`), as subprocesses.

No test here waits on a clock to prove progress: each shows the other users finishing
*while* the stalled one is still stalled (its socket still open and unanswered, its
camera still hanging), which no amount of waiting could fake.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evidence_station.docking.control import socket_path
from tests.docking_helpers import DaemonProcess, write_config
from tests.faults import iofault_helpers
from tests.faults.iofault_helpers import FaultFS
from tests.test_docks import gat947_camera

pytestmark = [pytest.mark.slow, pytest.mark.root]
faultfs = iofault_helpers.faultfs  # the fixture


def cli(data: Path, config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evidence_station", "--data-dir", str(data), "--config",
         str(config), "--lang", "en", *args],
        capture_output=True, text=True, input=stdin, timeout=120, check=False)


def stalled_control_clients(path: Path, count: int) -> list[socket.socket]:
    """Connect and send half a request, never the newline that ends it."""
    clients = []
    for _ in range(count):
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(str(path))
        client.sendall(b'{"kind": "command", "argv": ["ledger", "checkpoint"], "request_id": "')
        clients.append(client)
    return clients


def still_unanswered(client: socket.socket) -> bool:
    client.setblocking(False)
    try:
        return client.recv(1) == b"" and False
    except BlockingIOError:
        return True
    finally:
        client.setblocking(True)


def test_stalled_control_clients_and_a_hung_camera_do_not_stop_others(
        tmp_path: Path, media_cache: Path) -> None:
    if iofault_helpers._fuse_available():
        pytest.skip(str(iofault_helpers._fuse_available()))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # a camera whose helper hangs: every read blocks (stat and listing still answer);
    # mounted in the inbox before the daemon starts, so it is docked as it is
    hung = FaultFS(tmp_path / "hung-backing", inbox / "stuck")
    try:
        gat947_camera(hung.backing, media_cache, count=2)
        hung.send("hang read *")
        config = write_config(tmp_path / "config.toml", usb=False, inbox_dirs=[str(inbox)])
        daemon = DaemonProcess(tmp_path / "data", config)
        try:
            run_with_stalls(daemon, hung, tmp_path, media_cache)
        finally:
            hung.clear()
            if daemon.proc.poll() is None:
                daemon.stop()
    finally:
        hung.stop()
    events = [json.loads(line) for line in
              (tmp_path / "data" / "ledger" / "events.jsonl").read_bytes().splitlines()]
    ingests = [e for e in events if e["type"] == "ingest"]
    # both cameras hold the same two recordings: stored once, each file recorded once
    assert len({(e["device_id"], e["source_path"]) for e in ingests}) == len(ingests) == 4
    assert len({e["sha256"] for e in ingests}) == 2
    assert sorted(e["duplicate"] for e in ingests) == [False, False, True, True]
    checked = cli(tmp_path / "data", tmp_path / "config.toml", "check", "--verify-data")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def run_with_stalls(daemon: DaemonProcess, hung: FaultFS, tmp_path: Path,
                    media_cache: Path) -> None:
    config = tmp_path / "config.toml"
    inbox = tmp_path / "inbox"
    daemon.wait_for(lambda d: True, port="inbox:stuck", timeout=60)
    # 80 clients that never finish their request: more than the listen backlog (64)
    stalled = stalled_control_clients(socket_path(daemon.data_dir), 80)
    try:
        # ... another camera docks and finishes meanwhile
        staging = tmp_path / "staging"
        gat947_camera(staging / "good", media_cache, device="GAT9470002", count=2, hour=9)
        os.rename(staging / "good", inbox / "good")
        good = daemon.wait_for(lambda d: d["state"] in ("safe_to_unplug", "error"),
                               port="inbox:good", timeout=120)
        assert good["state"] == "safe_to_unplug", good
        # ... and a CLI user's write goes through the daemon
        issued = cli(daemon.data_dir, config, "ledger", "checkpoint")
        assert issued.returncode == 0, issued.stderr
        stuck = daemon.dock("inbox:stuck")
        assert stuck is not None and stuck["state"] not in ("safe_to_unplug", "error"), stuck
        assert all(still_unanswered(client) for client in stalled)
        # the hang clears: the stuck camera finishes too, nothing lost
        hung.clear()
        done = daemon.wait_for(lambda d: d["state"] in ("safe_to_unplug", "error"),
                               port="inbox:stuck", timeout=120)
        assert done["state"] == "safe_to_unplug", done
        # a stalled client is answered (refused) once its deadline passes, not held forever
        stalled[0].settimeout(60)
        reply = json.loads(stalled[0].makefile("rb").readline())
        assert reply["ok"] is False and "did not arrive" in reply["error"]
    finally:
        for client in stalled:
            client.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_slow_web_clients_do_not_stop_other_web_users(tmp_path: Path, camera: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Slow-loris clients (headers never finished) and clients that pipeline many requests
    and never read the answers: a logged-in auditor's pages still come back, while those
    clients are still connected and their answers still unread."""
    import httpx

    from tests.webtools import PASSWORD, csrf, make_station_lite

    data = tmp_path / "data"
    make_station_lite(data, camera, monkeypatch)
    port = free_port()
    log = (tmp_path / "web.log").open("wb")
    web = subprocess.Popen(
        [sys.executable, "-m", "evidence_station", "--data-dir", str(data), "--lang", "en",
         "web", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    slow: list[socket.socket] = []
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/login", timeout=5)
                break
            except httpx.TransportError:
                if web.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "web.log").read_text()) from None
                time.sleep(0.2)
        for _ in range(50):  # slow loris: half a request line, never the rest
            client = socket.create_connection(("127.0.0.1", port))
            client.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(client)
        # readers that never read: 400 login pages each (~2 MB) pile up, more than the
        # socket buffers hold, so the server must hold those answers back
        pipelined = b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n" * 400
        for _ in range(10):
            client = socket.create_connection(("127.0.0.1", port))
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            client.sendall(pipelined)
            slow.append(client)
        with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as user:
            token = csrf(user.get("/login").text)
            response = user.post("/login", data={"username": "zhao", "password": PASSWORD,
                                                 "csrf_token": token})
            assert response.status_code == 303, response.text
            for path in ("/ledger", "/clips", "/ledger", "/clips"):
                page = user.get(path)
                assert page.status_code == 200, (path, page.text[:300])
        assert web.poll() is None
        assert all(still_unanswered(client) for client in slow[:50])
    finally:
        for client in slow:
            client.close()
        web.terminate()
        try:
            web.wait(timeout=30)
        except subprocess.TimeoutExpired:
            web.kill()
            web.wait()
        log.close()

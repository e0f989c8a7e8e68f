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

"""The one door with real OS users and a running daemon (DESIGN.md, "The write path").

Each test here is one of the ways issue 13 found to break the station, tried the way an
attacker or a hurried user would: other OS users (made with useradd, dropped with
tests/as_os_user.py, so SO_PEERCRED sees their real uid), a socket group, the daemon as a separate
process. Every refusal also checks that the ledger did not change."""

from __future__ import annotations

import io
import json
import os
import pwd
import select
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from evidence_station.demo import make_demo_camera
from evidence_station.docking.control import send_request
from tests.docking_helpers import DaemonProcess, write_config

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="creates OS users: needs root"),
    pytest.mark.skipif(shutil.which("useradd") is None or shutil.which("setpriv") is None,
                       reason="useradd and setpriv (passwd, util-linux) are needed"),
]
PASSWORD = "correct horse battery\n"
AS_OS_USER = Path(__file__).with_name("as_os_user.py")
PREFIX = f"esd{os.getpid() % 100000}"
# who → (role, disabled); "nobody" has a login in the group but no account, "outsider"
# has neither group nor account
ACCOUNTS = {"li": ("clerk", False), "wang": ("admin", False), "sun": ("admin", False),
            "zhao": ("clerk", True)}
LOGINS = ("li", "wang", "sun", "zhao", "nobody", "outsider")


def login(name: str) -> str:
    return f"{PREFIX}{name}"


@pytest.fixture(scope="module")
def socket_group() -> Iterator[str]:
    """The OS users of this module; all but the outsider in the socket group."""
    group = f"{PREFIX}grp"
    subprocess.run(["groupadd", group], check=True)
    made: list[str] = []
    try:
        for name in LOGINS:
            extra = [] if name == "outsider" else ["-G", group]
            subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin",
                            "--user-group", *extra, login(name)], check=True)
            made.append(login(name))
        yield group
    finally:
        for name in made:
            subprocess.run(["userdel", name], check=False)
        subprocess.run(["groupdel", group], check=False)


@dataclass
class Door:
    base: Path
    data: Path
    config: Path
    daemon: DaemonProcess
    clips: list[str]

    def ledger(self) -> bytes:
        return (self.data / "ledger" / "events.jsonl").read_bytes()

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in map(json.loads, self.ledger().splitlines()) if e["type"] == kind]

    def run(self, who: str | None, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        """The CLI as OS user ``login(who)`` (root when None), a process of its own."""
        args = ["--data-dir", str(self.data), "--config", str(self.config), "--lang", "en", *argv]
        command = ([sys.executable, "-m", "evidence_station", *args] if who is None
                   else [sys.executable, str(AS_OS_USER), login(who), "cli", *args])
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=300,
                              cwd=self.base, env={**os.environ, "HOME": str(self.base),
                                                  "COLUMNS": "200"})
        return done.returncode, done.stdout, done.stderr

    def raw(self, who: str | None, request: dict[str, Any]) -> dict[str, Any]:
        """One request on the control socket, sent by a process running as ``who``."""
        if who is None:
            return send_request(self.socket, request, attempts=1)
        done = subprocess.run([sys.executable, str(AS_OS_USER), login(who), "request",
                               str(self.socket), json.dumps(request)],
                              capture_output=True, text=True, timeout=120, cwd=self.base)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    def restart(self) -> None:
        assert self.daemon.stop() == 0
        self.daemon.status_path.unlink()  # the new one says "ready" once it is
        self.daemon = DaemonProcess(self.data, self.config)

    @property
    def socket(self) -> Path:
        return self.base / "run" / "control.sock"


@pytest.fixture
def door(socket_group: str, tmp_path: Path) -> Iterator[Door]:
    # Other OS users must reach the runtime folder and the config: not under tmp_path,
    # which pytest makes 0700 for root.
    base = Path(tempfile.mkdtemp(prefix="es-door-", dir="/tmp"))
    base.chmod(0o755)
    data = base / "data"
    config = write_config(base / "config.toml", runtime_dir=str(base / "run"),
                          socket_group=socket_group, usb=False)
    config.chmod(0o644)
    camera = make_demo_camera(tmp_path / "cam", count=3, seconds=0.5)
    setup = Door(base, data, config, None, [])  # type: ignore[arg-type]
    try:
        assert setup.run(None, "init", "--station", "door")[0] == 0
        assert setup.run(None, "ingest", str(camera))[0] == 0
        for name, (role, disabled) in ACCOUNTS.items():
            code, _, err = setup.run(None, "user", "add", name, "--role", role, "--os-user",
                                     login(name), "--password-stdin", stdin=PASSWORD)
            assert code == 0, err
            if disabled:
                assert setup.run(None, "user", "disable", name)[0] == 0
        setup.daemon = DaemonProcess(data, config)
        setup.clips = [c["id"] for c in json.loads(setup.run(None, "clips", "--json")[1])]
        yield setup
    finally:
        if setup.daemon is not None:  # the one running now: a test may have restarted it
            setup.daemon.stop()
        shutil.rmtree(base, ignore_errors=True)


def uid(name: str) -> int:
    return pwd.getpwnam(login(name)).pw_uid


def test_each_os_user_acts_as_its_own_account_or_not_at_all(door: Door) -> None:
    clip = door.clips[0]
    # the daemon's socket: only its group may reach it
    assert (door.socket.stat().st_mode & 0o777, door.socket.parent.stat().st_mode & 0o777) == (
        0o660, 0o750)
    code, out, err = door.run("li", "hold", clip, "--reason", "行政诉讼中")
    assert code == 0, out + err
    placed = door.events("hold.place")[-1]
    assert placed["actor"] == "li" and placed["auth"]["uid"] == uid("li")
    assert placed["auth"]["via"] == "socket"

    before = door.ledger()
    refusals = {
        # an OS user in the group without an account
        "nobody": "has no station account",
        # an account that was disabled
        "zhao": "is disabled",
        # an OS user outside the socket group cannot even connect
        "outsider": "may not reach the station's control socket",
    }
    for who, message in refusals.items():
        code, out, err = door.run(who, "hold", door.clips[1], "--reason", "x")
        assert code == 2 and message in out + err, (who, out + err)
    # a clerk's own account still has a clerk's rights only
    code, _, err = door.run("li", "user", "role", "li", "admin")
    assert code == 2 and "may not users.manage" in err
    # no caller's clock: --now on a write is not an option at all
    code, _, err = door.run("li", "delete", clip, "--request", "--reason", "x", "--now", "2099-01-01")
    assert code == 2 and "No such option" in err
    assert door.ledger() == before

    # the socket's mode is the first wall; the daemon checks the group itself as well
    door.socket.chmod(0o666)
    door.socket.parent.chmod(0o755)
    reply = door.raw("outsider", {"kind": "command", "argv": ["clips"]})
    assert not reply["ok"] and "not in the socket group" in reply["error"]
    assert door.ledger() == before


def test_forged_and_replayed_requests(door: Door) -> None:
    clip = door.clips[0]
    hold = {"kind": "event", "type": "hold.place", "fields": {"clip_ids": [clip], "reason": "诉讼"}}
    before = door.ledger()
    # a clerk naming another account (only the web UI's service user may)
    reply = door.raw("li", {**hold, "as_account": "wang"})
    assert not reply["ok"] and "only the station's service user" in reply["error"]
    # a forged actor inside the fields
    reply = door.raw("li", {**hold, "fields": {**hold["fields"], "actor": "wang"}})
    assert not reply["ok"] and "may not set actor" in reply["error"]
    # the service user naming an account that does not exist, or a disabled one
    assert "no account 'ghost'" in door.raw(None, {**hold, "as_account": "ghost"})["error"]
    assert "is disabled" in door.raw(None, {**hold, "as_account": "zhao"})["error"]
    # a request without an id is not run (send_request always gives one: send it by hand)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as bare:
        bare.connect(str(door.socket))
        bare.sendall(json.dumps(hold).encode() + b"\n")
        answer = json.loads(bare.makefile().readline())
    assert not answer["ok"] and "request_id" in answer["error"]
    assert door.ledger() == before

    # a replayed request (the client retried after a broken connection) is recorded once
    request = {**hold, "request_id": "replay-0123456789abcdef"}
    first, second = door.raw("li", request), door.raw("li", request)
    assert first["ok"] and second["ok"] and second.get("replayed") is True
    assert first["seq"] == second["seq"]
    placed = [e for e in door.events("hold.place")
              if e["auth"].get("request_id") == "replay-0123456789abcdef"]
    assert len(placed) == 1 and placed[0]["actor"] == "li"
    # the same id from another user is refused, not answered with li's reply
    after = door.ledger()
    reply = door.raw("wang", request)
    assert not reply["ok"] and "belongs to another user" in reply["error"]
    assert door.ledger() == after
    # ... and after the daemon restarted (its memory gone), the ledger still knows the id
    door.restart()
    third = door.raw("li", request)
    assert third["ok"] and third.get("replayed") is True and third["seq"] == first["seq"]
    assert "belongs to another user" in door.raw("wang", request)["error"]
    # a served command's id too: `hold` through the CLI path, retried after a restart
    command = {"kind": "command", "argv": ["hold", clip, "--reason", "再审"],
               "request_id": "replay-command-0123456789"}
    assert door.raw("li", command)["code"] == 0
    door.restart()
    again = door.raw("li", command)
    assert again["replayed"] is True and "already recorded" in again["stderr"]
    assert [e["auth"].get("request_id") for e in door.events("hold.place")].count(
        "replay-command-0123456789") == 1


def test_a_release_outside_needs_two_accounts_through_the_daemon(door: Door) -> None:
    clip = door.clips[0]
    code, _, err = door.run("li", "access", "copy", clip, "--outside", "--copier", "li",
                            "--reason", "律师申请")
    assert code == 0, err
    request = door.events("access.release.request")[-1]
    assert request["actor"] == "li" and request["auth"]["uid"] == uid("li")
    before = door.ledger()
    code, _, err = door.run("li", "access", "approve", str(request["seq"]))
    assert code == 2 and "may not access.approve_outside" in err
    assert door.ledger() == before
    # an admin's own request needs another admin too
    assert door.run("sun", "access", "copy", clip, "--outside", "--copier", "sun",
                    "--reason", "x")[0] == 0
    own = door.events("access.release.request")[-1]["seq"]
    before = door.ledger()
    code, _, err = door.run("sun", "access", "approve", str(own))
    assert code == 2 and "another admin" in err and door.ledger() == before
    code, _, err = door.run("wang", "access", "approve", str(request["seq"]))
    assert code == 0, err
    approval = door.events("access.release.approve")[-1]
    assert approval["actor"] == "wang" and approval["auth"]["uid"] == uid("wang")
    before = door.ledger()
    code, _, err = door.run("wang", "access", "approve", str(request["seq"]))
    assert code == 2 and "already approved" in err and door.ledger() == before
    # the copy lands in a folder of li's, as li's files
    drop = door.base / "drop"
    drop.mkdir()
    os.chown(drop, uid("li"), uid("li"))
    code, _, err = door.run("li", "access", "copy", "--request", str(request["seq"]),
                            "--out", str(drop / "release"))
    assert code == 0, err
    manifest = drop / "release" / "manifest.json"
    assert json.loads(manifest.read_text())["approver"] == "wang"
    assert {p.stat().st_uid for p in (drop / "release").rglob("*")} == {uid("li")}


def test_a_trickling_client_holds_only_its_own_thread(door: Door) -> None:
    """Found: one slow client blocked the socket, a hold timed out and was recorded late."""
    trickler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    trickler.connect(str(door.socket))
    trickler.sendall(b'{"kind": "event", "type": "hold.pl')  # ... and nothing more
    try:
        code, _, err = door.run("li", "hold", door.clips[2], "--reason", "诉讼中")
        assert code == 0, err
        # li's hold is recorded while the trickler's request is still unanswered
        readable, _, _ = select.select([trickler], [], [], 0)
        assert readable == [] and door.events("hold.place")[-1]["actor"] == "li"
        trickler.settimeout(60)
        answer = json.loads(trickler.makefile().readline())
        assert not answer["ok"] and "did not arrive within" in answer["error"]
    finally:
        trickler.close()
    assert len(door.events("hold.place")) == 1


def test_every_command_works_while_the_daemon_runs(door: Door) -> None:
    """Found: checkpoint, export, analyze, report, catalog rebuild, review resolve and disc
    burn all answered "another process is writing" while the daemon ran; a reader took
    the writer lock. Now they are served by the daemon, and readers take no lock."""
    from evidence_station.config import load_config
    from evidence_station.station import Station

    ids = door.clips
    assert door.run(None, "label", *ids, "--case-number", "A-7", "--party", "张三",
                    "--handler", "李四")[0] == 0
    assert door.run(None, "evidence", ids[0], "--collector", "李四", "--collected-at",
                    "2026-11-03T14:30", "--location", "人民路", "--fact-to-prove", "占道经营")[0] == 0
    # a reader open the whole time (the web UI's page views) blocks nobody
    with Station.open(door.data, load_config(door.config), writable=False) as reader:
        commands: list[tuple[str, ...]] = [
            ("ledger", "checkpoint"),
            ("ledger", "export", "--out", str(door.base / "bundle")),
            ("analyze",),
            ("report", "retention", "--out", str(door.base / "retention.html")),
            ("catalog", "rebuild"),
            ("disc", "burn", "--case-number", "A-7", "--drive", f"stdio:{door.base / 'disc.iso'}",
             "--media", "cd", "--maker", "王五", "--extractor", "李四"),
            ("check",),
        ]
        for command in commands:
            code, out, err = door.run(None, *command)
            assert code == 0, (command, out + err)
        flags = json.loads(door.run(None, "review", "--json")[1])
        assert flags  # the demo camera's clips always raise some
        code, out, err = door.run(None, "review", "resolve", flags[0]["flag_id"],
                                  "--resolution", "已核对")
        assert code == 0, out + err
        assert reader.catalog.footage.clips()  # the reader still reads
    kinds = [e["type"] for e in map(json.loads, door.ledger().splitlines())]
    for kind in ("ledger.export", "report", "disc.burn"):
        assert kind in kinds, kind
    assert (door.base / "bundle").is_dir() and (door.base / "disc.iso").stat().st_size > 0


def test_the_data_dir_is_the_daemons_alone(door: Door) -> None:
    """Found: init used the default umask; anyone could read footage and hold the lock."""
    assert door.data.stat().st_mode & 0o777 == 0o700
    lock = door.data / "ledger" / "lock"
    assert lock.stat().st_mode & 0o777 == 0o600
    for path in (door.data / "ledger" / "events.jsonl", lock):
        done = subprocess.run(["setpriv", f"--reuid={login('outsider')}",
                               f"--regid={login('outsider')}", "--init-groups", "cat", str(path)],
                              capture_output=True, text=True, cwd=door.base)
        assert done.returncode != 0 and "Permission denied" in done.stderr
    # without the daemon, only root and the service user run commands in-process; anyone
    # else is told to start the service
    door.daemon.stop()
    code, _, err = door.run("li", "clips")
    assert code == 2 and "service is not running" in err and "Traceback" not in err
    assert door.run(None, "clips")[0] == 0


def test_root_without_the_daemon_keeps_the_service_users_files(door: Door, tmp_path: Path) -> None:
    """Found by the Debian package work: on an installed station (data dir owned by the
    service user) root's commands without the daemon left root-owned files — a catalog or
    accounts file the daemon then could not open. Now they stay the owner's, and the
    ledger still says root (uid 0) acted.

    The commands run in a forked child of this process: once the effective uid is the
    service user's, Python can import only what that user may read, and a checkout or
    interpreter under /root is not (an installed station's /opt and /usr are). The child
    runs every command once on a root-owned scratch station first, so all it imports is
    loaded before the switch."""
    from evidence_station.cli import main

    door.daemon.stop()
    service = login("sun")  # stands in for the package's `evidence-station` user here
    subprocess.run(["chown", "-R", f"{service}:{service}", str(door.data)], check=True)
    scratch = tmp_path / "scratch"
    shutil.copytree(door.data, scratch)
    subprocess.run(["chown", "-R", "root:root", str(scratch)], check=True)
    commands = [("user", "add", "qian", "--role", "clerk", "--password-stdin"),
                ("label", door.clips[0], "--case-number", "A-9", "--party", "p", "--handler", "h"),
                ("ledger", "checkpoint"), ("catalog", "rebuild"), ("check",)]
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's result is its exit code
        code = 0
        try:
            for data in (scratch, door.data):
                for command in commands:
                    with mock.patch("sys.stdin", io.StringIO(PASSWORD)):
                        code = code or main(["--data-dir", str(data), "--config", str(door.config),
                                             "--lang", "en", *command])
        except BaseException:
            code = 99
        os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    root_owned = [str(path) for path in door.data.rglob("*") if path.lstat().st_uid == 0]
    assert root_owned == []
    added = door.events("user.add")[-1]
    assert added["actor"] == "root" and added["auth"]["uid"] == 0

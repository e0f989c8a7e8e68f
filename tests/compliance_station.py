"""A station with one of every R15 finding, built through the real CLI and ledger with
the clock pinned (FixedClock), for the compliance report's tests (CLI, web, browser).

Three cameras over four weeks of November 2026 (Asia/Shanghai):
- CAM-A (officer 100001): 3 recordings on 2026-10-26, docked 2026-11-02 (late, R4), plus
  one that starts 30 s after the first ended (an unexplained restart, R3); never labelled
  (R5); its card came back 96 % full (R16).
- CAM-B (officer 100002): 2 recordings on 2026-11-09, docked the same day; labelled case
  B-1; one designated as evidence and burned to a disc, the other designated and not
  burned (R7); one viewed (R10) and one released outside the unit (R12).
- CAM-C (officer 100002): 2 recordings on 2026-11-16, docked the same day; unlabelled; one
  deleted after retention on 2027-02-20 (R11).
Every device is idle by the report's date 2027-03-01 (R16).
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from evidence_station.cli import main
from evidence_station.clock import FixedClock
from evidence_station.config import load_config
from evidence_station.demo import recording_name, write_mp4
from evidence_station.station import Station
from hashing.ledger import Draft
from tests.accounts import run_as

ZONE = ZoneInfo("Asia/Shanghai")
PASSWORD = "correct horse battery"
AS_OF = "2027-03-01"
PERIOD = ("2026-10-19", "2027-02-28")


@dataclass
class Built:
    data: Path
    clock: FixedClock
    clips: dict[str, list[str]]  # device -> clip ids in recording order


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZONE)  # type: ignore[misc]


def camera(root: Path, device: str, officer: str, start: datetime, count: int, seed: int,
           restart_after_first: bool = False) -> Path:
    """A camera folder whose recordings differ from every other camera's (own seeds)."""
    folder = root / "DCIM" / "100MEDIA"
    folder.mkdir(parents=True)
    times = [start + timedelta(minutes=10 * number) for number in range(count)]
    if restart_after_first:
        times.insert(1, start + timedelta(seconds=30))
    for number, when in enumerate(times):
        path = folder / recording_name(device, officer, when, number + 1)
        write_mp4(path, seconds=0.5, seed=seed + number)
        os.utime(path, (when.timestamp(), when.timestamp()))
    return root


def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Built:
    data = tmp_path / "data"
    clock = FixedClock(local(2026, 11, 2, 10, 0))

    def run(*args: str, stdin: str = "") -> str:
        if stdin:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        out = io.StringIO()
        monkeypatch.setattr("sys.stdout", out)
        code = main(["--data-dir", str(data), "--lang", "en", *args], clock=clock)
        assert code == 0, (args, out.getvalue())
        return out.getvalue()

    def admin(name: str, *args: str) -> None:
        code, out, err = run_as(data, name, *args, clock=clock)
        assert code == 0, (args, out, err)

    run("init", "--station", "compliance-test")
    for name in ("wang", "sun"):
        run("user", "add", name, "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    run("user", "add", "zhao", "--role", "auditor", "--password-stdin", stdin=PASSWORD + "\n")
    run("user", "add", "zhou", "--role", "officer", "--officer-id", "100001", "--password-stdin",
        stdin=PASSWORD + "\n")
    # CAM-A: recorded a week before docking, with a restart 30 s after the first clip
    start_a = local(2026, 10, 26, 9, 0)
    cam_a = camera(tmp_path / "cam-a", "CAM-A", "100001", start_a, 3, 100, restart_after_first=True)
    run("ingest", str(cam_a), "--device-id", "CAM-A", "--officer-id", "100001")
    with Station.open(data, load_config(None), writable=True, clock=clock) as station:
        # R16: what the daemon records when a camera docks, with its card 96 % full
        station.record(Draft("dock", "station", {
            "port": "usb-1-1", "kind": "usb", "source": "/dev/sdz", "device_id": "CAM-A",
            "profile": "generic", "accepted": True, "reason": "registered",
            "storage": {"total": 32_000_000_000, "free": 1_280_000_000,
                        "used": 30_720_000_000}}))
    run("analyze")
    # CAM-B: in time; labelled, evidence (one burned), viewed, released outside
    clock.set(local(2026, 11, 9, 12, 0))
    cam_b = camera(tmp_path / "cam-b", "CAM-B", "100002", local(2026, 11, 9, 9, 0), 2, 200)
    run("ingest", str(cam_b), "--device-id", "CAM-B", "--officer-id", "100002")
    run("analyze")
    clips = {device: [c["id"] for c in sorted(json.loads(run("clips", "--json")),
                                              key=lambda c: c["recorded_at"])
                      if c["device_id"] == device] for device in ("CAM-A", "CAM-B")}
    b1, b2 = clips["CAM-B"]
    run("label", b1, b2, "--case-number", "B-1", "--party", "张三", "--handler", "李四")
    evidence = ("--collector", "李四", "--collected-at", "2026-11-09T09:30",
                "--location", "人民路", "--fact-to-prove", "当事人占道经营")
    run("evidence", b1, *evidence)
    clock.set(local(2026, 11, 10, 9, 0))
    run("disc", "burn", "--case-number", "B-1", "--drive", f"stdio:{tmp_path / 'disc.iso'}",
        "--media", "cd", "--maker", "王五", "--extractor", "李四")
    run("evidence", b2, *evidence)  # designated after the burn: evidence without a disc
    clock.set(local(2026, 11, 20, 9, 0))
    run("access", "view", b1, "--viewer", "赵六", "--approver", "wang", "--reason", "复核")
    admin("wang", "access", "copy", b2, "--outside", "--copier", "wang", "--reason", "律师申请")
    request = next(json.loads(line) for line in (data / "ledger" / "events.jsonl").read_text()
                   .splitlines() if '"access.release.request"' in line)["seq"]
    admin("sun", "access", "approve", str(request))
    admin("wang", "access", "copy", "--request", str(request), "--out", str(tmp_path / "release"))
    # CAM-C: in time, unlabelled; one clip deleted after retention
    clock.set(local(2026, 11, 16, 18, 0))
    cam_c = camera(tmp_path / "cam-c", "CAM-C", "100002", local(2026, 11, 16, 9, 0), 2, 300)
    run("ingest", str(cam_c), "--device-id", "CAM-C", "--officer-id", "100002")
    run("analyze")
    clips["CAM-C"] = [c["id"] for c in sorted(json.loads(run("clips", "--json")),
                                              key=lambda c: c["recorded_at"])
                      if c["device_id"] == "CAM-C"]
    clock.set(local(2027, 2, 20, 9, 0))
    admin("wang", "delete", clips["CAM-C"][1], "--request", "--reason", "期满")
    admin("sun", "delete", clips["CAM-C"][1], "--approve")
    clock.set(local(2027, 3, 1, 9, 0))
    return Built(data, clock, clips)


@pytest.fixture(scope="session")
def compliance_station(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Built once per test run (about 25 s); tests only read it or add report events."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        return build(tmp_path_factory.mktemp("compliance"), monkeypatch)

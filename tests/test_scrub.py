"""The scheduled scrub (F34): a whole pass re-hashes every stored original and re-verifies
the ledger; a mismatch is an alarm (ledger event, review flag, journald crit, web admin
page) and never a repair. Time is pinned with a FixedClock; the throttle is tested as
arithmetic on an injected clock, never by timing it."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from evidence_station.cli import main
from evidence_station.clock import FixedClock
from evidence_station.config import Config
from evidence_station.demo import make_demo_camera
from evidence_station.durations import parse_duration
from evidence_station.scrub.pace import (
    MB,
    Pacer,
    RateLimiter,
    become_idle,
    idle_ioprio_value,
    thread_ioprio,
)
from tests.conftest import tree_snapshot
from tests.docking_helpers import DaemonProcess, write_config

ZONE = ZoneInfo("Asia/Shanghai")
DOCKED = datetime(2026, 11, 23, 10, 0, tzinfo=ZONE)
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(DOCKED)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def cli(tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str],
        clock: FixedClock) -> Run:
    """A station with three ingested clips; ``cli(...)`` runs a command in-process as root."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--data-dir", str(data), "--lang", "en", *args], clock=clock)
        out, err = capsys.readouterr()
        return code, out, err

    camera = make_demo_camera(tmp_path / "cam", count=3, seconds=0.5,
                              start=DOCKED - timedelta(hours=2))
    assert run("init", "--station", "scrub-test")[0] == 0
    assert run("ingest", str(camera))[0] == 0
    return run


def events(data: Path, kind: str | None = None) -> list[dict[str, object]]:
    lines = (data / "ledger" / "events.jsonl").read_bytes().splitlines()
    found = [json.loads(line) for line in lines]
    return [event for event in found if kind is None or event["type"] == kind]


def stored(data: Path) -> list[Path]:
    return sorted(p for p in (data / "store" / "objects").rglob("*") if p.is_file())


def review(cli: Run) -> list[dict[str, object]]:
    code, out, _ = cli("review", "--json")
    assert code == 0
    return [flag for flag in json.loads(out) if str(flag["kind"]).startswith("integrity_")]


def test_clean_pass_is_recorded_and_status_shows_it(cli: Run, data: Path,
                                                     clock: FixedClock) -> None:
    code, out, _ = cli("scrub", "status", "--json")
    before = json.loads(out)
    assert code == 0 and before["last_pass"] is None and before["mismatches"] == []
    # none completed yet: due `every` (7 days) after the station's first event
    assert before["next_due"] == (DOCKED + timedelta(days=7)).astimezone(ZoneInfo("UTC")).isoformat()

    code, out, err = cli("scrub", "run")
    assert code == 0, out + err
    assert "Scrub pass clean" in out and "3/3 files" in out and "coverage 100.0%" in out
    (passed,) = events(data, "scrub.pass")
    assert passed["actor"] == "root" and passed["trigger"] == "command"
    assert passed["objects"] == passed["expected_objects"] == 3
    assert passed["bytes"] == sum(p.stat().st_size for p in stored(data))
    assert passed["coverage_bp"] == 10_000 and passed["mismatch_count"] == 0
    assert not events(data, "scrub.alarm")

    clock.advance(timedelta(hours=1))
    code, out, _ = cli("scrub", "status", "--json")
    report = json.loads(out)
    assert code == 0
    # the schema `scrub status --json` promises
    assert set(report) == {"last_pass", "next_due", "every_s", "mismatches", "open_alarms"}
    last = report["last_pass"]
    assert set(last) == {"pass_id", "seq", "actor", "trigger", "started_at", "ended_at",
                         "events", "objects", "bytes", "expected_objects", "expected_bytes",
                         "coverage", "mismatch_count"}
    assert last["seq"] == passed["seq"] and last["objects"] == 3 and last["coverage"] == 100.0
    assert last["started_at"] == DOCKED.astimezone(ZoneInfo("UTC")).isoformat()
    assert isinstance(last["bytes"], int) and isinstance(last["coverage"], float)
    assert report["every_s"] == 7 * 86400
    assert report["next_due"] == (DOCKED + timedelta(days=7)).astimezone(ZoneInfo("UTC")).isoformat()
    assert report["mismatches"] == [] and report["open_alarms"] == []
    code, out, _ = cli("scrub", "status")
    assert code == 0 and "Last complete pass" in out and "Next pass due: 2026-11-30" in out
    # the catalog still equals the ledger's projection (scrub_passes included)
    assert cli("check", "--verify-data")[0] == 0


def _change_a_byte(data: Path, cli: Run) -> Path:
    target = stored(data)[0]
    os.chmod(target, 0o644)  # root could; the scrub must notice anyway
    content = bytearray(target.read_bytes())
    content[len(content) // 2] ^= 0x01
    target.write_bytes(bytes(content))
    os.chmod(target, 0o444)
    return target


def _remove(data: Path, cli: Run) -> Path:
    target = stored(data)[1]
    target.unlink()
    return target


def _replace(data: Path, cli: Run) -> Path:
    """Another valid recording under this one's name (same mode)."""
    first, second = stored(data)[:2]
    os.unlink(second)
    second.write_bytes(first.read_bytes())
    os.chmod(second, 0o444)
    return second


def _extra(data: Path, cli: Run) -> Path:
    import hashlib

    content = b"planted, never docked"
    digest = hashlib.sha256(content).hexdigest()
    target = data / "store" / "objects" / digest[:2] / digest[2:4] / digest
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    os.chmod(target, 0o444)
    return target


def _writable(data: Path, cli: Run) -> Path:
    target = stored(data)[2]
    os.chmod(target, 0o644)
    return target


def _tamper_ledger(data: Path, cli: Run) -> Path:
    """An ingest event edited in place, same length, still canonical JSON."""
    path = data / "ledger" / "events.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if b'"type":"ingest"' in line)
    assert b'"device_id":"DEMO0001"' in lines[index]
    lines[index] = lines[index].replace(b'"device_id":"DEMO0001"', b'"device_id":"DEMO0009"')
    path.write_bytes(b"".join(lines))
    return path


def _tamper_tree_cache(data: Path, cli: Run) -> Path:
    """One leaf hash in the stored tree flipped (the root, from higher levels, still matches)."""
    path = data / "ledger" / "tree" / "level-00.bin"
    content = bytearray(path.read_bytes())
    content[3 * 32] ^= 0xFF  # leaf 3
    path.write_bytes(bytes(content))
    return path


def _tamper_offsets(data: Path, cli: Run) -> Path:
    path = data / "ledger" / "offsets.bin"
    content = bytearray(path.read_bytes())
    content[4 * 8] ^= 0x01  # event 4's offset
    path.write_bytes(bytes(content))
    return path


DAMAGE = {
    "changed byte": (_change_a_byte, "changed", "hash to"),
    "missing file": (_remove, "missing", "does not have it"),
    "replaced file": (_replace, "changed", "hash to"),
    "extra file": (_extra, "extra", "no ledger event"),
    "writable original": (_writable, "mode", "0644"),
    "tampered ledger line": (_tamper_ledger, "ledger", "prev"),
    "tampered tree cache": (_tamper_tree_cache, "ledger", "level 0 entry 3"),
    "tampered offset cache": (_tamper_offsets, "ledger", "offsets.bin entry 4"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_mismatch_is_an_alarm_never_a_repair(cli: Run, data: Path, damage: str,
                                             caplog: pytest.LogCaptureFixture) -> None:
    make, what, detail = DAMAGE[damage]
    target = make(data, cli)
    store_before = tree_snapshot(data / "store")
    ledger_before = (data / "ledger" / "events.jsonl").read_bytes()
    cache_before = target.read_bytes() if target.is_file() else b""
    cache_before_len = len(cache_before)

    with caplog.at_level(logging.CRITICAL, logger="evidence_station.scrub"):
        code, out, err = cli("scrub", "run")
    assert code == 1, out + err
    assert "Integrity alarm" in out and "Nothing was repaired" in out
    # journald priority crit (<2> under systemd): a CRITICAL record naming the finding
    assert any(r.levelno == logging.CRITICAL and what in r.getMessage() for r in caplog.records)

    # the alarm event, by the acting account, with its review flag
    alarms = events(data, "scrub.alarm")
    assert [a["what"] for a in alarms] == [what], alarms
    alarm = alarms[0]
    assert alarm["actor"] == "root" and alarm["flags"][0]["kind"] == f"integrity_{what}"
    flags = review(cli)
    assert [f["kind"] for f in flags] == [f"integrity_{what}"]
    assert detail in str(alarm["detail"]), alarm
    if what == "ledger":
        assert alarm.get("clip_id") is None
    else:
        assert flags[0]["clip_id"] == target.name[:16] and alarm["sha256"] == target.name
    (passed,) = events(data, "scrub.pass")
    assert passed["mismatch_count"] == 1 and passed["mismatches"][0]["what"] == what
    if what == "missing":
        assert passed["coverage_bp"] < 10_000 and passed["objects"] == 2

    # never a repair: the store is exactly as damaged, the ledger only grew
    assert tree_snapshot(data / "store") == store_before
    assert (data / "ledger" / "events.jsonl").read_bytes().startswith(ledger_before)
    if what == "ledger" and target.name != "events.jsonl":  # the damaged cache entry stays
        assert target.read_bytes()[:cache_before_len] == cache_before

    # the next pass finds it again (exit 1) but does not raise the same alarm twice
    code, out, _ = cli("scrub", "run", "--json")
    assert code == 1 and json.loads(out)["mismatches"][0]["found"] == what
    assert len(events(data, "scrub.alarm")) == 1 and len(events(data, "scrub.pass")) == 2
    code, out, _ = cli("scrub", "status", "--json")
    report = json.loads(out)
    assert [m["found"] for m in report["mismatches"]] == [what]
    assert {"clip_id", "sha256", "found", "detail"} <= set(report["mismatches"][0])
    assert len(report["open_alarms"]) == 1
    assert tree_snapshot(data / "store") == store_before


def test_interrupted_scheduled_pass_resumes(cli: Run, data: Path, clock: FixedClock,
                                            config: Config) -> None:
    """A scheduled pass stopped by a restart goes on after the last object it re-hashed;
    its alarms were raised when found, the pass is recorded once, as resumed."""
    from evidence_station.identity import STATION
    from evidence_station.scrub import Interrupted, Progress, run_pass
    from evidence_station.station import Station

    _change_a_byte(data, cli)  # the first stored object (sha256 order): found before the stop
    window = timedelta(days=28)

    class StopAfterOne(Progress):
        def __init__(self) -> None:
            self.read = 0

        def advance(self, count: int) -> None:
            self.read += count

    counted = StopAfterOne()
    with Station.open(data, config, writable=True, clock=clock) as station, pytest.raises(Interrupted):
        run_pass(station, STATION, trigger="schedule", max_read_mb_s=1000, progress=counted,
                 stopping=lambda: counted.read > 0, resume_within=window)
    saved = json.loads((data / "run" / "scrub-progress.json").read_text())
    assert saved["after"] == stored(data)[0].name and saved["objects"] == 1
    assert [m["what"] for m in saved["mismatches"]] == ["changed"]
    assert len(events(data, "scrub.alarm")) == 1 and not events(data, "scrub.pass")

    clock.advance(timedelta(hours=3))  # the daemon restarts
    again = StopAfterOne()
    with Station.open(data, config, writable=True, clock=clock) as station:
        result = run_pass(station, STATION, trigger="schedule", max_read_mb_s=1000,
                          progress=again, resume_within=window)
    assert result.pass_id == saved["pass_id"] and result.resumed == 1
    assert result.objects == 3 and result.coverage == 100.0
    assert again.read == sum(p.stat().st_size for p in stored(data)[1:])  # not the first again
    (passed,) = events(data, "scrub.pass")
    assert passed["resumed"] == 1 and passed["started_at"] == DOCKED.astimezone(
        ZoneInfo("UTC")).isoformat()
    assert [m["what"] for m in passed["mismatches"]] == ["changed"]
    assert len(events(data, "scrub.alarm")) == 1  # not raised twice
    assert not (data / "run" / "scrub-progress.json").exists()

    # a progress file older than the window (or unreadable) is not resumed: a fresh pass
    with Station.open(data, config, writable=True, clock=clock) as station:
        with pytest.raises(Interrupted):
            run_pass(station, STATION, trigger="schedule", max_read_mb_s=1000,
                     progress=StopAfterOne(), stopping=lambda: True, resume_within=window)
        (data / "run").mkdir(exist_ok=True)
        (data / "run" / "scrub-progress.json").write_text("{not json")
        fresh = run_pass(station, STATION, trigger="schedule", max_read_mb_s=1000,
                         resume_within=window)
        assert fresh.resumed == 0 and fresh.objects == 3
        clock.advance(timedelta(days=1))
        stale = StopAfterOne()
        with pytest.raises(Interrupted):
            run_pass(station, STATION, trigger="schedule", max_read_mb_s=1000, progress=stale,
                     stopping=lambda: stale.read > 0, resume_within=window)
        clock.advance(timedelta(days=29))
        late = run_pass(station, STATION, trigger="schedule", max_read_mb_s=1000,
                        resume_within=window)
        assert late.resumed == 0 and late.objects == 3


def test_approved_deletion_is_not_expected(cli: Run, data: Path, clock: FixedClock,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A clip deleted after retention with approval is no longer expected in the store."""
    from tests.accounts import run_as

    for name in ("wang", "zhou"):
        monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
        assert cli("user", "add", name, "--role", "admin", "--password-stdin")[0] == 0
    clip = json.loads(cli("clips", "--json")[1])[0]["id"]
    clock.advance(timedelta(days=200))
    code, out, err = run_as(data, "wang", "delete", "--request", clip, "--reason", "expired",
                            clock=clock)
    assert code == 0, out + err
    code, out, err = run_as(data, "zhou", "delete", "--approve", clip, clock=clock)
    assert code == 0, out + err
    code, out, err = cli("scrub", "run", "--json")
    assert code == 0, out + err
    assert json.loads(out)["expected_objects"] == 2


def test_web_admin_page_shows_the_alarm(cli: Run, data: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.webtools import PASSWORD, client, login

    target = _change_a_byte(data, cli)
    assert cli("scrub", "run")[0] == 1
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli("user", "add", "wang", "--role", "admin", "--password-stdin")[0] == 0
    web = client(data)
    login(web, "wang")
    page = web.get("/admin", headers={"Accept-Language": "en"}).text
    assert 'id="scrub"' in page and target.name in page
    assert "Open integrity alarms: 1" in page or "完整性告警" in page


def test_who_may_scrub(cli: Run, data: Path, clock: FixedClock,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Auditors (ledger.verify) and admins (settings.view) may; a clerk may not."""
    from tests.accounts import run_as

    for name, role in (("li", "clerk"), ("zhao", "auditor"), ("wang", "admin")):
        monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
        assert cli("user", "add", name, "--role", role, "--password-stdin")[0] == 0
    code, _, err = run_as(data, "li", "scrub", "run", clock=clock)
    assert code == 2 and "may not" in err and not events(data, "scrub.pass")
    assert run_as(data, "li", "scrub", "status", clock=clock)[0] == 2
    assert run_as(data, "zhao", "scrub", "run", clock=clock)[0] == 0
    code, out, _ = run_as(data, "wang", "scrub", "status", "--json", clock=clock)
    assert code == 0 and json.loads(out)["last_pass"]["actor"] == "zhao"


def test_schedule_counts_from_the_last_completed_pass(cli: Run, data: Path, clock: FixedClock,
                                                      config: Config) -> None:
    from evidence_station.scrub.schedule import next_run
    from evidence_station.station import Station

    week = timedelta(days=7)
    with Station.open(data, config, clock=clock) as station:
        assert next_run(station, week) == DOCKED + week  # from the station's first event
    clock.advance(timedelta(days=2))
    assert cli("scrub", "run")[0] == 0
    with Station.open(data, config, clock=clock) as station:
        assert next_run(station, week) == DOCKED + timedelta(days=2) + week
    clock.advance(timedelta(days=30))  # the daemon was off: due at once, not skipped
    with Station.open(data, config, clock=clock) as station:
        assert next_run(station, week) == clock.now()


def test_alarm_is_a_journald_crit_line(cli: Run, data: Path, clock: FixedClock,
                                       config: Config) -> None:
    """Under systemd the daemon's log lines carry their syslog priority (logs.py); an
    integrity alarm is <2> (crit), what `journalctl -p crit` shows."""
    from evidence_station.identity import STATION
    from evidence_station.logs import JournalFormatter
    from evidence_station.scrub import run_pass
    from evidence_station.station import Station

    _remove(data, cli)
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    logger = logging.getLogger("evidence_station.scrub")
    logger.addHandler(handler)
    try:
        with Station.open(data, config, writable=True, clock=clock) as station:
            result = run_pass(station, STATION, trigger="schedule", max_read_mb_s=1000)
    finally:
        logger.removeHandler(handler)
    assert not result.ok and events(data, "scrub.alarm")[0]["actor"] == "station"
    crit = [line for line in lines.getvalue().splitlines() if line.startswith("<2>")]
    assert crit and "missing" in crit[0] and result.mismatches[0].sha256 in crit[0]


# -- pace: duration, throttle, idle priority (pure, or a real syscall; nothing timed) --------
@pytest.mark.parametrize(("text", "seconds"), [
    ("7d", 7 * 86400), ("12h", 12 * 3600), ("30m", 1800), ("45s", 45), ("1d12h", 129600)])
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "7", "0d", "7w", "d", "-1h", "1h7d", "7 d"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_config_refuses_a_bad_interval() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="7x"):
        Config.model_validate({"scrub": {"every": "7x"}})
    with pytest.raises(ValidationError):
        Config.model_validate({"scrub": {"max_read_mb_s": 0}})
    assert Config.model_validate({"scrub": {"every": "12h"}}).scrub.every == "12h"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_rate_limiter_holds_the_average_rate() -> None:
    fake = FakeTime()
    limiter = RateLimiter(10 * MB, burst_s=0.25, clock=fake.clock, sleep=fake.sleep)
    chunk = 1024 * 1024
    total = 100 * chunk
    for _ in range(100):
        limiter.take(chunk)
    elapsed = fake.now - 1000.0
    ideal = total / (10 * MB)
    # the first burst is free, everything after it is paid for at the rate
    assert ideal - 0.25 <= elapsed <= ideal
    assert all(wait <= chunk / (10 * MB) + 1e-9 for wait in fake.slept)


def test_rate_limiter_arithmetic() -> None:
    limiter = RateLimiter(1000, burst_s=1.0, clock=lambda: 0.0, sleep=lambda s: None)
    assert limiter.delay_for(500, 0.0) == 0.0  # within the burst
    assert limiter.delay_for(1000, 0.0) == 0.5  # 500 bytes of debt at 1000 B/s
    assert limiter.delay_for(0, 0.5) == 0.0  # paid off by waiting
    # idle time refills to the burst only, never more
    assert limiter.delay_for(3000, 100.0) == 2.0
    with pytest.raises(ValueError):
        RateLimiter(0)


def test_pacer_yields_to_a_copying_dock() -> None:
    """While a dock copies the scrub reads at a tenth of its limit; after, at the limit."""
    fake = FakeTime()
    busy = {"now": False}
    pacer = Pacer(10 * MB, lambda: busy["now"], look_every_s=0.25, clock=fake.clock,
                  sleep=fake.sleep)
    chunk = 1024 * 1024

    def read(total_chunks: int) -> float:
        start = fake.now
        for _ in range(total_chunks):
            pacer.take(chunk)
        return fake.now - start

    read(5)  # past the first burst
    assert 20 * chunk / (10 * MB) - 0.3 <= read(20) <= 20 * chunk / (10 * MB) + 0.3
    busy["now"] = True
    slow = read(20)
    assert pacer.yielding and slow >= 20 * chunk / (1 * MB) - 1.0  # ~1 MB/s
    busy["now"] = False
    assert read(20) <= 20 * chunk / (10 * MB) + 0.5 and not pacer.yielding


def test_docks_copying_sees_a_running_session(data_dir: Path, config: Config) -> None:
    from evidence_station.scrub.scrubber import docks_copying
    from evidence_station.station import Station
    from hashing.ledger import Draft

    with Station.open(data_dir, config, writable=True) as station:
        view = station.view()
        assert not docks_copying(view)
        station.record(Draft("session.start", "station", {
            "session_id": "S1", "device_id": "D1", "officer_id": None, "source": "/x",
            "files_planned": 1, "bytes_planned": 1, "files_already": 0, "profile": None,
            "dock": {}, "returned_at": None}))
        assert docks_copying(view)  # seen on another connection, as the pass reads it
        station.record(Draft("session.end", "station", {
            "session_id": "S1", "state": "completed", "counts": {}, "problems": []}))
        assert not docks_copying(view)
        view.close()


def test_become_idle_lowers_only_the_calling_thread() -> None:
    seen: dict[str, object] = {}
    main_before = thread_ioprio()

    def work() -> None:
        seen["problems"] = become_idle()
        seen["ioprio"] = thread_ioprio()
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    if thread_ioprio() is None:
        pytest.skip("ioprio syscalls unknown on this machine")
    assert seen["problems"] == [] and seen["ioprio"] == idle_ioprio_value()
    assert seen["nice"] == 19
    assert thread_ioprio() == main_before  # this (test) thread kept its priority


# -- the daemon's schedule -----------------------------------------------------------------
@pytest.mark.slow
def test_daemon_runs_scheduled_passes(tmp_path: Path, data_dir: Path) -> None:
    config = write_config(tmp_path / "config.toml", usb=False)
    with config.open("a") as handle:
        handle.write('[scrub]\nevery = "2s"\nmax_read_mb_s = 20\n')
    camera = make_demo_camera(tmp_path / "cam", count=2, seconds=0.5)
    base = [sys.executable, "-m", "evidence_station", "--data-dir", str(data_dir), "--config",
            str(config), "--lang", "en"]
    subprocess.run([*base, "ingest", str(camera)], check=True, capture_output=True)
    daemon = DaemonProcess(data_dir, config)
    try:
        deadline = time.monotonic() + 60
        report: dict[str, object] = {}
        while time.monotonic() < deadline:
            # through the daemon's control socket (it is running)
            answer = subprocess.run([*base, "scrub", "status", "--json"], capture_output=True,
                                    text=True, check=True)
            report = json.loads(answer.stdout)
            if report["last_pass"] is not None:
                break
            time.sleep(0.5)
        last = report["last_pass"]
        assert isinstance(last, dict), daemon.output()
        assert last["actor"] == "station" and last["trigger"] == "schedule"
        assert last["objects"] == 2 and last["coverage"] == 100.0
        assert report["every_s"] == 2
        # a pass on request goes through the daemon too, as the caller's account
        answer = subprocess.run([*base, "scrub", "run", "--json"], capture_output=True, text=True)
        assert answer.returncode == 0, answer.stdout + answer.stderr
        assert json.loads(answer.stdout)["objects"] == 2
        # the schedule goes on: a second scheduled pass follows the first
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            passes = [e for e in events(data_dir, "scrub.pass") if e["actor"] == "station"]
            if len(passes) >= 2:
                break
            time.sleep(0.5)
        assert len(passes) >= 2, daemon.output()
        assert any(e["actor"] == "root" for e in events(data_dir, "scrub.pass"))
    finally:
        assert daemon.stop() == 0


@pytest.mark.slow
def test_daemon_restart_resumes_the_scheduled_pass(tmp_path: Path, data_dir: Path) -> None:
    """SIGTERM in the middle of a scheduled pass: it saves where it is, and the restarted
    daemon goes on from there (one scrub.pass, resumed once, every file covered)."""
    config = write_config(tmp_path / "config.toml", usb=False)
    with config.open("a") as handle:  # 6 files of 512 KB at 0.5 MB/s: a pass of ~6 s
        handle.write('[scrub]\nevery = "1s"\nmax_read_mb_s = 0.5\n')
    camera = tmp_path / "cam" / "DCIM"
    camera.mkdir(parents=True)
    for number in range(6):
        (camera / f"REC{number:04d}.MP4").write_bytes(os.urandom(512 * 1024))
    base = [sys.executable, "-m", "evidence_station", "--data-dir", str(data_dir), "--config",
            str(config), "--lang", "en"]
    subprocess.run([*base, "ingest", str(tmp_path / "cam"), "--device-id", "D1"], check=True,
                   capture_output=True)
    progress = data_dir / "run" / "scrub-progress.json"
    daemon = DaemonProcess(data_dir, config)
    try:
        deadline = time.monotonic() + 60
        while "scrub: pass started" not in daemon.output() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "scrub: pass started" in daemon.output()
        time.sleep(2.5)  # about two of the six files re-hashed (the limit makes it ~6 s)
    finally:
        assert daemon.stop() == 0
    saved = json.loads(progress.read_text())
    assert 1 <= saved["objects"] < 6 and not events(data_dir, "scrub.pass")

    daemon = DaemonProcess(data_dir, config)
    try:
        deadline = time.monotonic() + 60
        while not events(data_dir, "scrub.pass") and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        assert daemon.stop() == 0
    first = events(data_dir, "scrub.pass")[0]
    assert first["resumed"] == 1 and first["pass_id"] == saved["pass_id"]
    assert first["objects"] == 6 and first["coverage_bp"] == 10_000 and first["actor"] == "station"
    assert not progress.exists() or json.loads(progress.read_text())["pass_id"] != saved["pass_id"]

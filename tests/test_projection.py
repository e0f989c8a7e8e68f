"""The catalog as a strict projection of the ledger (issue 14, DESIGN.md invariant 3).

Found before: a catalog write that failed once let ``applied_seq`` jump past the event,
and ``check`` compared 4 of the 14 projected tables, so a role raised to admin, holds or
evidence deleted, or a case number changed by hand in ``catalog.sqlite`` all passed —
and a deletion request for a held clip was then accepted. Here: one registry of event
types, events applied in order only, and ``check`` naming a hand edit in every table."""

from __future__ import annotations

import io
import json
import re
import shutil
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

import pytest

from evidence_station.casework.service import REQUESTS, perform
from evidence_station.check import check_station
from evidence_station.cli import main
from evidence_station.clock import FixedClock
from evidence_station.config import load_config
from evidence_station.demo import DEMO_DEVICE, make_demo_camera
from evidence_station.errors import RefusedError
from evidence_station.event_types import EVENT_TYPES
from evidence_station.identity import ROOT_ACCOUNT, Actor
from evidence_station.projection import PROJECTORS, ProjectionError, projected_tables
from evidence_station.station import Station
from hashing.ledger import Draft, Event
from tests.accounts import run_as

ZONE = ZoneInfo("Asia/Shanghai")
DOCKED = datetime(2026, 11, 23, 10, 0, tzinfo=ZONE)
EXPIRED = DOCKED + timedelta(days=124)  # past the 3 months of an unlabelled clip (R6)
ROOT = Path(__file__).resolve().parent.parent
ROOT_ACTOR = Actor(ROOT_ACCOUNT, "admin", 0, "cli")


def test_every_recorded_type_is_in_the_one_registry() -> None:
    """Every event type the source records, or the service accepts, is registered; every
    type that projects has a projector, and every projector belongs to such a type."""
    pattern = re.compile(r'(?:Draft\(\s*(?:type=)?|record_own\([^,]+,[^,]+,\s*)"([a-z_.]+)"')
    recorded = set()
    for folder in ("evidence_station", "hashing", "retention", "docks"):
        for path in (ROOT / folder).rglob("*.py"):
            recorded |= set(pattern.findall(path.read_text()))
    assert {"ingest", "disc.burn", "ledger.recovered", "report"} <= recorded  # the scan works
    assert recorded <= set(EVENT_TYPES), recorded - set(EVENT_TYPES)
    assert set(REQUESTS) <= set(EVENT_TYPES)
    assert set(PROJECTORS) <= set(EVENT_TYPES)
    assert {name for name, kind in EVENT_TYPES.items() if kind.tables} == set(PROJECTORS)


def test_an_unregistered_type_is_neither_recorded_nor_projected(data_dir: Path) -> None:
    with Station.open(data_dir, load_config(None), writable=True) as station:
        before = (data_dir / "ledger" / "events.jsonl").read_bytes()
        with pytest.raises(ValueError, match="not in the registry"):
            station.record(Draft("made.up", "root", {}))
        assert (data_dir / "ledger" / "events.jsonl").read_bytes() == before
        with pytest.raises(ProjectionError, match="not in the registry"):
            station.catalog.apply_events([Event(station.ledger.size, b"{}", {"type": "made.up"})])
        # out of order: never applied past a gap
        with pytest.raises(ProjectionError, match="in order only"):
            station.catalog.apply_events([Event(station.ledger.size + 5, b"{}",
                                                {"type": "user.password"})])
        assert station.catalog.applied_seq == station.ledger.size - 1


def _cli(data: Path, clock: FixedClock, *args: str, stdin: str | None = None) -> str:
    with mock.patch("sys.stdin", io.StringIO(stdin or "")):
        buffer = io.StringIO()
        with mock.patch("sys.stdout", buffer):
            code = main(["--data-dir", str(data), "--lang", "en", *args], clock=clock)
    assert code == 0, (args, buffer.getvalue())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A station where every projected table has rows: ingest, analysis and review, labels,
    a case end (R14), evidence and its disc, access (viewing, copy, release outside), holds,
    deletion requests and a
    deletion, accounts, the device register."""
    base = tmp_path_factory.mktemp("populated")
    data = base / "data"
    clock = FixedClock(DOCKED)
    camera = make_demo_camera(base / "cam", count=5, seconds=0.5, start=DOCKED - timedelta(hours=3))
    _cli(data, clock, "init", "--station", "projection")
    _cli(data, clock, "ingest", str(camera))
    _cli(data, clock, "analyze")
    for name, role in (("li", "clerk"), ("wang", "admin"), ("zhou", "admin"), ("sun", "clerk")):
        _cli(data, clock, "user", "add", name, "--role", role, "--password-stdin",
             stdin="correct horse battery\n")
    _cli(data, clock, "user", "role", "sun", "auditor")
    _cli(data, clock, "user", "disable", "sun")
    _cli(data, clock, "device", "register", DEMO_DEVICE, "--officer-id", "010203")
    clips = [c["id"] for c in json.loads(_cli(data, clock, "clips", "--json"))]
    _cli(data, clock, "label", clips[0], clips[1], "--case-number", "A-1", "--party", "张三",
         "--handler", "李四")
    _cli(data, clock, "case", "end", "A-1", "--on", DOCKED.date().isoformat())  # R14 case_files
    _cli(data, clock, "evidence", clips[0], "--collector", "李四", "--collected-at",
         "2026-11-23T09:00", "--location", "人民路", "--fact-to-prove", "占道经营")
    _cli(data, clock, "disc", "burn", "--case-number", "A-1", "--drive",  # R7: disc_clips
         f"stdio:{base / 'disc.iso'}", "--media", "cd", "--maker", "王五", "--extractor", "李四")
    _cli(data, clock, "access", "view", clips[0], "--viewer", "王五", "--approver", "wang",
         "--reason", "复核")
    _cli(data, clock, "access", "copy", clips[1], "--copier", "王五", "--approver", "wang",
         "--reason", "复核", "--out", str(base / "copy"))
    assert run_as(data, "li", "access", "copy", clips[1], "--outside", "--copier", "li",
                  "--reason", "律师申请", clock=clock)[0] == 0
    request = next(e for e in map(json.loads, (data / "ledger" / "events.jsonl").read_text().splitlines())
               if e["type"] == "access.release.request")["seq"]
    assert run_as(data, "wang", "access", "approve", str(request), clock=clock)[0] == 0
    _cli(data, clock, "hold", clips[2], "--reason", "诉讼中")
    _cli(data, clock, "hold", clips[2], "--reason", "诉讼结束", "--release")
    _cli(data, clock, "hold", clips[2], "--reason", "再审")
    for flag in json.loads(_cli(data, clock, "review", "--json")):
        if flag["clip_id"] in clips[3:]:  # an open time flag would block their deletion
            _cli(data, clock, "review", "resolve", flag["flag_id"], "--resolution", "已核对")
    clock.set(EXPIRED)
    for clip in clips[3:]:
        assert run_as(data, "li", "delete", clip, "--request", "--reason", "期满", clock=clock)[0] == 0
    assert run_as(data, "wang", "delete", clips[3], "--approve", clock=clock)[0] == 0
    _cli(data, clock, "scrub", "run")  # F34: a completed pass (scrub_passes)
    with Station.open(data, load_config(None), writable=True, clock=clock) as station:
        report = check_station(station)
        assert report.ok, [str(f) for f in report.findings]
        for table in projected_tables():
            assert station.catalog.db[table].count > 0, f"{table} has no rows to tamper with"
    return data


@pytest.fixture
def station_copy(populated: Path, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(populated, data)
    return data


def _findings(data: Path) -> list[str]:
    with Station.open(data, load_config(None), writable=False) as station:
        return [str(finding) for finding in check_station(station).findings]


def _tamper(data: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(data / "catalog.sqlite") as db:
        assert db.execute(sql, params).rowcount >= 1


@pytest.mark.parametrize("table", sorted(projected_tables()))
def test_check_names_a_hand_edit_in_every_projected_table(station_copy: Path, table: str) -> None:
    with sqlite3.connect(station_copy / "catalog.sqlite") as db:
        columns = [row[1] for row in db.execute(f"pragma table_info([{table}])") if not row[5]]
    column = columns[-1]
    # meta's bookkeeping rows (schema_version, applied_seq) are not projected content
    row = "key = 'station'" if table == "meta" else f"rowid = (select min(rowid) from [{table}])"
    _tamper(station_copy, f"update [{table}] set [{column}] = 'tampered' where {row}")
    findings = _findings(station_copy)
    assert any(f"{table} row" in f and column in f and "'tampered'" in f for f in findings), findings


@pytest.mark.parametrize(("sql", "named"), [
    ("update users set role = 'admin' where username = 'li'",
     "users row li: role is 'admin', the ledger says 'clerk'"),
    ("delete from holds", "is in the ledger but missing from the catalog"),
    ("delete from evidence", "evidence row"),
    ("update labels set case_number = 'B-9'", "case_number is 'B-9', the ledger says 'A-1'"),
    ("insert into users (username, role) values ('ghost', 'admin')",
     "users row ghost has no ledger event behind it"),
    ("update meta set value = 'elsewhere' where key = 'station'", "meta row station"),
    # the tables the catalog's triggers keep (check.DERIVED_TABLES): R15's weekly counts
    # lowered before an inspection, R14's case end moved
    ("update compliance_weeks set recordings = recordings - 1", "compliance_weeks row"),
    ("delete from case_last", "case_last row A-1 is in the ledger but missing"),
])
def test_check_names_what_an_attacker_changed(station_copy: Path, sql: str, named: str) -> None:
    _tamper(station_copy, sql)
    findings = _findings(station_copy)
    assert any(named in f for f in findings), findings


def test_a_projection_that_failed_once_is_replayed_not_skipped(station_copy: Path) -> None:
    """Found: a locked catalog let the next event's ``applied_seq`` jump past a hold; the
    held clip could then be requested for deletion. Now the hold is projected first."""
    clock = FixedClock(EXPIRED)
    with Station.open(station_copy, load_config(None), writable=True, clock=clock) as station:
        clip = next(c["id"] for c in station.catalog.footage.clips()
                    if not c["deleted_at"] and station.catalog.casework.deletion_request(c["id"]) is None
                    and not station.catalog.casework.active_holds(c["id"])
                    and station.catalog.casework.evidence_of(c["id"]) is None)
        station.catalog.db.execute("PRAGMA busy_timeout=50")
        blocker = sqlite3.connect(station_copy / "catalog.sqlite", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the catalog
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            perform(station, ROOT_ACTOR, "hold.place", {"clip_ids": [clip], "reason": "诉讼中"})
        held = station.ledger.size - 1  # durable in the ledger, not yet in the catalog
        assert station.catalog.applied_seq == held - 1
        blocker.execute("ROLLBACK")
        blocker.close()
        with pytest.raises(RefusedError, match="legal hold"):
            perform(station, Actor("li", "clerk", None, "socket"), "deletion.request",
                    {"clip_ids": [clip], "reason": "期满"})
        assert station.catalog.applied_seq == held and station.catalog.casework.active_holds(clip)
        assert check_station(station).ok

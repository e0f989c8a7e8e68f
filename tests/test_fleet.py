"""Fleet replication against real engines: PostgreSQL 15 (pg_ctl, a throwaway cluster) and
S3 with Object Lock (moto_server), both started here and stopped in teardown.

Covers issue 17: events mirrored byte for byte, objects locked COMPLIANCE with the clip's
retention, idempotent replays, fleet search, `fleet verify` catching tampering, and the
faults (engines stopped mid-pass, a week offline, a bucket without lock, wrong
credentials, central deletion/overwrite, a rewritten station ledger).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from evidence_station.cli import main
from evidence_station.clock import FixedClock
from evidence_station.config import Config
from evidence_station.fleet import BucketRefusedError, DivergedError, FleetError
from evidence_station.fleet.replicate import Replicator
from evidence_station.station import Station
from hashing.ledger import Draft
from tests.fleet_helpers import MotoServer, PostgresCluster, make_bucket, s3_env

pytestmark = pytest.mark.timeout(300)

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    directory = Path(tempfile.mkdtemp(prefix="es-fleet-pg-"))
    cluster = PostgresCluster(directory).start()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in s3_env().items():
        monkeypatch.setenv(key, value)


class Fleet:
    """One test's database and bucket on the shared engines, and a station using them."""

    def __init__(self, tmp_path: Path, postgres: PostgresCluster, moto: MotoServer) -> None:
        import psycopg

        self.tmp = tmp_path
        self.postgres = postgres
        self.moto = moto
        self.database = "t_" + secrets.token_hex(6)
        with psycopg.connect(postgres.url(), autocommit=True) as conn:
            conn.execute(f"create database {self.database}")
        self.bucket = "bkt-" + secrets.token_hex(6)
        make_bucket(moto.url, self.bucket)
        self.clock = FixedClock(T0)

    def url(self, password: str | None = None) -> str:
        return self.postgres.url(password).replace("@/postgres", f"@/{self.database}")

    def config_file(self, name: str = "config.toml", **fleet: Any) -> Path:
        values = {"database_url": self.url(), "s3_endpoint_url": self.moto.url,
                  "s3_bucket": self.bucket, "timeout_s": 2.0, **fleet}
        lines = ["[ingest]", "reserve_mib = 0", "[analysis]", "enabled = false", "[fleet]"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
        path = self.tmp / name
        path.write_text("\n".join(lines) + "\n")
        return path

    def config(self, **fleet: Any) -> Config:
        from evidence_station.config import load_config

        return load_config(self.config_file(**fleet))

    def cli(self, data: Path, *args: str, config: Path | None = None) -> tuple[int, str, str]:
        import contextlib
        import io

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--data-dir", str(data), "--config", str(config or self.config_file()),
                         "--lang", "en", *args], clock=self.clock)
        return code, out.getvalue(), err.getvalue()

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            cursor = conn.execute(query, list(params))
            return cursor.fetchall() if cursor.description else []

    def s3(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.moto.url, region_name="us-east-1")


@pytest.fixture
def fleet(tmp_path: Path, postgres: PostgresCluster, moto: MotoServer) -> Fleet:
    return Fleet(tmp_path, postgres, moto)


@pytest.fixture
def station_data(fleet: Fleet, demo_camera: Path) -> Path:
    data = fleet.tmp / "data"
    assert fleet.cli(data, "init", "--station", "unit.example/station-01")[0] == 0
    code, _, err = fleet.cli(data, "ingest", str(demo_camera), "--device-id", "CAM-7", "--officer-id", "0421")
    assert code == 0, err
    return data


def clip_ids(fleet: Fleet, data: Path) -> list[str]:
    return [clip["id"] for clip in json.loads(fleet.cli(data, "clips", "--json")[1])]


def ledger_size(data: Path) -> int:
    return len((data / "ledger" / "events.jsonl").read_bytes().splitlines())


def open_station(fleet: Fleet, data: Path, **fleet_config: Any) -> Station:
    return Station.open(data, fleet.config(**fleet_config), writable=True, clock=fleet.clock)


# -- the whole flow ------------------------------------------------------------------------
def test_push_mirrors_every_event_and_file_locked_then_replays_add_nothing(
        fleet: Fleet, station_data: Path) -> None:
    ids = clip_ids(fleet, station_data)
    assert fleet.cli(station_data, "label", ids[0], "--case-number", "东公(2026)12号", "--party", "张三",
                     "--handler", "李四")[0] == 0
    code, out, err = fleet.cli(station_data, "fleet", "push", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["caught_up"] and report["objects_sent"] == len(ids)

    # every event, canonical bytes exactly
    lines = (station_data / "ledger" / "events.jsonl").read_bytes().splitlines()
    rows = fleet.sql("select seq, body from ledger_event where origin = %s order by seq",
                     "unit.example/station-01")
    assert [(seq, bytes(body)) for seq, body in rows] == list(enumerate(lines))
    # every file, COMPLIANCE-locked no earlier than its retention end, server-checked SHA-256
    s3 = fleet.s3()
    for sha256, size in fleet.sql("select sha256, size from fleet_clip"):
        head = s3.head_object(Bucket=fleet.bucket, Key=f"sha256/{sha256}", ChecksumMode="ENABLED")
        assert head["ContentLength"] == size
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"] >= T0 + timedelta(days=80)  # ≥ 3 months (R6)
        import base64
        assert base64.b64decode(head["ChecksumSHA256"]).hex() == sha256
    # a replay sends nothing and duplicates nothing
    events = ledger_size(station_data)
    code, out, _ = fleet.cli(station_data, "fleet", "push", "--json")
    again = json.loads(out)
    assert code == 0 and again["events_sent"] == 0 and again["objects_sent"] == 0
    assert fleet.sql("select count(*) from ledger_event")[0][0] == events
    versions = s3.list_object_versions(Bucket=fleet.bucket).get("Versions", [])
    assert len(versions) == len(ids)

    # fleet-wide search and status
    code, out, _ = fleet.cli(station_data, "fleet", "clips", "--case-number", "东公(2026)12号", "--json")
    found = json.loads(out)
    assert code == 0 and [c["clip_id"] for c in found] == [ids[0]]
    assert found[0]["party"] == "张三" and found[0]["in_bucket"] is True
    assert len(json.loads(fleet.cli(station_data, "fleet", "clips", "--officer-id", "0421",
                                    "--json")[1])) == len(ids)
    assert json.loads(fleet.cli(station_data, "fleet", "clips", "--device-id", "nope", "--json")[1]) == []
    code, out, _ = fleet.cli(station_data, "fleet", "status", "--json")
    status = json.loads(out)[0]
    assert status["events_behind"] == 0 and status["files_behind"] == 0 and status["last_error"] is None
    code, out, err = fleet.cli(station_data, "fleet", "verify", "--json")
    assert code == 0, out + err
    assert json.loads(out)["ok"] is True


def test_evidence_and_hold_extend_the_lock_and_set_legal_hold_never_shorten(
        fleet: Fleet, station_data: Path) -> None:
    ids = clip_ids(fleet, station_data)
    assert fleet.cli(station_data, "fleet", "push")[0] == 0
    s3 = fleet.s3()
    sha = {c["id"]: c["sha256"] for c in json.loads(fleet.cli(station_data, "clips", "--json")[1])}

    def head(clip: str) -> dict[str, Any]:
        return dict(s3.head_object(Bucket=fleet.bucket, Key=f"sha256/{sha[clip]}"))

    before = head(ids[0])["ObjectLockRetainUntilDate"]
    assert head(ids[0]).get("ObjectLockLegalHoldStatus") in (None, "OFF")
    # a penalty case label: the litigation period (6 months after labelling) outlasts 3 months
    assert fleet.cli(station_data, "label", ids[0], "--case-number", "C-1", "--party", "p", "--handler", "h",
                     "--category", "penalty")[0] == 0
    fleet.clock.advance(timedelta(days=30)) if hasattr(fleet.clock, "advance") else None
    code, out, err = fleet.cli(station_data, "fleet", "push", "--json")
    assert code == 0, err
    assert json.loads(out)["locks_extended"] >= 1
    extended = head(ids[0])["ObjectLockRetainUntilDate"]
    assert extended > before
    # a hold: legal hold ON
    assert fleet.cli(station_data, "hold", ids[1], "--reason", "complaint under review")[0] == 0
    assert fleet.cli(station_data, "fleet", "push")[0] == 0
    assert head(ids[1])["ObjectLockLegalHoldStatus"] == "ON"
    # releasing the hold lifts the legal hold but never shortens retain-until
    until_held = head(ids[1])["ObjectLockRetainUntilDate"]
    assert fleet.cli(station_data, "hold", ids[1], "--reason", "done", "--release")[0] == 0
    assert fleet.cli(station_data, "fleet", "push")[0] == 0
    assert head(ids[1])["ObjectLockLegalHoldStatus"] == "OFF"
    assert head(ids[1])["ObjectLockRetainUntilDate"] >= until_held
    assert fleet.sql("select count(*) from fleet_object where legal_hold")[0][0] == 0
    assert fleet.cli(station_data, "fleet", "verify")[0] == 0

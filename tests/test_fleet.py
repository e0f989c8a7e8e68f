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
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from evidence_station.casework.service import perform
from evidence_station.cli import main
from evidence_station.clock import FixedClock
from evidence_station.config import Config
from evidence_station.fleet import FleetError
from evidence_station.fleet.replicate import Replicator
from evidence_station.identity import ROOT_ACCOUNT, Actor
from evidence_station.station import Station
from hashing.ledger import Draft
from tests.fleet_helpers import MotoServer, PostgresCluster, make_bucket, s3_env

pytestmark = pytest.mark.timeout(300)

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
ROOT_ACTOR = Actor(ROOT_ACCOUNT, "admin", 0, "cli")


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

    def config_file(self, **fleet: Any) -> Path:
        values = {"database_url": self.url(), "s3_endpoint_url": self.moto.url,
                  "s3_bucket": self.bucket, "timeout_s": 2.0, **fleet}
        lines = ["[ingest]", "reserve_mib = 0", "[analysis]", "enabled = false", "[fleet]"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
        text = "\n".join(lines) + "\n"
        import hashlib

        path = self.tmp / f"config-{hashlib.sha256(text.encode()).hexdigest()[:12]}.toml"
        path.write_text(text)
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

    def count(self, query: str) -> int:
        """A count that is 0 while the replicator has not made its tables yet."""
        import psycopg

        try:
            return int(self.sql(query)[0][0])
        except psycopg.errors.UndefinedTable:
            return 0

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
    assert len(json.loads(fleet.cli(station_data, "fleet", "clips", "--device-id", "CAM-7", "--since",
                                    "2000-01-01T00:00:00Z", "--json")[1])) == len(ids)
    assert json.loads(fleet.cli(station_data, "fleet", "clips", "--until", "2000-01-01T00:00:00Z",
                                "--json")[1]) == []
    assert [c["clip_id"] for c in json.loads(fleet.cli(
        station_data, "fleet", "clips", "--party", "张三", "--handler", "李四", "--json")[1])] == [ids[0]]
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


# -- faults ----------------------------------------------------------------------------------
def _events_of(data: Path, kind: str) -> list[dict[str, Any]]:
    lines = (data / "ledger" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [event for event in map(json.loads, lines) if event["type"] == kind]


def test_postgres_stopped_station_keeps_working_status_says_why_then_catches_up(
        fleet: Fleet, station_data: Path, demo_camera: Path) -> None:
    config = fleet.config_file(alarm_after_s=60)
    assert fleet.cli(station_data, "fleet", "push", config=config)[0] == 0
    fleet.postgres.stop()
    try:
        ids = clip_ids(fleet, station_data)
        # offline: labelling and ingesting go on
        assert fleet.cli(station_data, "label", *ids, "--case-number", "C-9", "--party", "p",
                         "--handler", "h", config=config)[0] == 0
        code, _, err = fleet.cli(station_data, "ingest", str(demo_camera), "--device-id", "CAM-8",
                                 config=config)
        assert code == 0, err
        code, _, err = fleet.cli(station_data, "fleet", "push", config=config)
        assert code == 2 and "PostgreSQL" in err
        status = json.loads(fleet.cli(station_data, "fleet", "status", "--json", config=config)[1])[0]
        assert status["events_behind"] > 0 and "PostgreSQL" in status["last_error"]
        assert status["alarm"] is None  # not yet behind for longer than alarm_after_s
        fleet.clock.advance(timedelta(minutes=2))
        code, out, err = fleet.cli(station_data, "fleet", "push", config=config)
        assert code == 2, out + err
        assert [e["kind"] for e in _events_of(station_data, "fleet.alarm")] == ["behind"]
        review = json.loads(fleet.cli(station_data, "review", "--json", config=config)[1])
        assert any(flag["kind"] == "fleet_behind" for flag in review)
    finally:
        fleet.postgres.resume()
    code, out, err = fleet.cli(station_data, "fleet", "push", "--json", config=config)
    assert code == 0, err
    assert [e["alarm"] for e in _events_of(station_data, "fleet.recovered")] == ["behind"]
    size = ledger_size(station_data)
    assert fleet.sql("select count(*), count(distinct seq), max(seq) from ledger_event")[0] == \
        (size, size, size - 1)
    assert fleet.sql("select count(*) from fleet_clip where case_number = 'C-9'")[0][0] == len(ids)
    assert fleet.cli(station_data, "fleet", "verify", config=config)[0] == 0


def test_s3_cut_mid_multipart_resumes_without_resending_finished_parts(
        fleet: Fleet, tmp_path: Path) -> None:
    camera = tmp_path / "cam" / "DCIM"
    camera.mkdir(parents=True)
    big = os.urandom(23 * 1024 * 1024)  # 5 parts of 5 MiB
    (camera / "CAM12345_654321_20261119083000_0001.JPG").write_bytes(big)
    data = tmp_path / "data"
    config = fleet.config_file(multipart_threshold_mib=5, part_size_mib=5, timeout_s=1.5)
    assert fleet.cli(data, "init", "--station", "unit.example/station-02", config=config)[0] == 0
    code, _, err = fleet.cli(data, "ingest", str(tmp_path / "cam"), config=config)
    assert code == 0, err
    station = open_station(fleet, data, multipart_threshold_mib=5, part_size_mib=5, timeout_s=1.5)
    try:
        replicator = Replicator(station)

        def cut_after_two(sha256: str, number: int) -> None:
            if number == 2:  # the network goes away: the server stops answering
                assert fleet.moto.process is not None
                fleet.moto.process.send_signal(signal.SIGSTOP)

        replicator.on_part = cut_after_two
        try:
            with pytest.raises(FleetError, match="S3"):
                replicator.push()
            status = replicator.status()
            assert status["files_behind"] == 1 and status["bytes_behind"] == len(big)
            assert "S3" in status["last_error"]
            # the station goes on meanwhile
            perform(station, ROOT_ACTOR, "label", {"clip_ids": [clip_ids(fleet, data)[0]],
                                                   "case_number": "C-2", "party": "p", "handler": "h"})
        finally:
            assert fleet.moto.process is not None
            fleet.moto.process.send_signal(signal.SIGCONT)
        replicator.on_part = None
        report = replicator.push()
        replicator.close()
    finally:
        station.close()
    assert report.caught_up
    assert report.parts_kept >= 2 and report.parts_kept + report.parts_sent == 5
    sha = json.loads(fleet.cli(data, "clips", "--json", config=config)[1])[0]["sha256"]
    head = fleet.s3().head_object(Bucket=fleet.bucket, Key=f"sha256/{sha}")
    assert head["ContentLength"] == len(big) and head["ObjectLockMode"] == "COMPLIANCE"
    assert fleet.cli(data, "fleet", "verify", config=config)[0] == 0


def test_s3_server_stopped_then_back_catches_up_with_nothing_duplicated(
        fleet: Fleet, station_data: Path) -> None:
    fleet.moto.stop()
    try:
        code, _, err = fleet.cli(station_data, "fleet", "push")
        assert code == 2 and "S3" in err
        status = json.loads(fleet.cli(station_data, "fleet", "status", "--json")[1])[0]
        assert status["files_behind"] == len(clip_ids(fleet, station_data))
        assert "S3" in status["last_error"]
        # the mirror got nothing half-way: objects go first, events after
        assert fleet.sql("select count(*) from ledger_event")[0][0] == 0
    finally:
        fleet.moto.start()  # same port; moto keeps state in memory, so the bucket is new
    make_bucket(fleet.moto.url, fleet.bucket)
    assert fleet.cli(station_data, "fleet", "push")[0] == 0
    assert fleet.cli(station_data, "fleet", "push")[0] == 0
    size = ledger_size(station_data)
    assert fleet.sql("select count(*), count(distinct seq) from ledger_event")[0] == (size, size)
    versions = fleet.s3().list_object_versions(Bucket=fleet.bucket).get("Versions", [])
    assert len(versions) == len(clip_ids(fleet, station_data))


def test_a_week_offline_catches_up_in_bounded_memory(fleet: Fleet, tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = fleet.config_file(batch_events=500)
    assert fleet.cli(data, "init", "--station", "unit.example/station-03", config=config)[0] == 0
    station = open_station(fleet, data, batch_events=500)
    try:
        pad = "值" * 300  # ~1 KB an event: 8,000 events ≈ 8 MB of ledger
        for start in range(0, 8000, 1000):
            station.ledger.append_many([Draft("report", "station", {"kind": "offline", "n": start + i,
                                                                    "pad": pad}) for i in range(1000)])
        station.catalog.catch_up(station.ledger)
        ledger_bytes = (data / "ledger" / "events.jsonl").stat().st_size
        assert ledger_bytes > 8_000_000
        replicator = Replicator(station)
        assert replicator.status()["events_behind"] == station.ledger.size
        tracemalloc.start()
        try:
            report = replicator.push()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        replicator.close()
    finally:
        station.close()
    assert report.caught_up and report.events_sent == ledger_size(data)
    assert peak < ledger_bytes / 4, f"peak {peak} bytes for a {ledger_bytes}-byte ledger"
    assert fleet.sql("select count(*) from ledger_event")[0][0] == ledger_size(data)


@pytest.mark.parametrize(("lock", "days", "message"), [
    (False, None, "has no Object Lock"),
    (True, 10, "default retention 10 days is shorter"),
])
def test_a_bucket_that_cannot_keep_footage_is_refused(fleet: Fleet, station_data: Path, lock: bool,
                                                      days: int | None, message: str) -> None:
    name = "bad-" + secrets.token_hex(5)
    make_bucket(fleet.moto.url, name, lock=lock, default_days=days)
    code, _, err = fleet.cli(station_data, "fleet", "push", config=fleet.config_file(s3_bucket=name))
    assert code == 2 and message in " ".join(err.split())
    assert fleet.sql("select count(*) from ledger_event")[0][0] == 0
    assert fleet.s3().list_objects_v2(Bucket=name).get("KeyCount", 0) == 0
    # a long enough COMPLIANCE default is fine
    good = "good-" + secrets.token_hex(5)
    make_bucket(fleet.moto.url, good, default_days=100)
    assert fleet.cli(station_data, "fleet", "push", config=fleet.config_file(s3_bucket=good))[0] == 0


def test_wrong_credentials_are_named(fleet: Fleet, station_data: Path) -> None:
    code, _, err = fleet.cli(station_data, "fleet", "push",
                             config=fleet.config_file(database_url=fleet.url("wrong-password")))
    err = " ".join(err.split())
    assert code == 2 and "password authentication failed" in err and "wrong-password" not in err
    status = json.loads(fleet.cli(station_data, "fleet", "status", "--json")[1])[0]
    assert "password authentication failed" in status["last_error"]
    guarded = MotoServer(env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"}).start()
    try:
        code, _, err = fleet.cli(station_data, "fleet", "push",
                                 config=fleet.config_file(s3_endpoint_url=guarded.url))
    finally:
        guarded.stop()
    assert code == 2 and "refused the credentials" in " ".join(err.split())


def test_verify_names_a_deleted_an_overwritten_object_and_a_changed_row(
        fleet: Fleet, station_data: Path) -> None:
    assert fleet.cli(station_data, "fleet", "push")[0] == 0
    assert fleet.cli(station_data, "fleet", "verify")[0] == 0
    from hashing.note import Signer

    vkey = (station_data / "keys" / "station.vkey").read_text().strip()
    assert fleet.cli(station_data, "fleet", "verify", "--key", vkey, "--no-data")[0] == 0
    impostor = Signer.generate("unit.example/station-01").verifier.encode()
    code, out, _ = fleet.cli(station_data, "fleet", "verify", "--key", impostor, "--json")
    assert code == 1 and "pinned" in json.loads(out)["first_failure"]["reason"]
    clips = json.loads(fleet.cli(station_data, "clips", "--json")[1])
    s3 = fleet.s3()
    gone, changed = clips[0]["sha256"], clips[1]["sha256"]
    # someone with the storage's keys to the kingdom: lock lifted, version deleted
    for version in s3.list_object_versions(Bucket=fleet.bucket, Prefix=f"sha256/{gone}")["Versions"]:
        s3.put_object_retention(Bucket=fleet.bucket, Key=f"sha256/{gone}", VersionId=version["VersionId"],
                                Retention={"Mode": "GOVERNANCE",
                                           "RetainUntilDate": datetime(2001, 1, 1, tzinfo=UTC)},
                                BypassGovernanceRetention=True)
        s3.delete_object(Bucket=fleet.bucket, Key=f"sha256/{gone}", VersionId=version["VersionId"],
                         BypassGovernanceRetention=True)
    code, out, _ = fleet.cli(station_data, "fleet", "verify", "--json")
    result = json.loads(out)
    assert code == 1 and result["first_failure"]["where"] == f"sha256/{gone}"
    assert "missing" in result["first_failure"]["reason"]
    # an overwrite: a new version with other bytes of the same length
    original = s3.get_object(Bucket=fleet.bucket, Key=f"sha256/{changed}")["Body"].read()
    s3.put_object(Bucket=fleet.bucket, Key=f"sha256/{changed}",
                  Body=bytes([original[0] ^ 0xFF]) + original[1:])
    result = json.loads(fleet.cli(station_data, "fleet", "verify", "--json")[1])
    assert any(f["where"] == f"sha256/{changed}" and "overwritten" in f["reason"]
               for f in result["findings"])
    # a changed row in PostgreSQL
    fleet.sql("update ledger_event set body = overlay(body placing 'X'::bytea from 20 for 1) "
              "where seq = 2")
    code, out, _ = fleet.cli(station_data, "fleet", "verify", "--json")
    result = json.loads(out)
    assert code == 1
    assert {"origin": "unit.example/station-01", "what": "event", "where": "3",
            "reason": "prev is not the hash of the previous event (chain broken)"} in result["findings"]
    # and the station refuses to build on the changed mirror
    assert fleet.cli(station_data, "label", clips[0]["id"], "--case-number", "x", "--party", "p",
                     "--handler", "h")[0] == 0
    fleet.sql("update ledger_event set body = overlay(body placing 'Y'::bytea from 20 for 1) "
              "where seq = (select max(seq) from ledger_event)")
    code, _, err = fleet.cli(station_data, "fleet", "push")
    assert code == 1 and "rewritten" in err


def test_a_rewritten_station_ledger_is_refused_and_alarmed_never_merged(
        fleet: Fleet, station_data: Path) -> None:
    import shutil

    assert fleet.cli(station_data, "fleet", "push")[0] == 0
    snapshot = fleet.tmp / "snapshot"
    shutil.copytree(station_data, snapshot)
    ids = clip_ids(fleet, station_data)
    assert fleet.cli(station_data, "label", ids[0], "--case-number", "REAL-1", "--party", "p",
                     "--handler", "h")[0] == 0
    assert fleet.cli(station_data, "fleet", "push")[0] == 0
    mirrored = fleet.sql("select count(*) from ledger_event")[0][0]
    # the station's history rewritten: an old copy brought back, another label in its place
    shutil.rmtree(station_data)
    shutil.move(snapshot, station_data)
    for case in ("FAKE-1", "FAKE-2"):
        assert fleet.cli(station_data, "label", ids[0], "--case-number", case, "--party", "p",
                         "--handler", "h")[0] == 0
    code, _, err = fleet.cli(station_data, "fleet", "push")
    assert code == 1 and "not an extension" in err
    assert fleet.sql("select count(*) from ledger_event")[0][0] == mirrored
    assert fleet.sql("select count(*) from fleet_clip where case_number like 'FAKE%%'")[0][0] == 0
    assert [a[0] for a in fleet.sql("select kind from fleet_alarm")] == ["diverged"]
    assert [e["kind"] for e in _events_of(station_data, "fleet.alarm")] == ["diverged"]
    status = json.loads(fleet.cli(station_data, "fleet", "status", "--json")[1])[0]
    assert status["alarm"] == "diverged"
    # asking again is refused again, and alarmed once
    assert fleet.cli(station_data, "fleet", "push")[0] == 1
    assert len(_events_of(station_data, "fleet.alarm")) == 1
    assert fleet.cli(station_data, "fleet", "verify")[0] == 0  # the mirror itself is intact


def test_the_daemon_replicates_in_the_background_and_never_blocks_labelling(
        fleet: Fleet, station_data: Path) -> None:
    import time

    from evidence_station.docking.daemon import Daemon

    config = fleet.config(every_s=1, timeout_s=30)
    with Station.open(station_data, config, writable=True, clock=fleet.clock) as station:
        daemon = Daemon(station, lang="en")
        passes = {"started": 0, "ended": 0}  # the scheduler's replication passes
        replicate = daemon.fleet_push

        def observed() -> None:
            passes["started"] += 1
            try:
                replicate()
            finally:
                passes["ended"] += 1

        daemon.fleet_push = observed  # type: ignore[method-assign]
        daemon._schedule_sweep()
        try:
            assert daemon.scheduler.get_job("fleet-push") is not None
            deadline = time.monotonic() + 60
            while fleet.count("select count(*) from ledger_event") < station.ledger.size:
                assert time.monotonic() < deadline, "the daemon did not replicate"
                time.sleep(0.2)
            # the network goes: the background pass hangs on S3, labelling does not wait for it
            assert fleet.moto.process is not None
            fleet.moto.process.send_signal(signal.SIGSTOP)
            try:
                # a pass that starts now hangs in its first S3 request (the bucket check)
                # for up to timeout_s; labelling happens while it hangs and must not wait
                # for it: the same pass is still hanging when the label is recorded
                before, deadline = passes["started"], time.monotonic() + 60
                while passes["started"] == before:
                    assert time.monotonic() < deadline, "no replication pass started"
                    time.sleep(0.05)
                hanging = passes["started"]
                ids = [clip["clip_id"] for clip in station.catalog.db.query("select clip_id from clips")]
                perform(station, ROOT_ACTOR, "label", {"clip_ids": ids, "case_number": "BG-1",
                                                       "party": "p", "handler": "h"})
                assert passes["ended"] < hanging, "labelling waited for the hung replication"
            finally:
                fleet.moto.process.send_signal(signal.SIGCONT)
            deadline = time.monotonic() + 60
            while fleet.count("select count(*) from fleet_clip where case_number = 'BG-1'") < len(ids):
                assert time.monotonic() < deadline, "the daemon did not catch up"
                time.sleep(0.2)
        finally:  # as Daemon.stop: the scrub pass the schedule started stops and is waited for
            daemon.ctx.stopping.set()
            daemon.scheduler.shutdown(wait=True)
    events = _events_of(station_data, "fleet.alarm")
    assert events == []


def test_an_approved_deletion_after_retention_deletes_the_object_and_mirrors_the_tombstone(
        fleet: Fleet, tmp_path: Path) -> None:
    camera = tmp_path / "cam" / "DCIM"
    camera.mkdir(parents=True)
    for number in (1, 2):
        path = camera / f"CAM12345_654321_2025010{number}083000_000{number}.JPG"
        path.write_bytes(os.urandom(2048))
        stamp = datetime(2025, 1, number, 0, 30, tzinfo=UTC).timestamp()
        os.utime(path, (stamp, stamp))
    fleet.clock.set(datetime(2025, 1, 3, 2, 0, tzinfo=UTC))
    data = tmp_path / "data"
    assert fleet.cli(data, "init", "--station", "unit.example/station-04")[0] == 0
    code, _, err = fleet.cli(data, "ingest", str(tmp_path / "cam"))
    assert code == 0, err
    assert fleet.cli(data, "fleet", "push")[0] == 0
    clips = json.loads(fleet.cli(data, "clips", "--json")[1])
    doomed, kept = clips[0], clips[1]
    fleet.clock.set(datetime(2025, 5, 1, 2, 0, tzinfo=UTC))  # past 3 months (R6)
    with Station.open(data, fleet.config(), writable=True, clock=fleet.clock) as station:
        perform(station, Actor("li", "clerk", None, "socket"), "deletion.request",
                {"clip_ids": [doomed["id"]], "reason": "期满"})
        perform(station, ROOT_ACTOR, "deletion", {"clip_id": doomed["id"]})
    code, out, err = fleet.cli(data, "fleet", "push", "--json")
    assert code == 0, err
    assert json.loads(out)["objects_deleted"] == 1
    s3 = fleet.s3()
    assert s3.list_object_versions(Bucket=fleet.bucket, Prefix=f"sha256/{doomed['sha256']}").get(
        "Versions", []) == []
    assert s3.head_object(Bucket=fleet.bucket, Key=f"sha256/{kept['sha256']}")["ContentLength"] > 0
    tombstone = fleet.sql("select deleted_at from fleet_clip where clip_id = %s", doomed["id"])
    assert tombstone[0][0] is not None
    rows = fleet.sql("select body from ledger_event where origin = 'unit.example/station-04'")
    assert any(json.loads(bytes(body))["type"] == "deletion" for (body,) in rows)
    assert fleet.sql("select deleted_at is not null from fleet_object where sha256 = %s",
                     doomed["sha256"])[0][0] is True
    # the fleet verifies without the deleted file: its hash stays in the ledger
    assert fleet.cli(data, "fleet", "verify")[0] == 0
    found = json.loads(fleet.cli(data, "fleet", "clips", "--station", "unit.example/station-04",
                                 "--include-deleted", "--json")[1])
    assert {c["clip_id"] for c in found} == {doomed["id"], kept["id"]}


def test_the_admin_page_shows_replication_lag(fleet: Fleet, station_data: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from fastapi.testclient import TestClient

    from evidence_station.web.app import create_app
    from tests.webtools import PASSWORD, login

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert fleet.cli(station_data, "user", "add", "wang", "--role", "admin", "--password-stdin")[0] == 0
    fleet.postgres.stop()
    try:
        assert fleet.cli(station_data, "fleet", "push")[0] == 2
    finally:
        fleet.postgres.resume()
    web = TestClient(create_app(station_data, fleet.config()), follow_redirects=False)
    login(web, "wang")
    page = web.get("/admin?lang=en").text
    assert "Fleet replication" in page or "中心同步" in page
    behind = ledger_size(station_data)
    assert f"<td>{behind}</td>" in page and "PostgreSQL" in page


def test_a_station_role_from_the_readme_can_append_but_never_rewrite(
        fleet: Fleet, station_data: Path) -> None:
    import psycopg

    from evidence_station.fleet import central

    central.connect(fleet.url(), 5).close()  # the owner creates the tables
    roles = (Path(__file__).resolve().parents[1] / "docs" / "fleet-postgres.sql").read_text()
    name = "station_" + secrets.token_hex(4)
    with psycopg.connect(fleet.url(), autocommit=True) as conn:
        conn.execute(roles)
        conn.execute(f"create role {name} login password 'station-pw' in role fleet_station")
    station_url = fleet.url("station-pw").replace("postgres:station-pw@", f"{name}:station-pw@")
    config = fleet.config_file(database_url=station_url)
    code, _, err = fleet.cli(station_data, "fleet", "push", config=config)
    assert code == 0, err
    assert fleet.cli(station_data, "fleet", "push", config=config)[0] == 0  # replay as that role
    with psycopg.connect(station_url, autocommit=True) as conn:
        for statement in ("update ledger_event set body = 'x'", "delete from ledger_event",
                          "delete from fleet_checkpoint"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    assert fleet.cli(station_data, "fleet", "verify")[0] == 0


def test_two_daemons_of_one_station_at_once_never_duplicate_a_row_or_an_object(
        fleet: Fleet, station_data: Path) -> None:
    import shutil
    import threading

    twin = fleet.tmp / "twin"
    shutil.copytree(station_data, twin)  # a restored copy running beside the original
    errors: list[BaseException] = []

    def run(data: Path) -> None:
        try:
            with Station.open(data, fleet.config(), writable=True, clock=fleet.clock) as station, \
                    Replicator(station) as replicator:
                assert replicator.push().caught_up
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(data,)) for data in (station_data, twin)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    size = ledger_size(station_data)
    assert fleet.sql("select count(*), count(distinct seq) from ledger_event")[0] == (size, size)
    versions = fleet.s3().list_object_versions(Bucket=fleet.bucket).get("Versions", [])
    assert len(versions) == len(clip_ids(fleet, station_data))


# -- pure parts -----------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 64, 100])
def test_the_streaming_root_of_fleet_verify_is_rfc6962(size: int) -> None:
    from evidence_station.fleet.verify import CompactRange
    from hashing.merkle import leaf_hash
    from tests.reference_merkle import Reference

    leaves = [f"event {i}".encode() for i in range(size)]
    tree = CompactRange()
    for leaf in leaves:
        tree.append(leaf_hash(leaf))
        assert tree.root() == Reference(leaves[:tree.size]).mth(0, tree.size)
    assert tree.root() == Reference(leaves).mth(0, size)


def test_without_fleet_settings_push_is_a_clear_usage_error_and_status_says_off(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    base = ["--data-dir", str(data), "--lang", "en"]
    assert main([*base, "init", "--station", "plain"]) == 0
    capsys.readouterr()
    assert main([*base, "fleet", "push"]) == 2
    assert "database_url and s3_bucket are not set" in " ".join(capsys.readouterr().err.split())
    assert main([*base, "fleet", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)[0]
    assert status["configured"] is False and status["events_behind"] == status["events"]
    assert main([*base, "fleet", "clips", "--json"]) == 2
    assert main([*base, "fleet", "verify", "--key", "not-a-key"]) == 2
    assert not (data / "fleet.sqlite").exists() or status["last_attempt"] is None

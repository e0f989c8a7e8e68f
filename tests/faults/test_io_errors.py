"""EIO on the store, the ledger and the catalog, through the real kernel (issue 22).

The station's data dir lives on tests/faults/iofaultfs.py, a FUSE passthrough that fails
an operation on a path on command. Each test injects the fault in the middle of a
docking session (from the ingest reporter, so it lands at a known step), then checks
what DESIGN.md "Failure" promises: a specific error naming the file and what to do,
nothing acknowledged lost, no partial file left, the station usable again once the fault
clears (without a restart), and `check --verify-data` clean after docking again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from evidence_station.check import check_station
from evidence_station.config import Config
from evidence_station.ingest.model import Outcome, SilentReporter
from evidence_station.ingest.pipeline import ingest_source
from evidence_station.station import Station, init_station
from tests.conftest import tree_snapshot
from tests.faults import iofault_helpers
from tests.faults.iofault_helpers import FaultFS

pytestmark = [pytest.mark.slow, pytest.mark.root]
faultfs = iofault_helpers.faultfs  # the fixture

CONFIG = Config.model_validate({"ingest": {"reserve_mib": 0}})


class FaultAt(SilentReporter):
    """Injects ``command`` when the ``nth`` file starts verifying (its copy is staged and
    fsynced; what follows is re-read, publish, ledger event, catalog). The faults are
    one-shot (``failonce``), so the rest of the session runs on a healthy disk whatever
    thread meets the fault and in whatever order the reporter hears of it."""

    def __init__(self, fs: FaultFS, commands: list[str], nth: int = 2) -> None:
        super().__init__()
        self.fs, self.commands, self.nth = fs, commands, nth
        self.verifying_count = 0
        self.armed = False

    def verifying(self, item: object) -> None:
        self.verifying_count += 1
        if self.verifying_count == self.nth:
            for command in self.commands:
                self.fs.send(command)
            self.armed = True

    def file_finished(self, outcome: Outcome) -> None:
        if self.armed:
            self.fs.clear()
            self.armed = False


class FaultAtCopy(FaultAt):
    """Injects when the ``nth`` file starts copying (its staged copy is being written)."""

    def file_started(self, item: object) -> None:
        self.verifying_count += 1
        if self.verifying_count == self.nth:
            for command in self.commands:
                self.fs.send(command)
            self.armed = True

    def verifying(self, item: object) -> None:
        return None


def station_on(fs: FaultFS) -> Path:
    data = fs.mount / "data"
    init_station(data, "faulty", "tester")
    return data


def ledger_lines(data: Path) -> list[bytes]:
    return (data / "ledger" / "events.jsonl").read_bytes().splitlines()


def ingest_events(data: Path) -> list[dict[str, object]]:
    return [e for e in map(json.loads, ledger_lines(data)) if e["type"] == "ingest"]


def assert_clean(data: Path) -> None:
    with Station.open(data, CONFIG, writable=False) as station:
        report = check_station(station, verify_data=True)
        assert report.ok, [str(f) for f in report.findings]
        assert list(station.store.tmp.iterdir()) == []  # no partial file anywhere


def dock_again_and_check(data: Path, camera: Path, acknowledged: list[bytes]) -> None:
    """The fault is gone: docking again finishes the job, nothing duplicated or lost."""
    with Station.open(data, CONFIG, writable=True) as station:
        again = ingest_source(station, camera, device_id="CAM12345", actor="tester")
    assert again.state == "completed", again.reason
    assert again.count("failed") == 0
    body = ledger_lines(data)
    assert body[:len(acknowledged)] == acknowledged  # every acknowledged event, unchanged
    ingests = ingest_events(data)
    assert len({e["sha256"] for e in ingests}) == len(ingests) == 3  # none twice, none lost
    assert_clean(data)


def test_eio_on_ledger_fsync_mid_session(faultfs: Callable[..., FaultFS], camera: Path) -> None:
    fs = faultfs()
    data = station_on(fs)
    before = tree_snapshot(camera)
    reporter = FaultAt(fs, ["failonce fsync EIO data/ledger/events.jsonl"])
    with Station.open(data, CONFIG, writable=True) as station:
        result = ingest_source(station, camera, device_id="CAM12345", actor="tester",
                               reporter=reporter)
        committed = [station.ledger.event(o.ledger_seq).data for o in result.outcomes
                     if o.ledger_seq is not None]
        # the same process goes on after the fault cleared: reopened and re-checked
        assert any("reopened" in notice for notice in station.notices)
    assert result.state == "interrupted"
    assert result.count("committed") == 1 and len(committed) == 1
    acknowledged = ledger_lines(data)
    assert committed[0] in acknowledged and len(ingest_events(data)) == 1
    message = result.reason or ""
    assert "events.jsonl" in message and "Input/output error" in message
    assert "NOT recorded" in message and "last durable event" in message
    assert fs.failures() >= 1
    assert tree_snapshot(camera) == before  # the camera is never touched
    dock_again_and_check(data, camera, acknowledged)


@pytest.mark.parametrize("name", ["events.jsonl", "tree/level-00.bin", "offsets.bin"])
def test_eio_on_ledger_write_mid_session(faultfs: Callable[..., FaultFS], camera: Path,
                                         name: str) -> None:
    """A failed write of the events or of a cache after them: the event is cut away again
    (it was never acknowledged), the caches too, and the error names the file."""
    fs = faultfs()
    data = station_on(fs)
    reporter = FaultAt(fs, [f"failonce write EIO data/ledger/{name}"])
    with Station.open(data, CONFIG, writable=True) as station:
        result = ingest_source(station, camera, device_id="CAM12345", actor="tester",
                               reporter=reporter)
        acknowledged = ledger_lines(data)
    assert result.state == "interrupted" and name.split("/")[0] in (result.reason or "")
    assert "NOT recorded" in (result.reason or "")
    assert len(ingest_events(data)) == 1
    dock_again_and_check(data, camera, acknowledged)


@pytest.mark.parametrize("op", ["create", "write", "fsync"])
def test_eio_on_the_store_copy(faultfs: Callable[..., FaultFS], camera: Path, op: str) -> None:
    fs = faultfs()
    data = station_on(fs)
    reporter = FaultAtCopy(fs, [f"failonce {op} EIO data/store/tmp/*"])
    with Station.open(data, CONFIG, writable=True) as station:
        result = ingest_source(station, camera, device_id="CAM12345", actor="tester",
                               reporter=reporter)
        acknowledged = ledger_lines(data)
    assert result.state == "interrupted"
    message = result.reason or ""
    assert "store" in message and "Input/output error" in message
    # the file it was storing: the camera file while copying, the store object when the
    # fault met the publish of the file before (a pipelined ingest runs both at once)
    assert "CAM12345" in message or ".MP4" in message or "store/objects/" in message
    assert result.count("committed") in (0, 1)
    assert not list((data / "store" / "tmp").iterdir())  # no partial copy left
    dock_again_and_check(data, camera, acknowledged)


@pytest.mark.parametrize("op,pattern", [
    ("read", "data/store/tmp/*"),        # re-reading the fsynced copy from the disk
    ("chmod", "data/store/tmp/*"),       # making it read-only
    ("rename", "data/store/objects/*"),  # giving it its name
])
def test_eio_while_publishing_to_the_store(faultfs: Callable[..., FaultFS], camera: Path,
                                           op: str, pattern: str) -> None:
    fs = faultfs()
    data = station_on(fs)
    reporter = FaultAt(fs, [f"failonce {op} EIO {pattern}"])
    with Station.open(data, CONFIG, writable=True) as station:
        result = ingest_source(station, camera, device_id="CAM12345", actor="tester",
                               reporter=reporter)
        acknowledged = ledger_lines(data)
    assert result.state == "interrupted"
    assert "Input/output error" in (result.reason or "") and "store" in (result.reason or "")
    assert result.count("committed") in (1, 2)  # 2: a pipelined ingest met it on file 3
    assert not list((data / "store" / "tmp").iterdir())
    dock_again_and_check(data, camera, acknowledged)


def test_eio_on_the_catalog(faultfs: Callable[..., FaultFS], camera: Path) -> None:
    """The ledger event is durable, the catalog cannot take it: the error says so, the
    catalog catches up from the ledger once the disk is back, and nothing is doubled."""
    fs = faultfs()
    data = station_on(fs)
    reporter = FaultAt(fs, ["failonce write EIO data/catalog.sqlite*"])
    with Station.open(data, CONFIG, writable=True) as station:
        result = ingest_source(station, camera, device_id="CAM12345", actor="tester",
                               reporter=reporter)
        acknowledged = ledger_lines(data)
        assert station.catalog.applied_seq == len(acknowledged) - 1  # caught up again
    message = result.reason or ""
    assert "catalog.sqlite" in message and "catches up from the ledger" in message
    assert "durable in the ledger" in message
    assert len(ingest_events(data)) == 2  # the failed file's event was recorded after all
    dock_again_and_check(data, camera, acknowledged)


def test_eio_on_the_checkpoint_keeps_the_previous_one(faultfs: Callable[..., FaultFS]) -> None:
    from evidence_station.errors import LedgerProblem
    from hashing.ledger import Draft

    fs = faultfs()
    data = station_on(fs)
    latest = (data / "ledger" / "checkpoint").read_bytes()
    history = sorted(os.listdir(data / "ledger" / "checkpoints"))
    with Station.open(data, CONFIG, writable=True) as station:
        station.record(Draft("session.start", "tester", {
            "session_id": "s1", "device_id": "D", "officer_id": "O", "source": "/x",
            "files_planned": 0, "bytes_planned": 0, "files_already": 0, "profile": None,
            "dock": {}, "returned_at": None}))
        fs.fail("rename", "EIO", "data/ledger/checkpoint")
        with pytest.raises(LedgerProblem) as info:
            station.issue_checkpoint(witness=False)
        message = info.value.render("en")
        assert "ledger/checkpoint" in message and "previous checkpoint is still the latest" in message
        assert (data / "ledger" / "checkpoint").read_bytes() == latest
        assert sorted(os.listdir(data / "ledger" / "checkpoints")) == history
        fs.clear()
        checkpoint, _ = station.issue_checkpoint(witness=False)  # usable again
        assert checkpoint.size == station.ledger.size
    assert_clean(data)


def test_originals_mode_is_fsynced_before_the_rename(faultfs: Callable[..., FaultFS],
                                                     camera: Path) -> None:
    """Observed in the order the kernel sent the operations: for every stored original
    the chmod to 0444 comes before an fsync of the same file, which comes before its
    rename into objects/, which comes before an fsync of the objects directory."""
    fs = faultfs(log=True)
    data = station_on(fs)
    with Station.open(data, CONFIG, writable=True) as station:
        result = ingest_source(station, camera, device_id="CAM12345", actor="tester")
    assert result.count("committed") == 3
    assert fs.log is not None
    ops = [line.split() for line in fs.log.read_text().splitlines()]
    renames = [(i, op) for i, op in enumerate(ops)
               if op[0] == "rename" and op[2].startswith("data/store/objects/")]
    assert len(renames) == 3
    for index, (_, temp, name) in renames:
        before = ops[:index]
        chmod = max(i for i, op in enumerate(before) if op[:2] == ["chmod", temp])
        assert before[chmod][2] == "0o444"
        assert any(op[:2] == ["fsync", temp] for op in before[chmod + 1:]), "mode not fsynced"
        after = ops[index + 1:]
        parent = str(Path(name).parent)
        assert any(op[:2] == ["fsyncdir", parent] for op in after), "name not fsynced"


def test_ledger_cut_back_failing_too_is_reported_and_reopen_recovers(
        faultfs: Callable[..., FaultFS]) -> None:
    """The worst case: the event's bytes reached the file, its fsync failed, and cutting
    them away failed as well. The error says the change was not acknowledged and what to
    do; the writer stops; once the disk is back the reopen re-checks the file and keeps
    the complete event (as after a crash right after the fsync), nothing earlier lost."""
    from hashing.ledger import Draft, Ledger, LedgerFatalError, LedgerWriteError

    fs = faultfs()
    directory = fs.mount / "ledger"
    Ledger.create(directory)
    with Ledger.open(directory, station="st1", writable=True) as ledger:
        ledger.append(Draft("test", "alice", {"n": 0}))
        before = (directory / "events.jsonl").read_bytes()
        fs.fail("fsync", "EIO", "ledger/events.jsonl")
        fs.fail("truncate", "EIO", "ledger/events.jsonl")
        with pytest.raises(LedgerWriteError) as info:
            ledger.append(Draft("test", "alice", {"n": 1}))
        message = str(info.value)
        assert "failed too" in message and "NOT acknowledged" in message
        assert "ledger recover" in message
        with pytest.raises(LedgerFatalError):
            ledger.append(Draft("test", "alice", {"n": 2}))
        fs.clear()
        ledger.reopen()
        assert ledger.size == 2  # the complete, unacknowledged event is kept as a crash would
        ledger.append(Draft("test", "alice", {"n": 2}))
    body = (directory / "events.jsonl").read_bytes()
    assert body.startswith(before)
    with Ledger.open(directory, station="st1") as reader:
        assert reader.size == 3


def test_torn_tail_left_by_a_failed_cut_is_recovered_in_the_running_station(
        faultfs: Callable[..., FaultFS]) -> None:
    """Half an event written, then ENOSPC, and the cut-back fails too: a torn tail. The
    running station (the daemon's) refuses changes with a message naming `ledger
    recover`; that command, served by the same station, quarantines the torn bytes and
    records the recovery; changes are accepted again, nothing acknowledged lost."""
    from evidence_station.errors import LedgerProblem
    from hashing.ledger import Draft

    fs = faultfs()
    data = station_on(fs)
    start = {"session_id": "s1", "device_id": "D", "officer_id": "O", "source": "/x",
             "files_planned": 0, "bytes_planned": 0, "files_already": 0, "profile": None,
             "dock": {}, "returned_at": None}
    with Station.open(data, CONFIG, writable=True) as station:
        before = ledger_lines(data)
        fs.fail("write", "SHORT", "data/ledger/events.jsonl")
        fs.fail("truncate", "EIO", "data/ledger/events.jsonl")
        with pytest.raises(LedgerProblem, match="ledger recover"):
            station.record(Draft("session.start", "tester", start))
        fs.clear()
        assert not (data / "ledger" / "events.jsonl").read_bytes().endswith(b"\n")  # torn
        with pytest.raises(LedgerProblem, match="ledger recover"):
            station.record(Draft("session.start", "tester", start))
        assert station.recover_ledger()
        recovered = station.ledger.event(station.ledger.size - 1)
        assert recovered.type == "ledger.recovered"
        assert (data / "ledger" / str(recovered.fields["quarantine_file"])).exists()
        station.record(Draft("session.start", "tester", start))
    after = ledger_lines(data)
    assert after[:len(before)] == before
    assert_clean(data)


def test_init_names_every_file_and_directory_durably(faultfs: Callable[..., FaultFS]) -> None:
    """Every name `init` creates (directories included: a cut must not take store/objects
    away) is followed by an fsync of the directory that holds it, in the order the
    kernel saw them; temp files renamed away and SQLite's side files aside."""
    fs = faultfs(log=True)
    station_on(fs)
    assert fs.log is not None
    ops = [line.split() for line in fs.log.read_text().splitlines()]
    created: dict[str, int] = {}
    for index, op in enumerate(ops):
        if op[0] in ("mkdir", "create"):
            created[op[1]] = index
        elif op[0] == "rename":
            created.pop(op[1], None)
            created[op[2]] = index
        elif op[0] == "unlink":
            created.pop(op[1], None)
    missing = []
    for name, index in created.items():
        if name.endswith(("-journal", "-wal", "-shm")) or not name.startswith("data"):
            continue
        parent = str(Path(name).parent).replace(".", "") if "/" not in name else str(
            Path(name).parent)
        later = ops[index + 1:]
        if not any(op[0] == "fsyncdir" and (op[1] if len(op) > 1 else "") == parent
                   for op in later):
            missing.append(name)
    assert missing == [], f"names never made durable: {missing}"


def test_the_running_daemon_is_usable_again_once_the_ledger_disk_is(
        faultfs: Callable[..., FaultFS], tmp_path: Path) -> None:
    """Through the real daemon and CLI: a change refused on a failing ledger disk says so
    (the file, not recorded, what to do); once the disk answers, the same change goes
    through without restarting anything, and the station checks clean."""
    import subprocess
    import sys

    from tests.docking_helpers import DaemonProcess, write_config

    fs = faultfs()
    data = fs.mount / "data"
    # the control socket outside the FUSE data dir (it serves no sockets), as under systemd
    config = write_config(tmp_path / "config.toml", usb=False, runtime_dir=str(tmp_path / "run"))
    init_station(data, "test-station", "tester")
    daemon = DaemonProcess(data, config)

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "evidence_station", "--data-dir", str(data), "--config",
             str(config), "--lang", "en", *args],
            capture_output=True, text=True, input=stdin, timeout=120, check=False)

    try:
        before = ledger_lines(data)
        fs.fail("fsync", "EIO", "data/ledger/events.jsonl")
        refused = cli("user", "add", "li", "--role", "clerk", "--password-stdin",
                      stdin="correct horse battery\n")
        assert refused.returncode == 2, refused.stdout + refused.stderr
        message = " ".join(refused.stderr.split())
        assert "events.jsonl" in message and "NOT recorded" in message, message
        assert ledger_lines(data) == before
        fs.clear()
        added = cli("user", "add", "li", "--role", "clerk", "--password-stdin",
                    stdin="correct horse battery\n")
        assert added.returncode == 0, added.stdout + added.stderr
        assert daemon.proc.poll() is None
        assert ledger_lines(data)[:len(before)] == before
        assert len(ledger_lines(data)) > len(before)
    finally:
        if daemon.proc.poll() is None:
            daemon.stop()
    checked = cli("check", "--verify-data")
    assert checked.returncode == 0, checked.stdout + checked.stderr

"""ENOSPC on the ledger, the store and the catalog: a real full disk (a size-limited tmpfs).

Each test fills a small filesystem, makes the station write into it, and checks what
DESIGN.md "Failure" promises: a specific error naming the file and what to do, the
previous durable state kept (no half-written event, no partial file), nothing
acknowledged lost, and the station usable again once space is freed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from evidence_station.check import check_station
from evidence_station.config import Config
from evidence_station.errors import LedgerProblem
from evidence_station.ingest.model import SilentReporter
from evidence_station.ingest.pipeline import ingest_source
from evidence_station.station import Station, init_station
from hashing.ledger import Draft, Ledger, LedgerFatalError, LedgerWriteError
from tests.faults import iofault_helpers
from tests.faults.iofault_helpers import FaultFS
from tests.reference_merkle import mth

pytestmark = pytest.mark.root
faultfs = iofault_helpers.faultfs  # the fixture

FILLER = "filler.bin"


def fill(directory: Path, leave: int = 0) -> Path:
    """Fill the filesystem of ``directory`` to the last byte, then free ``leave`` bytes."""
    filler = directory / FILLER
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        chunk = b"\0" * 4096
        while True:
            try:
                os.write(fd, chunk)
            except OSError as err:
                assert err.errno == errno.ENOSPC
                break
        if leave:
            os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
    finally:
        os.close(fd)
    return filler


def events_of(directory: Path) -> list[bytes]:
    return (directory / "events.jsonl").read_bytes().splitlines()


def assert_chain(directory: Path, count: int) -> None:
    body = events_of(directory)
    assert len(body) == count
    prev = "0" * 64
    for seq, line in enumerate(body):
        value = json.loads(line)
        assert value["seq"] == seq and value["prev"] == prev
        prev = hashlib.sha256(line).hexdigest()
    with Ledger.open(directory, station="st1") as reader:
        assert reader.size == count
        assert reader.root() == mth(body)


def test_ledger_append_on_a_full_disk_keeps_the_last_durable_event(
        tmpfs: Callable[[int], Path]) -> None:
    """The issue-22 bug: a half-written append then ENOSPC. The event must not count, the
    file must end at the last durable event, the writer must refuse until reopened, and
    reopening (with space again) must find a clean ledger whose root is the events' root."""
    disk = tmpfs(256 * 1024)
    directory = disk / "ledger"
    Ledger.create(directory)
    ledger = Ledger.open(directory, station="st1", writable=True)
    try:
        for n in range(5):
            ledger.append(Draft("test", "alice", {"n": n}))
        before = (directory / "events.jsonl").read_bytes()
        root_before = ledger.root()
        filler = fill(disk, leave=4096)
        with pytest.raises(LedgerWriteError) as info:
            ledger.append(Draft("test", "alice", {"big": "x" * 20000}))
        message = str(info.value)
        assert str(directory / "events.jsonl") in message
        assert "No space left" in message and "seq 4" in message
        assert (directory / "events.jsonl").read_bytes() == before  # nothing half-written
        assert ledger.size == 5 and ledger.root() == root_before
        filler.unlink()  # the fault clears ...
        with pytest.raises(LedgerFatalError, match="reopen"):  # ... but no new seq until reopened
            ledger.append(Draft("test", "alice", {"n": 5}))
        assert (directory / "events.jsonl").read_bytes() == before
    finally:
        ledger.close()
    assert not (directory / "state.json").exists()  # a failed writer vouches for nothing
    with Ledger.open(directory, station="st1", writable=True) as reopened:
        assert reopened.size == 5
        reopened.append(Draft("test", "alice", {"n": 5}))
    assert_chain(directory, 6)


@pytest.mark.parametrize("leave", [0, 1024, 4096, 8192])
def test_ledger_batches_on_a_full_disk_never_leave_a_torn_or_unacknowledged_event(
        tmpfs: Callable[[int], Path], leave: int) -> None:
    disk = tmpfs(256 * 1024)
    directory = disk / "ledger"
    Ledger.create(directory)
    acknowledged = 0
    filler = None
    with Ledger.open(directory, station="st1", writable=True) as ledger:
        ledger.append(Draft("test", "alice", {"n": 0}))
        acknowledged = 1
        filler = fill(disk, leave=leave)
        for n in range(1, 200):
            try:
                ledger.append_many([Draft("test", "alice", {"n": n, "pad": "y" * 900})] * 3)
            except LedgerWriteError:
                break
            acknowledged += 3
        else:
            pytest.fail("the disk never filled")
        assert ledger.size == acknowledged
    filler.unlink()
    assert_chain(directory, acknowledged)


# -- the station on a full disk ---------------------------------------------------------------

CONFIG = Config.model_validate({"ingest": {"reserve_mib": 0}})


class FillAt(SilentReporter):
    """Fills the disk when the ``nth`` file starts verifying: its copy is staged, its
    store name, ledger event and catalog row are still to come — someone else took the
    last free byte in between."""

    def __init__(self, disk: Path, nth: int = 2) -> None:
        super().__init__()
        self.disk, self.nth, self.count = disk, nth, 0
        self.filler: Path | None = None

    def verifying(self, item: object) -> None:
        self.count += 1
        if self.count == self.nth:
            self.filler = fill(self.disk)


def assert_station_clean(data: Path) -> None:
    with Station.open(data, CONFIG, writable=False) as station:
        report = check_station(station, verify_data=True)
        assert report.ok, [str(f) for f in report.findings]
        assert list(station.store.tmp.iterdir()) == []


def dock_again(data: Path, camera: Path, acknowledged: list[bytes]) -> None:
    with Station.open(data, CONFIG, writable=True) as station:
        again = ingest_source(station, camera, device_id="CAM12345", actor="tester")
    assert again.state == "completed", again.reason
    body = events_of(data / "ledger")
    assert body[:len(acknowledged)] == acknowledged  # nothing acknowledged lost or changed
    ingests = [json.loads(line) for line in body if b'"type":"ingest"' in line]
    assert len({e["sha256"] for e in ingests}) == len(ingests) == 3
    assert_station_clean(data)


@pytest.mark.slow
def test_disk_full_during_docking_then_freed(tmpfs: Callable[[int], Path], camera: Path) -> None:
    """The whole data dir on one small disk that fills mid-session (a real ENOSPC on
    whichever write comes next: the store's name, the ledger, the catalog, the next copy)."""
    disk = tmpfs(16 * 1024 * 1024)
    data = disk / "data"
    init_station(data, "small", "tester")
    reporter = FillAt(disk)
    with Station.open(data, CONFIG, writable=True) as station:
        try:
            result = ingest_source(station, camera, device_id="CAM12345", actor="tester",
                                   reporter=reporter)
        except LedgerProblem as err:  # even the session's end could not be recorded
            message = err.render("en")
        else:
            assert result.state == "interrupted"
            message = result.reason or ""
        acknowledged = events_of(data / "ledger")
        print("full disk during docking:", message)
        assert "No space left" in message or "store is full" in message, message
        assert list(station.store.tmp.iterdir()) == []  # no partial copy
        assert reporter.filler is not None
        reporter.filler.unlink()  # the fault clears; the same process goes on
    dock_again(data, camera, acknowledged)


@pytest.mark.slow
@pytest.mark.parametrize("pattern,names", [
    ("data/ledger/events.jsonl", ["events.jsonl", "NOT recorded"]),
    ("data/catalog.sqlite*", ["catalog.sqlite", "catches up from the ledger"]),
    ("data/store/tmp/*", ["store is full"]),
])
def test_enospc_on_each_part_mid_session(faultfs: Callable[..., FaultFS], camera: Path,
                                         pattern: str, names: list[str]) -> None:
    """ENOSPC exactly where it hurts (the FUSE fault filesystem), on each of ledger,
    catalog and store: the error names the file and what to do; docking again after the
    disk has room finishes the job with nothing lost or doubled."""
    fs = faultfs()
    data = fs.mount / "data"
    init_station(data, "faulty", "tester")

    class At(SilentReporter):
        count = 0

        def file_started(self, item: object) -> None:
            self.count += 1
            if self.count == 2:
                fs.send(f"failonce write ENOSPC {pattern}")  # clears itself once met

        def file_finished(self, outcome: object) -> None:
            if self.count == 2:
                fs.clear()

    with Station.open(data, CONFIG, writable=True) as station:
        result = ingest_source(station, camera, device_id="CAM12345", actor="tester",
                               reporter=At())
        acknowledged = events_of(data / "ledger")
    assert result.state == "interrupted"
    for name in names:
        assert name in (result.reason or ""), result.reason
    assert fs.failures() >= 1
    dock_again(data, camera, acknowledged)

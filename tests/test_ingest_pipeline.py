"""The pipelined ingest (copy N+1 while N is verified) and the group commit (issue 16).

Faults are real: a copy is changed on the store disk between its fsync and its O_DIRECT
re-read, a copy is removed from the store before it is re-read, and the ledger on disk is
read back by an independent reader to see that no file was acknowledged before its event.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from evidence_station.check import check_station
from evidence_station.group_commit import GroupCommitter
from evidence_station.ingest.model import Outcome, PlannedFile, SessionResult, SilentReporter
from evidence_station.ingest.pipeline import ingest_source
from evidence_station.station import Station
from hashing.ledger import Draft, Ledger

Opener = Callable[..., Station]
MIB = 1024 * 1024


def make_camera(root: Path, sizes: list[int]) -> list[bytes]:
    folder = root / "DCIM"
    folder.mkdir(parents=True)
    contents = []
    for number, size in enumerate(sizes, start=1):
        data = os.urandom(size)
        (folder / f"CAM1_000001_20261123{8 + number // 60:02d}{number % 60:02d}00_{number:04d}.MP4"
         ).write_bytes(data)
        contents.append(data)
    return contents


def partial_of_size(station: Station, size: int) -> Path:
    found = [p for p in station.store.tmp.iterdir() if p.stat().st_size == size]
    assert len(found) == 1, found
    return found[0]


class OnVerify(SilentReporter):
    """Runs ``action(item)`` in the verifier thread just before an item is re-read."""

    def __init__(self, action: Callable[[PlannedFile], None]) -> None:
        self.action = action
        self.finished: list[Outcome] = []

    def verifying(self, item: PlannedFile) -> None:
        self.action(item)

    def file_finished(self, outcome: Outcome) -> None:
        self.finished.append(outcome)


def ingest_events(station: Station) -> list[dict[str, object]]:
    return [dict(e.fields) for e in station.ledger.events() if e.type == "ingest"]


def assert_only_verified_counted(station: Station, result: SessionResult) -> None:
    """Every counted file has its durable event and a store object that hashes to its name;
    nothing else is counted or left in the store's temp folder."""
    counted = {o.sha256 for o in result.outcomes if o.status in ("committed", "duplicate")}
    events = ingest_events(station)
    assert {e["sha256"] for e in events} == counted
    for sha256 in counted:
        assert sha256 is not None
        assert hashlib.sha256(station.store.path_for(sha256).read_bytes()).hexdigest() == sha256
    assert list(station.store.tmp.iterdir()) == []
    assert sum(1 for _ in station.store.iter_objects()) == len(counted)
    report = check_station(station, verify_data=True)
    assert report.ok, [str(f) for f in report.findings]


def test_reread_mismatch_is_not_counted_and_the_next_file_still_is(
        open_station: Opener, tmp_path: Path) -> None:
    contents = make_camera(tmp_path / "cam", [MIB, 3 * MIB, MIB])
    corrupted = hashlib.sha256(contents[1]).hexdigest()

    with open_station() as station:
        def flip_a_byte(item: PlannedFile) -> None:
            if item.file.size != 3 * MIB:
                return
            fd = os.open(partial_of_size(station, 3 * MIB), os.O_RDWR)
            try:  # the store disk now holds other bytes than were hashed while copying
                byte = os.pread(fd, 1, 4097)
                os.pwrite(fd, bytes([byte[0] ^ 0xFF]), 4097)
                os.fsync(fd)
            finally:
                os.close(fd)

        result = ingest_source(station, tmp_path / "cam", actor="tester",
                               reporter=OnVerify(flip_a_byte))
        assert [o.status for o in result.outcomes] == ["committed", "failed", "committed"]
        problem = result.outcomes[1].problem
        assert problem is not None and problem.reason == "verify_mismatch"
        assert "different bytes" in problem.detail and "camera is untouched" in problem.detail
        assert not result.safe_to_unplug and result.state == "completed"
        assert not station.store.has(corrupted)
        assert_only_verified_counted(station, result)
        end = [e for e in station.ledger.events() if e.type == "session.end"][-1]
        assert [p["reason"] for p in end.fields["problems"]] == ["verify_mismatch"]
    # the camera copy is untouched: docking again copies the file that failed, and only it
    with open_station() as station:
        again = ingest_source(station, tmp_path / "cam", actor="tester")
        assert sorted(o.status for o in again.outcomes) == ["already", "already", "committed"]
        assert station.store.has(corrupted)


def test_store_failure_mid_pipeline_counts_nothing_unverified(
        open_station: Opener, tmp_path: Path) -> None:
    make_camera(tmp_path / "cam", [MIB, 2 * MIB, MIB, MIB, MIB])

    with open_station() as station:
        def lose_the_copy(item: PlannedFile) -> None:
            if item.file.size == 2 * MIB:  # the store loses the copy before its re-read
                partial_of_size(station, 2 * MIB).unlink()

        reporter = OnVerify(lose_the_copy)
        result = ingest_source(station, tmp_path / "cam", actor="tester", reporter=reporter)
        statuses = [o.status for o in result.outcomes]
        assert statuses[0] == "committed" and statuses[1] == "failed"
        assert result.outcomes[1].problem is not None
        assert result.outcomes[1].problem.reason == "store"
        assert result.state == "interrupted" and "re-reading the copy" in (result.reason or "")
        # nothing after the failure is counted: the session stopped copying
        assert statuses[2:] == ["failed"] * 3
        assert {o.problem.reason for o in result.outcomes[2:] if o.problem} == {"not_copied"}
        assert_only_verified_counted(station, result)
        # a file was reported finished only once, and counted ones only after their event
        assert len({id(o.item) for o in reporter.finished}) == len(reporter.finished)


def test_events_follow_the_plan_order_and_bracket_the_session(
        open_station: Opener, tmp_path: Path) -> None:
    sizes = [(number % 4) * 300_000 + 1 for number in range(12)]
    make_camera(tmp_path / "cam", sizes)
    with open_station() as station:
        result = ingest_source(station, tmp_path / "cam", actor="tester")
        assert result.count("committed") == 12
        session = [e for e in station.ledger.events()
                   if e.fields.get("session_id") == result.session_id]
        assert session[0].type == "session.start" and session[-1].type == "session.end"
        ingests = [e for e in session if e.type == "ingest"]
        assert [e.fields["source_path"] for e in ingests] == \
            [o.item.display for o in result.outcomes]
        assert [e.seq for e in ingests] == sorted(e.seq for e in ingests)
        assert [o.ledger_seq for o in result.outcomes] == [e.seq for e in ingests]
        assert_only_verified_counted(station, result)


def test_no_file_is_acknowledged_before_its_event_is_on_disk(
        open_station: Opener, tmp_path: Path) -> None:
    make_camera(tmp_path / "cam", [200_000, 300_000, 400_000, 500_000])
    with open_station() as station:
        seen_on_disk: list[bool] = []

        class Check(SilentReporter):
            def file_finished(self, outcome: Outcome) -> None:
                # An independent reader of the ledger files: the event must be there, with
                # this file's hash, when the file is reported counted.
                with Ledger.open(station.layout.ledger, station=station.name) as reader:
                    assert outcome.ledger_seq is not None and outcome.ledger_seq < reader.size
                    event = reader.event(outcome.ledger_seq)
                    seen_on_disk.append(event.fields["sha256"] == outcome.sha256)

        result = ingest_source(station, tmp_path / "cam", actor="tester", reporter=Check())
        assert result.count("committed") == 4 and seen_on_disk == [True] * 4


def test_group_commit_one_fsync_for_waiting_docks_and_none_acked_early(
        open_station: Opener) -> None:
    committer = GroupCommitter()
    release = threading.Event()
    acked: dict[int, bool] = {}
    with open_station() as station:
        start = station.ledger.size

        def draft_for(number: int) -> Callable[[Station, set[str]], Draft]:
            def build(station: Station, in_batch: set[str]) -> Draft:
                if number == 0:
                    release.wait(10)  # batch 1 is being written while the others queue
                return Draft("report", "tester", {"kind": "test", "dock": number})
            return build

        def dock(number: int) -> None:
            event = committer.commit(station, draft_for(number))
            with Ledger.open(station.layout.ledger, station=station.name) as reader:
                acked[number] = reader.size > event.seq and \
                    reader.event(event.seq).hash == event.hash

        threads = [threading.Thread(target=dock, args=(n,)) for n in range(8)]
        threads[0].start()
        deadline = time.monotonic() + 10
        while not committer._leading and time.monotonic() < deadline:
            time.sleep(0.01)
        for thread in threads[1:]:
            thread.start()
        while len(committer._queue) < 7 and time.monotonic() < deadline:
            time.sleep(0.01)
        release.set()
        for thread in threads:
            thread.join(20)
        assert acked == dict.fromkeys(range(8), True)
        assert committer.events == 8 and committer.batches == 2  # 1, then the 7 that waited
        assert station.ledger.size == start + 8
        assert station.catalog.applied_seq == station.ledger.size - 1


def test_group_commit_refused_draft_writes_nothing_and_the_committer_goes_on(
        open_station: Opener) -> None:
    committer = GroupCommitter()
    with open_station() as station:
        size = station.ledger.size

        def bad(station: Station, in_batch: set[str]) -> Draft:
            return Draft("no.such.type", "tester", {})

        with pytest.raises(ValueError, match="not in the registry"):
            committer.commit(station, bad)
        assert station.ledger.size == size
        # the committer is not stuck: the next commit goes through
        event = committer.commit(station, lambda s, b: Draft("report", "tester", {"kind": "t"}))
        assert event.seq == size


def test_many_docks_sharing_few_slots_all_finish(open_station: Opener, tmp_path: Path) -> None:
    """More docks than the buffer pool can feed at full read-ahead, two copy slots, files
    longer than a turn: every dock finishes (a dock waiting for its turn holds no shared
    buffer, so the waiting ones cannot starve the ones copying)."""
    from evidence_station.docking.fairness import FairSlots

    slots = FairSlots(2)
    cameras = []
    for number in range(10):
        root = tmp_path / f"cam{number}"
        make_camera(root, [10 * MIB + number])
        cameras.append(root)
    results: dict[int, SessionResult] = {}
    with open_station() as station:
        def dock(number: int) -> None:
            view = station.view()
            results[number] = ingest_source(view, cameras[number], actor="tester",
                                            device_id=f"DEV{number}",
                                            slot=slots.for_port(f"port{number}"))
            view.catalog.close()

        threads = [threading.Thread(target=dock, args=(n,), daemon=True) for n in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(240)
        assert not any(thread.is_alive() for thread in threads), "docks stalled"
        assert sorted(results) == list(range(10))
        assert all(r.count("committed") == 1 and r.safe_to_unplug for r in results.values())
        assert len(ingest_events(station)) == 10

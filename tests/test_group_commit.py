"""Every ``Station.record`` goes through the group commit (issue 16: 24 docks' ``dock``,
``session.start`` and ``session.end`` events each waited for an fsync of their own).

Threads are real and the ledger is read back by an independent reader: an event is
acknowledged only once it is on disk, a record made under the writer lock (the one
door's validate-then-record) neither waits for nor deadlocks with a batch, and a draft
the ledger would refuse is refused alone, before it can fail anyone else's event.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from evidence_station.errors import IntegrityAlarm
from evidence_station.group_commit import committer_for
from evidence_station.station import Station
from hashing.checkpoint import Checkpoint, sign_checkpoint
from hashing.ledger import Draft, Event, Ledger
from hashing.note import Signer

Opener = Callable[..., Station]


def durable(station: Station, event: Event) -> bool:
    """Whether an independent reader finds ``event`` in the ledger file, byte for byte."""
    with Ledger.open(station.layout.ledger, station=station.name) as reader:
        return reader.size > event.seq and reader.event(event.seq).hash == event.hash


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@contextlib.contextmanager
def queued_behind_a_leader(station: Station, leader: threading.Thread,
                           *waiters: threading.Thread) -> Iterator[None]:
    """Start ``leader`` while this thread holds the writer lock, so it leads a batch and
    waits for the lock; then ``waiters``, which queue behind it as the next batch. The
    body runs still holding the lock; leaving it lets the leader write."""
    committer = committer_for(station)
    with station.lock:
        leader.start()
        wait_until(lambda: committer._leading)
        for waiter in waiters:
            waiter.start()
        wait_until(lambda: len(committer._queue) == len(waiters))
        yield


@pytest.mark.timeout(60)  # a deadlock fails here instead of hanging the suite
def test_records_of_waiting_threads_share_one_fsync_and_none_is_acked_early(
        open_station: Opener) -> None:
    with open_station() as station:
        committer = committer_for(station)
        batches, start = committer.batches, station.ledger.size
        acked: dict[int, bool] = {}

        def dock(number: int) -> None:
            event = station.record(Draft("report", "tester", {"kind": "test", "dock": number}))
            acked[number] = durable(station, event)

        threads = [threading.Thread(target=dock, args=(n,)) for n in range(8)]
        with queued_behind_a_leader(station, *threads):  # the first leads; the others queue
            # A record by the lock's holder is written at once, alone: no deadlock with
            # the leader waiting for the lock, and no waiting for its batch.
            alone = station.record(Draft("report", "tester", {"kind": "under the lock"}))
            assert alone.seq == start and durable(station, alone)
            assert station.ledger.size == start + 1  # nobody else's event is written yet
        for thread in threads:
            thread.join(20)
        assert acked == dict.fromkeys(range(8), True)
        assert committer.batches - batches == 2  # the leader's own, then the 7 that waited
        assert station.ledger.size == start + 9
        assert station.catalog.applied_seq == station.ledger.size - 1
        docks = sorted(event.fields["dock"] for _, event in
                       ((seq, station.ledger.event(seq)) for seq in range(start + 1, start + 9)))
        assert docks == list(range(8))


@pytest.mark.parametrize(("draft", "message"), [
    (Draft("report", "tester", {"kind": "test", "ratio": 0.5}), "floats are not allowed"),
    (Draft("report", "tester", {"kind": "test", "seq": 7}), "may not set"),
    (Draft("report", "tester", {"kind": "test", "when": object()}), "not a JSON value"),
    (Draft("no.such.type", "tester", {}), "not in the registry"),
])
@pytest.mark.timeout(60)
def test_a_refused_draft_fails_alone_and_leaves_nothing(
        open_station: Opener, draft: Draft, message: str) -> None:
    with open_station() as station:
        start = station.ledger.size
        good: list[Event] = []
        refused: list[BaseException] = []

        def record(which: Draft) -> None:
            try:
                good.append(station.record(which))
            except ValueError as err:
                refused.append(err)

        others = [Draft("report", "tester", {"kind": "test", "dock": n}) for n in range(3)]
        threads = [threading.Thread(target=record, args=(which,))
                   for which in [others[0], draft, *others[1:]]]
        with queued_behind_a_leader(station, *threads):
            pass  # the bad one queues in the same batch as the good ones
        for thread in threads:
            thread.join(20)
        assert len(refused) == 1 and message in str(refused[0])
        assert sorted(event.fields["dock"] for event in good) == [0, 1, 2]
        assert all(durable(station, event) for event in good)
        assert station.ledger.size == start + 3
        with Ledger.open(station.layout.ledger, station=station.name) as reader:
            assert reader.size == start + 3


def test_a_session_end_reuses_a_checkpoint_that_already_covers_it(open_station: Opener) -> None:
    """24 docks ending together: their ``session.end`` events share a batch, and the first
    dock's checkpoint covers the others' (each receipt still holds a checkpoint that
    includes its own session's end)."""
    with open_station() as station:
        first = station.record(Draft("report", "tester", {"kind": "test"}))
        second = station.record(Draft("report", "tester", {"kind": "test"}))
        issued, note = station.issue_checkpoint(witness=False)
        history = sorted(station.checkpoints.history.iterdir())
        for event in (first, second):
            checkpoint, again = station.checkpoint_covering(event.seq + 1)
            assert (checkpoint, again) == (issued, note)
        assert sorted(station.checkpoints.history.iterdir()) == history  # nothing signed
        third = station.record(Draft("report", "tester", {"kind": "test"}))
        checkpoint, fresh = station.checkpoint_covering(third.seq + 1)
        assert checkpoint.size == third.seq + 1 == station.ledger.size and fresh != note
        assert station.latest_checkpoint() == (checkpoint, fresh)


@pytest.mark.timeout(60)
def test_the_leader_returns_after_its_own_batch_and_hands_the_lead_on(
        open_station: Opener) -> None:
    """A busy ledger cannot hold a leader's caller: once its own event is written, the
    first queued waiter leads (here that waiter's draft blocks, and the first caller has
    returned all the same)."""
    with open_station() as station:
        committer = committer_for(station)
        blocking = threading.Event()
        done: dict[str, Event] = {}

        def slow(station: Station, in_batch: set[str]) -> Draft:
            blocking.wait(20)
            return Draft("report", "tester", {"kind": "slow"})

        first = threading.Thread(target=lambda: done.__setitem__(
            "first", station.record(Draft("report", "tester", {"kind": "first"}))))
        second = threading.Thread(target=lambda: done.__setitem__(
            "second", committer.commit(station, slow)))
        with queued_behind_a_leader(station, first, second):
            pass
        first.join(20)
        assert not first.is_alive() and durable(station, done["first"])
        assert second.is_alive()  # now leading, building its own draft
        blocking.set()
        second.join(20)
        assert durable(station, done["second"]) and not committer._leading


@pytest.mark.timeout(60)
def test_an_interrupted_leader_hands_the_lead_on_and_writes_nothing_of_its_own(
        open_station: Opener) -> None:
    with open_station() as station:
        committer = committer_for(station)
        start = station.ledger.size
        outcome: dict[str, object] = {}

        def interrupted(station: Station, in_batch: set[str]) -> Draft:
            raise KeyboardInterrupt  # Ctrl-C while the leader builds its batch

        def lead() -> None:
            try:
                committer.commit(station, interrupted)
            except KeyboardInterrupt:
                outcome["leader"] = "interrupted"

        def wait() -> None:
            outcome["waiter"] = station.record(Draft("report", "tester", {"kind": "queued"}))

        leader, waiter = threading.Thread(target=lead), threading.Thread(target=wait)
        with queued_behind_a_leader(station, leader, waiter):
            pass
        leader.join(20)
        waiter.join(20)
        assert outcome["leader"] == "interrupted"
        event = outcome["waiter"]
        assert isinstance(event, Event) and event.seq == start and durable(station, event)
        assert station.ledger.size == start + 1 and not committer._leading
        again = station.record(Draft("report", "tester", {"kind": "after"}))  # not wedged
        assert again.seq == start + 1


@pytest.mark.timeout(60)
def test_a_failing_catalog_read_fails_its_own_ingest_event_only(open_station: Opener) -> None:
    """An ingest draft is built inside the batch (it asks the catalog whether the clip is
    a duplicate); an error there is that file's, not a dock's ``session.start`` beside it."""
    with open_station() as station:
        committer = committer_for(station)
        start = station.ledger.size
        outcome: dict[str, object] = {}

        def failing(station: Station, in_batch: set[str]) -> Draft:
            raise OSError(5, "Input/output error")

        def ingest() -> None:
            try:
                committer.commit(station, failing)
            except OSError as err:
                outcome["ingest"] = err.errno

        def session() -> None:
            outcome["session"] = station.record(Draft("report", "tester", {"kind": "start"}))

        def dock() -> None:
            outcome["dock"] = station.record(Draft("report", "tester", {"kind": "dock"}))

        threads = [threading.Thread(target=f) for f in (dock, ingest, session)]
        with queued_behind_a_leader(station, *threads):
            pass  # the dock's record leads; the other two queue as one batch
        for thread in threads:
            thread.join(20)
        assert outcome["ingest"] == 5
        assert all(isinstance(outcome[name], Event) and durable(station, outcome[name])  # type: ignore[arg-type]
                   for name in ("dock", "session"))
        assert station.ledger.size == start + 2


def test_a_checkpoint_of_another_history_is_not_reused(open_station: Opener) -> None:
    """The events file cut back under a newer checkpoint (tampering, or the file restored
    alone): the latest checkpoint "covers" the size but is not this ledger's; the session
    gets the loud rollback refusal a new checkpoint gives, never a root that is not its."""
    with open_station() as station:
        for number in range(5):
            station.record(Draft("report", "tester", {"kind": f"r{number}"}))
        station.issue_checkpoint(witness=False)
        keep = station.ledger.size - 4
        ledger_dir = station.layout.ledger
    events = ledger_dir / "events.jsonl"
    events.write_bytes(b"".join(events.read_bytes().splitlines(keepends=True)[:keep]))
    for cache in ("state.json", "offsets.bin"):
        (ledger_dir / cache).unlink(missing_ok=True)
    shutil.rmtree(ledger_dir / "tree", ignore_errors=True)
    with open_station() as station:
        end = station.record(Draft("report", "tester", {"kind": "session end"}))
        with pytest.raises(IntegrityAlarm, match="is not of this ledger"):
            station.checkpoint_covering(end.seq + 1)


@pytest.mark.parametrize("latest", ["garbage\n", "another key"])
def test_an_unreadable_latest_checkpoint_is_an_alarm_of_its_own(
        open_station: Opener, latest: str) -> None:
    """A latest checkpoint that cannot be read, or is signed with another key, is said to
    be that — not "another history" — and nothing is signed over it."""
    with open_station() as station:
        station.record(Draft("report", "tester", {"kind": "r"}))
        size = station.ledger.size
        if latest == "another key":
            thief = Signer.generate(station.signer.name)
            latest = sign_checkpoint(Checkpoint(thief.name, size, station.ledger.root()), thief)
        station.checkpoints.latest_path.write_text(latest)
        for attempt in (station.issue_checkpoint, lambda: station.checkpoint_covering(size)):
            with pytest.raises(IntegrityAlarm, match="cannot be read or is not signed"):
                attempt()
        assert station.checkpoints.latest_path.read_text() == latest

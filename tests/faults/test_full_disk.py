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

from hashing.ledger import Draft, Ledger, LedgerFatalError, LedgerWriteError
from tests.reference_merkle import mth

pytestmark = pytest.mark.root

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

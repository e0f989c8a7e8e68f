"""The append-only ledger: chain, durability bookkeeping, torn tails, caches, locking."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import pytest

from hashing.ledger import (
    Draft,
    Ledger,
    LedgerBusyError,
    LedgerCorruptError,
    TornTailError,
)
from hashing.merkle import leaf_hash, verify_inclusion
from tests.reference_merkle import mth


def make(tmp_path: Path, count: int) -> Path:
    directory = tmp_path / "ledger"
    Ledger.create(directory)
    with Ledger.open(directory, station="st1", writable=True) as ledger:
        ledger.append_many([Draft("test", "alice", {"n": i, "名": "张三"}) for i in range(count)])
    return directory


def lines(directory: Path) -> list[bytes]:
    return (directory / "events.jsonl").read_bytes().splitlines()


def test_events_are_canonical_and_chained(tmp_path: Path) -> None:
    directory = make(tmp_path, 5)
    body = lines(directory)
    assert len(body) == 5
    first = json.loads(body[0])
    assert first["prev"] == "0" * 64 and first["seq"] == 0 and first["actor"] == "alice"
    assert "张三".encode() in body[0]  # ensure_ascii=False
    assert body[0] == json.dumps(first, sort_keys=True, separators=(",", ":"),
                                 ensure_ascii=False).encode()
    for previous, current in itertools.pairwise(body):
        assert json.loads(current)["prev"] == hashlib.sha256(previous).hexdigest()
    with Ledger.open(directory, station="st1") as ledger:
        assert ledger.size == 5
        assert ledger.root() == mth(body)
        proof = ledger.inclusion_proof(3)
        verify_inclusion(index=3, size=5, leaf=leaf_hash(body[3]), proof=proof, root=mth(body))
        assert ledger.event(2).data == body[2]


def test_reopen_continues_chain_and_rebuilds_lost_caches(tmp_path: Path) -> None:
    directory = make(tmp_path, 3)
    (directory / "state.json").unlink()  # as after a crash
    for level in (directory / "tree").glob("*.bin"):
        level.write_bytes(b"garbage")
    with Ledger.open(directory, station="st1", writable=True) as ledger:
        assert ledger.size == 3
        ledger.append(Draft("test", "bob", {}))
    body = lines(directory)
    assert json.loads(body[3])["prev"] == hashlib.sha256(body[2]).hexdigest()
    with Ledger.open(directory, station="st1") as ledger:
        assert ledger.root() == mth(body)


def test_torn_tail_detected_reported_and_recovered(tmp_path: Path) -> None:
    directory = make(tmp_path, 4)
    torn = b'{"actor":"alice","n":99,"pre'
    with open(directory / "events.jsonl", "ab") as handle:
        handle.write(torn)
    (directory / "state.json").unlink()
    with pytest.raises(TornTailError, match="ledger recover") as info:
        Ledger.open(directory, station="st1")
    assert info.value.complete_events == 4
    assert (directory / "events.jsonl").read_bytes().endswith(torn)  # never silently rewritten
    with Ledger.open(directory, station="st1", writable=True, recover=True) as ledger:
        assert ledger.size == 5
        recovered = ledger.event(4)
    assert recovered.type == "ledger.recovered"
    assert recovered.fields["torn_sha256"] == hashlib.sha256(torn).hexdigest()
    quarantine = directory / str(recovered.fields["quarantine_file"])
    assert quarantine.read_bytes() == torn
    assert len(lines(directory)) == 5


def test_garbled_middle_event_is_corruption_not_torn_tail(tmp_path: Path) -> None:
    directory = make(tmp_path, 4)
    body = lines(directory)
    body[1] = body[1].replace(b'"n":1', b'"n":7')
    (directory / "events.jsonl").write_bytes(b"\n".join(body) + b"\n")
    (directory / "state.json").unlink()
    with pytest.raises(LedgerCorruptError) as info:
        Ledger.open(directory, station="st1", writable=True, recover=True)
    assert info.value.seq == 2


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    directory = make(tmp_path, 1)
    with Ledger.open(directory, station="st1", writable=True) as writer:
        with pytest.raises(LedgerBusyError):
            Ledger.open(directory, station="st1", writable=True)
        writer.append(Draft("test", "a", {}))
        with Ledger.open(directory, station="st1") as reader:  # beside a writer
            assert reader.size == 2


def test_reserved_fields_and_floats_refused(tmp_path: Path) -> None:
    directory = make(tmp_path, 0)
    with Ledger.open(directory, station="st1", writable=True) as ledger:
        with pytest.raises(ValueError, match="may not set"):
            ledger.append(Draft("test", "a", {"seq": 5}))
        with pytest.raises(ValueError, match="floats"):
            ledger.append(Draft("test", "a", {"x": 1.5}))
        assert ledger.size == 0

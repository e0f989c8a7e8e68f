"""A clean close vouches for the ledger's caches only after they are durable, and a
vouched-for cache is trusted only after checks a power cut cannot pass (issue 22)."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from hashing.ledger import Draft, Ledger
from tests.reference_merkle import mth


def make(tmp_path: Path, count: int) -> Path:
    directory = tmp_path / "ledger"
    Ledger.create(directory)
    with Ledger.open(directory, station="st1", writable=True) as ledger:
        ledger.append_many([Draft("test", "alice", {"n": i}) for i in range(count)])
    assert (directory / "state.json").exists()
    return directory


def body(directory: Path) -> list[bytes]:
    return (directory / "events.jsonl").read_bytes().splitlines()


def damage_level_3_missing(directory: Path) -> None:
    (directory / "tree" / "level-03.bin").unlink()


def damage_level_3_short(directory: Path) -> None:
    path = directory / "tree" / "level-03.bin"
    os.truncate(path, path.stat().st_size - 32)


def damage_level_1_long(directory: Path) -> None:
    with open(directory / "tree" / "level-01.bin", "ab") as handle:
        handle.write(b"\0" * 32)


def damage_offsets_last_entry(directory: Path) -> None:
    path = directory / "offsets.bin"
    data = bytearray(path.read_bytes())
    data[-8:] = struct.pack("<Q", 3)
    path.write_bytes(bytes(data))


def damage_offsets_short(directory: Path) -> None:
    path = directory / "offsets.bin"
    os.truncate(path, path.stat().st_size - 8)


def damage_last_leaf(directory: Path) -> None:
    path = directory / "tree" / "level-00.bin"
    data = bytearray(path.read_bytes())
    data[-32:] = b"\0" * 32
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [
    damage_level_3_missing, damage_level_3_short, damage_level_1_long,
    damage_offsets_last_entry, damage_offsets_short, damage_last_leaf,
])
def test_caches_a_power_cut_damaged_after_a_clean_close_are_rebuilt(
        tmp_path: Path, damage: object) -> None:
    directory = make(tmp_path, 21)
    assert callable(damage)
    damage(directory)
    with Ledger.open(directory, station="st1") as reader:  # a reader: the agreed prefix
        assert reader.root(reader.size) == mth(body(directory)[:reader.size])
    with Ledger.open(directory, station="st1", writable=True) as writer:
        assert writer.size == 21
        assert writer.root() == mth(body(directory))
        assert writer.event(20).fields["n"] == 20
        writer.inclusion_proof(8)
    with Ledger.open(directory, station="st1") as reader:
        assert reader.size == 21 and reader.root() == mth(body(directory))


def test_close_makes_the_caches_durable_before_the_state_file(tmp_path: Path) -> None:
    """Observed through the kernel: a state file exists only with complete caches
    (a rebuild-free reopen) — and a failed writer leaves no state file at all."""
    directory = make(tmp_path, 9)
    levels = sorted(p.name for p in (directory / "tree").glob("level-*.bin"))
    assert levels == ["level-00.bin", "level-01.bin", "level-02.bin", "level-03.bin"]
    with Ledger.open(directory, station="st1", writable=True) as writer:
        assert not (directory / "state.json").exists()  # in use: a crash forces a rebuild
        assert writer.size == 9


def test_a_reader_after_a_crash_counts_the_events_its_caches_do_not_cover(tmp_path: Path) -> None:
    """Issue 22 (crash suite, cut evidence #11): a crash after the append was durable but
    before the caches were, with no writer running. The reader serves the cached prefix and
    says how many complete events lie past it; the next writing start covers them all."""
    directory = make(tmp_path, 10)
    (directory / "state.json").unlink()  # as after a crash: no clean close vouches
    damage_offsets_short(directory)  # the last offset never reached the disk
    with Ledger.open(directory, station="st1") as reader:
        assert reader.size == 9 and reader.uncached_events == 1
    with Ledger.open(directory, station="st1", writable=True, recover=True) as writer:
        assert writer.size == 10
    with Ledger.open(directory, station="st1") as reader:
        assert reader.size == 10 and reader.uncached_events == 0
        assert reader.root() == mth(body(directory))

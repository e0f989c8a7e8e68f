"""Issue 16's faster write path keeps its promises: ``write_files_durably`` (the
checkpoint's two files) fsyncs each file and names it durably in order, and leaves
nothing behind on a failure; the catalog's per-name table cache survives a rebuild."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from evidence_station.station import Station
from hashing.durable import DurableWriteError, write_files_durably
from hashing.ledger import Draft


@pytest.fixture
def station(open_station: Callable[..., Station]) -> Iterator[Station]:
    with open_station() as opened:
        yield opened


@pytest.fixture
def syscalls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """Record the fsyncs and renames (each still done for real) in the order they run."""
    log: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        real_fsync(fd)
        log.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        real_replace(src, dst)
        log.append(("rename", str(dst)))

    monkeypatch.setattr(os, "fsync", fsync)  # the same module object hashing.durable calls
    monkeypatch.setattr(os, "replace", replace)
    yield log


def test_files_and_their_names_durable_in_order(tmp_path: Path,
                                                 syscalls: list[tuple[str, str]]) -> None:
    history = tmp_path / "checkpoints"
    history.mkdir()
    entry, latest = history / "000000000001.note", tmp_path / "checkpoint"
    latest.write_bytes(b"old")
    write_files_durably([(entry, b"note 1"), (latest, b"note 1")], mode=0o640)
    assert entry.read_bytes() == latest.read_bytes() == b"note 1"
    assert {entry.stat().st_mode & 0o777, latest.stat().st_mode & 0o777} == {0o640}
    assert sorted(p.name for p in tmp_path.rglob(".*")) == []  # no temp left
    # both temps fsynced (in either order: together) before the first rename; then each
    # rename followed by its directory's fsync before the next rename
    files, after = syscalls[:2], syscalls[2:]
    assert {kind for kind, _ in files} == {"fsync"}
    assert sorted(Path(name).name for _, name in files) == [
        f".{entry.name}.tmp-{os.getpid()}", f".checkpoint.tmp-{os.getpid()}"]
    assert after == [("rename", str(entry)), ("fsync", str(history)),
                     ("rename", str(latest)), ("fsync", str(tmp_path))]


def test_a_failure_before_any_rename_changes_nothing(tmp_path: Path) -> None:
    latest = tmp_path / "checkpoint"
    latest.write_bytes(b"old")
    with pytest.raises(DurableWriteError) as caught:
        write_files_durably([(latest, b"new"), (tmp_path / "missing" / "entry", b"new")])
    assert "missing/entry" in str(caught.value)
    assert latest.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]


def test_a_failure_at_the_second_rename_keeps_the_first(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    second.mkdir()
    (second / "occupied").write_bytes(b"")  # a non-empty directory: the rename fails
    with pytest.raises(DurableWriteError) as caught:
        write_files_durably([(first, b"one"), (second, b"two")])
    assert str(second) in str(caught.value)
    assert first.read_bytes() == b"one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first", "second"]


def test_checkpoints_publish_history_and_latest(station: Station) -> None:
    station.issue_checkpoint(witness=False)
    station.record(Draft("camera.clock", "station", {
        "device_id": "CAM1", "session_id": "s", "reading": 0, "camera_time": "x", "drift_s": 0}))
    checkpoint, note = station.issue_checkpoint(witness=False)
    ledger = station.layout.ledger
    assert (ledger / "checkpoint").read_text() == note
    assert (ledger / "checkpoints" / f"{checkpoint.size:012d}.note").read_text() == note
    assert not [p for p in ledger.rglob(".*tmp-*")]


def test_table_cache_survives_a_rebuild(station: Station) -> None:
    catalog = station.catalog
    assert catalog.table("clips") is catalog.table("clips")
    catalog.reset()  # drop and create every table: the cached objects name them again
    catalog.catch_up(station.ledger)
    catalog.table("meta").upsert({"key": "probe", "value": "1"}, pk="key")
    assert catalog.db.execute("select value from meta where key = 'probe'").fetchone() == ("1",)

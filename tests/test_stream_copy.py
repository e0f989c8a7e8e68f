"""copy_and_hash with read-ahead, write-behind windows and the shared buffer pool."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from hashing.stream import (
    SHARED_POOL,
    VERIFY_POOL,
    BufferPool,
    DestinationWriteError,
    SourceReadError,
    copy_and_hash,
    hash_file_from_disk,
)

MIB = 1024 * 1024


@pytest.mark.parametrize("size", [0, 1, 4096, MIB, MIB + 1, 3 * MIB + 123, 9 * MIB, 20 * MIB + 123])
@pytest.mark.parametrize("behind", [True, False])
def test_copy_is_exact_and_hashed(tmp_path: Path, size: int, behind: bool) -> None:
    data = os.urandom(size)
    (tmp_path / "src").write_bytes(data)
    source = os.open(tmp_path / "src", os.O_RDONLY)
    dest = os.open(tmp_path / "dst", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    seen: list[int] = []
    try:
        digest = copy_and_hash(source, dest, write_behind=behind, progress=seen.append)
        os.fsync(dest)
        assert os.lseek(dest, 0, os.SEEK_CUR) == size  # the offset moved as with write()
    finally:
        os.close(source)
        os.close(dest)
    assert (tmp_path / "dst").read_bytes() == data
    assert digest.sha256 == hashlib.sha256(data).hexdigest() and digest.size == size
    assert sum(seen) == size
    assert hash_file_from_disk(tmp_path / "dst") == digest


def test_pool_buffers_all_come_back(tmp_path: Path) -> None:
    (tmp_path / "src").write_bytes(os.urandom(5 * MIB + 7))
    for _ in range(3):
        source = os.open(tmp_path / "src", os.O_RDONLY)
        dest = os.open(tmp_path / "dst", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            copy_and_hash(source, dest, write_behind=True)
        finally:
            os.close(source)
            os.close(dest)
        hash_file_from_disk(tmp_path / "dst")
    assert len(SHARED_POOL._free) == SHARED_POOL._made <= SHARED_POOL.limit
    assert len(VERIFY_POOL._free) == VERIFY_POOL._made <= VERIFY_POOL.limit


def test_write_error_is_the_destinations_and_buffers_come_back(tmp_path: Path) -> None:
    (tmp_path / "src").write_bytes(os.urandom(3 * MIB))
    source = os.open(tmp_path / "src", os.O_RDONLY)
    dest = os.open(tmp_path / "src", os.O_RDONLY)  # not writable: EBADF on the first write
    try:
        with pytest.raises(DestinationWriteError):
            copy_and_hash(source, dest)
    finally:
        os.close(source)
        os.close(dest)
    assert len(SHARED_POOL._free) == SHARED_POOL._made


def test_read_error_is_the_sources(tmp_path: Path) -> None:
    source = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)  # EISDIR on read
    dest = os.open(tmp_path / "dst", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with pytest.raises(SourceReadError):
            copy_and_hash(source, dest, write_behind=True)
    finally:
        os.close(source)
        os.close(dest)
    assert len(SHARED_POOL._free) == SHARED_POOL._made


def test_pool_is_bounded_and_take_many_does_not_hold_and_wait() -> None:
    pool = BufferPool(4096, 4)
    one = pool.take()
    assert one is not None
    got: list[int] = []

    def many() -> None:
        got.append(len(pool.take_many(4)))  # waits for all four, holding none meanwhile

    thread = threading.Thread(target=many)
    thread.start()
    thread.join(0.3)
    assert thread.is_alive() and pool._made == 1  # nothing taken while waiting
    pool.give(one)
    thread.join(10)
    assert got == [4] and pool._made == 4
    with pytest.raises(ValueError):
        pool.take_many(5)

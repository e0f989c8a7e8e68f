"""Verification reads: parallel O_DIRECT hashing gives exactly the serial digest for
every size and any number of chunks, in order."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from hashing.stream import hash_direct_parallel, hash_fd, hash_file_from_disk


def direct_fd(path: Path) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECT)
    except OSError as err:
        if err.errno == errno.EINVAL:
            pytest.skip(f"{path.parent} does not support O_DIRECT")
        raise


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 65_536, 1_000_003])
@pytest.mark.parametrize(("chunk", "depth"), [(4096, 2), (4096, 4), (65_536, 3)])
def test_parallel_direct_hash_equals_serial(size: int, chunk: int, depth: int) -> None:
    # the checkout's disk, not /tmp: tmpfs has no O_DIRECT
    store = Path(__file__).resolve().parent.parent / ".stream-test"
    store.mkdir(exist_ok=True)
    path = store / f"{size}-{chunk}-{depth}.bin"
    data = os.urandom(size)
    path.write_bytes(data)
    os.sync()
    try:
        fd = direct_fd(path)
        try:
            digest = hash_direct_parallel(fd, chunk_size=chunk, depth=depth)
        finally:
            os.close(fd)
        assert digest.sha256 == hashlib.sha256(data).hexdigest() and digest.size == size
        assert hash_file_from_disk(path) == digest
        with path.open("rb") as handle:
            assert hash_fd(handle.fileno()) == digest
    finally:
        path.unlink()


def test_tmpfs_falls_back_to_dropping_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    data = os.urandom(100_000)
    path.write_bytes(data)
    assert hash_file_from_disk(path).sha256 == hashlib.sha256(data).hexdigest()

"""Streaming SHA-256: hash while copying, and re-read from disk to verify.

Copying reads the source exactly once: every chunk read goes to the hash and to the
destination. Verification re-reads the stored file with ``O_DIRECT`` so the bytes come
from the disk and not from the page cache that still holds what we just wrote; where a
filesystem refuses ``O_DIRECT`` (tmpfs) we drop the cached pages with
``posix_fadvise(DONTNEED)`` after ``fsync`` and read normally.
"""

from __future__ import annotations

import errno
import hashlib
import mmap
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

CHUNK_SIZE = 8 * 1024 * 1024
"""Large enough to keep syscalls and Python overhead negligible, small enough for flat
memory: two chunk buffers are the whole footprint of a copy, whatever the file size."""

DIRECT_DEPTH = 4
"""Buffers for verification reads: three requests in flight plus the one being hashed."""

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Digest:
    sha256: str
    size: int


class SourceReadError(OSError):
    """Reading the source failed after ``offset`` bytes had been copied."""

    def __init__(self, err: OSError, offset: int) -> None:
        super().__init__(err.errno, err.strerror)
        self.offset = offset
        self.cause = err


class DestinationWriteError(OSError):
    """Writing the destination failed (ENOSPC, EIO on the store disk...)."""

    def __init__(self, err: OSError) -> None:
        super().__init__(err.errno, err.strerror)
        self.cause = err


def _aligned_buffer(size: int) -> mmap.mmap:
    # An anonymous mapping is page-aligned, which O_DIRECT requires of the buffer.
    return mmap.mmap(-1, size)


def copy_and_hash(
    source_fd: int,
    dest_fd: int,
    *,
    progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Digest:
    """Copy ``source_fd`` to ``dest_fd`` from their current offsets, hashing on the way.

    Raises :class:`SourceReadError` or :class:`DestinationWriteError` so the caller can
    tell "the camera failed" from "our disk failed" — the two need different advice.
    """
    digest = hashlib.sha256()
    buffer = _aligned_buffer(chunk_size)
    view = memoryview(buffer)
    total = 0
    chunk = view[:0]
    try:
        while True:
            try:
                count = os.readv(source_fd, [buffer])
            except OSError as err:
                raise SourceReadError(err, total) from err
            if count == 0:
                break
            chunk.release()
            chunk = view[:count]
            digest.update(chunk)
            try:
                written = 0
                while written < count:
                    written += os.write(dest_fd, chunk[written:])
            except OSError as err:
                raise DestinationWriteError(err) from err
            total += count
            if progress is not None:
                progress(count)
    finally:
        chunk.release()
        view.release()
        buffer.close()
    return Digest(digest.hexdigest(), total)


def hash_fd(fd: int, *, progress: Progress | None = None, chunk_size: int = CHUNK_SIZE) -> Digest:
    """Hash everything readable from ``fd`` (from its current offset)."""
    digest = hashlib.sha256()
    buffer = _aligned_buffer(chunk_size)
    view = memoryview(buffer)
    total = 0
    try:
        while True:
            count = os.readv(fd, [buffer])
            if count == 0:
                break
            with view[:count] as chunk:
                digest.update(chunk)
            total += count
            if progress is not None:
                progress(count)
    finally:
        view.release()
        buffer.close()
    return Digest(digest.hexdigest(), total)


def hash_direct_parallel(fd: int, *, progress: Progress | None = None,
                         chunk_size: int = CHUNK_SIZE, depth: int = DIRECT_DEPTH) -> Digest:
    """Hash an ``O_DIRECT`` descriptor with ``depth - 1`` reads in flight.

    One O_DIRECT read at a time leaves the disk idle while we hash and while the next
    request is issued; keeping a few requests queued reads the same bytes from the device
    ~25 % faster here (benchmarks/bench_ingest.py). Chunks are hashed strictly in order;
    a read error in any reader is raised here, as from a plain read.
    """
    size = os.fstat(fd).st_size
    offsets = list(range(0, size, chunk_size))
    ready: dict[int, tuple[mmap.mmap, int, OSError | None]] = {}
    condition = threading.Condition()
    free: queue.Queue[mmap.mmap] = queue.Queue()
    buffers = [_aligned_buffer(chunk_size) for _ in range(depth)]
    for buffer in buffers:
        free.put(buffer)
    claimed = iter(range(len(offsets)))
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            # Buffer first, then the next index: the lowest unread chunk always has a
            # buffer, so the in-order hashing below can never wait on a starved reader.
            buffer = free.get()
            if stop.is_set():
                return
            with condition:
                index = next(claimed, None)
            if index is None:
                free.put(buffer)
                return
            try:
                count, error = os.preadv(fd, [buffer], offsets[index]), None
            except OSError as err:
                count, error = 0, err
            with condition:
                ready[index] = (buffer, count, error)
                condition.notify_all()
            if error is not None:
                return

    threads = [threading.Thread(target=reader, name="verify-read", daemon=True)
               for _ in range(max(1, depth - 1))]
    for thread in threads:
        thread.start()
    digest = hashlib.sha256()
    total = 0
    try:
        for index, offset in enumerate(offsets):
            with condition:
                while index not in ready:
                    condition.wait()
                buffer, count, error = ready.pop(index)
            if error is not None:
                raise error
            expected = min(chunk_size, size - offset)
            if count != expected:
                raise OSError(errno.EIO, f"short read at byte {offset}: {count} of {expected}")
            with memoryview(buffer)[:count] as chunk:
                digest.update(chunk)
            total += count
            free.put(buffer)
            if progress is not None:
                progress(count)
    finally:
        stop.set()
        for _ in threads:
            free.put(buffers[0])  # wake readers waiting for a buffer so they see ``stop``
        for thread in threads:
            thread.join()
        for buffer in buffers:
            buffer.close()
    return Digest(digest.hexdigest(), total)


def hash_file_from_disk(path: str | os.PathLike[str], *, progress: Progress | None = None) -> Digest:
    """Hash ``path`` reading from the device, not the page cache.

    The file must already be fsynced (dirty pages cannot be dropped).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECT | os.O_CLOEXEC)
    except OSError as err:
        if err.errno != errno.EINVAL:
            raise
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        try:
            return hash_fd(fd, progress=progress)
        finally:
            os.close(fd)
    try:
        try:
            return hash_direct_parallel(fd, progress=progress)
        except OSError as err:
            if err.errno != errno.EINVAL:
                raise
            # Some filesystems accept O_DIRECT at open and refuse it at read.
            os.close(fd)
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            return hash_fd(fd, progress=progress)
    finally:
        os.close(fd)


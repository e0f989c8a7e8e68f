"""Streaming SHA-256: hash while copying, and re-read from disk to verify.

Copying reads the source exactly once: every chunk read goes to the hash and to the
destination. Verification re-reads the stored file with ``O_DIRECT`` so the bytes come
from the disk and not from the page cache that still holds what we just wrote; where a
filesystem refuses ``O_DIRECT`` (tmpfs) we drop the cached pages with
``posix_fadvise(DONTNEED)`` after ``fsync`` and read normally.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
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

VERIFY_CHUNK = 2 * 1024 * 1024
"""Verification read unit: 2 MiB requests, three in flight, read as fast as 8 MiB ones
on the disks measured (benchmarks/bench_ingest.py) for a quarter of the memory."""

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


COPY_CHUNK = 1024 * 1024
"""Copy unit. 1 MiB keeps Python's per-call cost negligible (~1 µs per MiB) and the
footprint of a copy small — ``COPY_DEPTH`` buffers whatever the file size — so 24 docks
copying at once stay far below the daemon's memory budget."""

COPY_DEPTH = 4
"""Buffers of one copy: the reader fills up to three ahead while one is hashed and written."""

_ADVISE_EVERY = 32 * 1024 * 1024  # fadvise costs a page-cache walk: not per chunk
_ALIGN = 4096  # O_DIRECT: offsets and lengths in multiples of the logical block size


def _set_direct(fd: int, on: bool) -> bool:
    """Turn ``O_DIRECT`` on or off for ``fd``; ``False`` where the filesystem refuses it."""
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    wanted = flags | os.O_DIRECT if on else flags & ~os.O_DIRECT
    if wanted == flags:
        return on
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, wanted)
    except OSError:
        return False
    return on


def _advise(fd: int, offset: int, length: int, advice: int) -> None:
    with contextlib.suppress(OSError, AttributeError):  # advice only; a FUSE fd may refuse
        os.posix_fadvise(fd, offset, length, advice)


def _write_all(fd: int, chunk: memoryview) -> None:
    written = 0
    while written < len(chunk):
        written += os.write(fd, chunk[written:])


def copy_and_hash(
    source_fd: int,
    dest_fd: int,
    *,
    progress: Progress | None = None,
    chunk_size: int = COPY_CHUNK,
    depth: int = COPY_DEPTH,
    direct_write: bool = False,
) -> Digest:
    """Copy ``source_fd`` to ``dest_fd`` from their current offsets, hashing on the way.

    A reader thread keeps up to ``depth - 1`` chunks read ahead, so the camera (USB, FUSE)
    is read while the previous chunk is hashed and written. Every byte written is a byte
    that went through the hash, in order; the source is read exactly once.

    With ``direct_write`` the destination is written with ``O_DIRECT`` (whole blocks; the
    unaligned tail through the page cache), where the filesystem allows it: the copy
    does not go through dirty page cache (no write-back storm, no page-cache memory for
    footage that is re-read from disk anyway), and the verifying ``O_DIRECT`` re-read then
    reads what the device holds. The caller still fsyncs: that makes the file size and
    any cached tail durable and flushes the device's write cache.

    Raises :class:`SourceReadError` or :class:`DestinationWriteError` so the caller can
    tell "the camera failed" from "our disk failed" — the two need different advice.
    """
    if chunk_size % _ALIGN:
        raise ValueError(f"chunk_size must be a multiple of {_ALIGN}")
    digest = hashlib.sha256()
    direct = direct_write and _set_direct(dest_fd, True)
    _advise(source_fd, 0, 0, getattr(os, "POSIX_FADV_SEQUENTIAL", 2))
    buffers = [_aligned_buffer(chunk_size) for _ in range(max(2, depth))]
    free: queue.Queue[mmap.mmap] = queue.Queue()
    for buffer in buffers:
        free.put(buffer)
    filled: queue.Queue[tuple[mmap.mmap | None, int, OSError | None]] = queue.Queue()
    stop = threading.Event()
    source_start = _tell(source_fd)

    def reader() -> None:
        while True:
            buffer = free.get()
            if stop.is_set():
                return
            try:
                count = os.readv(source_fd, [buffer])
            except OSError as err:
                filled.put((None, 0, err))
                return
            if count == 0:
                free.put(buffer)
                filled.put((None, 0, None))
                return
            filled.put((buffer, count, None))

    thread = threading.Thread(target=reader, name="copy-read", daemon=True)
    thread.start()
    total = advised = 0
    try:
        while True:
            ready, count, error = filled.get()
            if error is not None:
                raise SourceReadError(error, total) from error
            if ready is None:
                break
            with memoryview(ready)[:count] as chunk:
                digest.update(chunk)
                try:
                    aligned = count - count % _ALIGN if direct else 0
                    if aligned:
                        _write_all(dest_fd, chunk[:aligned])
                    if aligned < count:  # the tail (or everything, buffered)
                        if direct:
                            direct = _set_direct(dest_fd, False)
                        _write_all(dest_fd, chunk[aligned:])
                except OSError as err:
                    raise DestinationWriteError(err) from err
            free.put(ready)
            total += count
            if source_start is not None and total - advised >= _ADVISE_EVERY:
                # What was copied is not needed in the camera's page cache again.
                _advise(source_fd, source_start + advised, total - advised,
                        os.POSIX_FADV_DONTNEED)
                advised = total
            if progress is not None:
                progress(count)
    finally:
        stop.set()
        free.put(buffers[0])  # wake the reader if it waits for a buffer
        thread.join()
        if direct_write:
            _set_direct(dest_fd, False)
        for buffer in buffers:
            with contextlib.suppress(BufferError):
                buffer.close()
    return Digest(digest.hexdigest(), total)


def _tell(fd: int) -> int | None:
    try:
        return os.lseek(fd, 0, os.SEEK_CUR)
    except OSError:  # a pipe: no offsets to advise on
        return None


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
            return hash_direct_parallel(fd, progress=progress, chunk_size=VERIFY_CHUNK)
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


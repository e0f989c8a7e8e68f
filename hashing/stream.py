"""Streaming SHA-256: hash while copying, and re-read from disk to verify.

Copying reads the source exactly once: every chunk read goes to the hash and to the
destination. Verification re-reads the stored file with ``O_DIRECT`` so the bytes come
from the disk and not from the page cache that still holds what we just wrote; where a
filesystem refuses ``O_DIRECT`` (tmpfs) we drop the cached pages with
``posix_fadvise(DONTNEED)`` after ``fsync`` and read normally.
"""

from __future__ import annotations

import contextlib
import ctypes
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

VERIFY_CHUNK = 1024 * 1024
"""Verification read unit: 1 MiB requests, four in flight, read as fast as 8 MiB ones on
the disks measured (benchmarks/bench_ingest.py), from the shared buffer pool."""

DIRECT_DEPTH = 5
"""Buffers for verification reads: four requests in flight plus the one being hashed."""

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
"""Copy unit. 1 MiB keeps Python's per-call cost negligible (~1 µs per MiB) while the
buffers of every copy in the process come from one bounded pool (:class:`BufferPool`)."""

COPY_DEPTH = 8
"""Buffers one copy may hold: read ahead of the hash and the write."""

POOL_BYTES = 48 * 1024 * 1024
"""Every copy in the process shares this many bytes of buffers: 24 docks copying at once
cannot grow the daemon's memory, only wait a moment for a buffer."""

VERIFY_POOL_BYTES = 16 * 1024 * 1024
"""Verifications have their own pool (three at once at full depth), so copies taking
buffers one at a time can never starve a verification waiting for several at once."""

_ADVISE_EVERY = 32 * 1024 * 1024  # fadvise costs a page-cache walk: not per chunk
_ALIGN = 4096  # O_DIRECT: offsets and lengths in multiples of the logical block size


class BufferPool:
    """Page-aligned buffers of one size, at most ``limit`` of them, reused (flat memory).

    Who holds buffers never waits for the pool while holding one that only it can give
    back, so the pool cannot deadlock: readers wait for a buffer, hashers and writers
    only give buffers back."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        self._free: list[mmap.mmap] = []
        self._made = 0
        self._condition = threading.Condition()

    def take(self, stop: threading.Event | None = None) -> mmap.mmap | None:
        """A buffer, or ``None`` once ``stop`` is set while waiting."""
        with self._condition:
            while True:
                if stop is not None and stop.is_set():
                    return None
                if self._free:
                    return self._free.pop()
                if self._made < self.limit:
                    self._made += 1
                    return _aligned_buffer(self.size)
                self._condition.wait(0.1)

    def take_many(self, count: int) -> list[mmap.mmap]:
        """``count`` buffers at once (all or none while waiting: no hold-and-wait)."""
        if count > self.limit:
            raise ValueError(f"{count} buffers asked of a pool of {self.limit}")
        with self._condition:
            while len(self._free) + self.limit - self._made < count:
                self._condition.wait(0.1)
            taken = [self._free.pop() for _ in range(min(count, len(self._free)))]
            while len(taken) < count:
                self._made += 1
                taken.append(_aligned_buffer(self.size))
            return taken

    def give(self, buffer: mmap.mmap) -> None:
        with self._condition:
            self._free.append(buffer)
            self._condition.notify()


SHARED_POOL = BufferPool(COPY_CHUNK, POOL_BYTES // COPY_CHUNK)
VERIFY_POOL = BufferPool(VERIFY_CHUNK, VERIFY_POOL_BYTES // VERIFY_CHUNK)


def _advise(fd: int, offset: int, length: int, advice: int) -> None:
    with contextlib.suppress(OSError, AttributeError):  # advice only; a FUSE fd may refuse
        os.posix_fadvise(fd, offset, length, advice)


def _write_all(fd: int, chunk: memoryview) -> None:
    written = 0
    while written < len(chunk):
        written += os.write(fd, chunk[written:])


class _WriteBehind:
    """Write-back of a copy started as it goes, at most two windows of it dirty at once.

    Written through the page cache, the copy is merged by the kernel into large device
    requests (on the virtio disk measured, 1.1–1.5 GB/s against 0.4–0.6 GB/s for 1–8 MiB
    ``O_DIRECT`` writes, three or four in flight: ``benchmarks/bench_ingest.py``). Left to
    itself the kernel would let gigabytes go dirty and write them in a storm at the fsync;
    so each window is handed to write-back as soon as it is written
    (``sync_file_range(WRITE)``), the window before it is waited for and dropped from the
    cache (it is re-read from the device by the verification, never from memory). The
    caller's fsync is still what makes the file durable; this only spreads the work.
    """

    WINDOW = 8 * 1024 * 1024

    def __init__(self, fd: int, start: int) -> None:
        self.fd = fd
        self.start = self.written = start
        self.previous: tuple[int, int] | None = None

    def wrote(self, count: int) -> None:
        self.written += count
        if self.written - self.start < self.WINDOW:
            return
        _sync_file_range(self.fd, self.start, self.written - self.start, _SFR_WRITE)
        if self.previous is not None:
            offset, length = self.previous
            _sync_file_range(self.fd, offset, length, _SFR_WAIT_BEFORE | _SFR_WRITE | _SFR_WAIT_AFTER)
            _advise(self.fd, offset, length, os.POSIX_FADV_DONTNEED)
        self.previous = (self.start, self.written - self.start)
        self.start = self.written


_SFR_WAIT_BEFORE, _SFR_WRITE, _SFR_WAIT_AFTER = 1, 2, 4


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.sync_file_range
    except (OSError, AttributeError):  # not Linux: the fsync alone does the work
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int
    return call


_SYNC_FILE_RANGE = _load_sync_file_range()


def _sync_file_range(fd: int, offset: int, length: int, flags: int) -> None:
    """Linux ``sync_file_range(2)``; an error is the disk's (EIO) and fails the copy."""
    if _SYNC_FILE_RANGE is None:
        return
    if _SYNC_FILE_RANGE(fd, offset, length, flags) != 0:
        code = ctypes.get_errno()
        if code in (errno.ENOSYS, errno.EINVAL, errno.ESPIPE):  # not supported here
            return
        raise OSError(code, os.strerror(code))


def copy_and_hash(
    source_fd: int,
    dest_fd: int,
    *,
    progress: Progress | None = None,
    chunk_size: int = COPY_CHUNK,
    depth: int = COPY_DEPTH,
    write_behind: bool = False,
    pace: Progress | None = None,
) -> Digest:
    """Copy ``source_fd`` to ``dest_fd`` from their current offsets, hashing on the way.

    ``pace(chunk_size)`` is called by the reader before each read and may block (a dock
    waiting for its turn with a copy slot): it is called before a buffer is taken, so a
    copy that waits holds no buffer of the shared pool once its read-ahead is consumed.

    A reader thread keeps chunks read ahead, so the camera (USB, FUSE) is read while the
    previous chunk is hashed and written. Chunks are hashed strictly in order and every
    byte written went through the hash; the source is read exactly once.

    With ``write_behind`` the destination's write-back is started window by window as
    the copy goes and the copy does not stay in the page cache (:class:`_WriteBehind`):
    no write-back storm at the fsync, no page-cache memory for footage that the
    verification re-reads from the device anyway. The caller still fsyncs: that makes
    the data and size durable and flushes the device's write cache.

    Raises :class:`SourceReadError` or :class:`DestinationWriteError` so the caller can
    tell "the camera failed" from "our disk failed" — the two need different advice.
    """
    if chunk_size % _ALIGN:
        raise ValueError(f"chunk_size must be a multiple of {_ALIGN}")
    pool = SHARED_POOL if chunk_size == SHARED_POOL.size else BufferPool(chunk_size, depth)
    held = threading.Semaphore(max(2, depth))  # this copy's share of the pool
    dest_start = _tell(dest_fd) if write_behind else None
    behind = _WriteBehind(dest_fd, dest_start) if dest_start is not None else None
    _advise(source_fd, 0, 0, getattr(os, "POSIX_FADV_SEQUENTIAL", 2))
    filled: queue.Queue[tuple[mmap.mmap | None, int, OSError | None]] = queue.Queue()
    stop = threading.Event()
    source_start = _tell(source_fd)

    def give_back(buffer: mmap.mmap) -> None:
        pool.give(buffer)
        held.release()

    def reader() -> None:
        while True:
            if pace is not None:
                pace(chunk_size)
                if stop.is_set():
                    return
            while not held.acquire(timeout=0.1):
                if stop.is_set():
                    return
            buffer = pool.take(stop)
            if buffer is None:
                held.release()
                return
            try:
                count = os.readv(source_fd, [buffer])
            except OSError as err:
                give_back(buffer)
                filled.put((None, 0, err))
                return
            if count == 0:
                give_back(buffer)
                filled.put((None, 0, None))
                return
            filled.put((buffer, count, None))
            if stop.is_set():
                return

    # No fallocate up front: a disk filling during the copy must fail this copy's write
    # (ENOSPC, "store full"), not the ledger event after it.
    thread = threading.Thread(target=reader, name="copy-read", daemon=True)
    thread.start()
    digest = hashlib.sha256()
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
                with memoryview(ready)[:count] as chunk:
                    _write_all(dest_fd, chunk)
                if behind is not None:
                    behind.wrote(count)
            except OSError as err:
                raise DestinationWriteError(err) from err
            finally:
                give_back(ready)
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
        thread.join()
        while True:  # chunks read ahead but not consumed (an error stopped us)
            try:
                leftover, _, _ = filled.get_nowait()
            except queue.Empty:
                break
            if leftover is not None:
                give_back(leftover)
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
    shared = chunk_size == VERIFY_POOL.size and depth <= VERIFY_POOL.limit
    buffers = VERIFY_POOL.take_many(depth) if shared else \
        [_aligned_buffer(chunk_size) for _ in range(depth)]
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
            if shared:
                VERIFY_POOL.give(buffer)
            else:
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


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
"""Buffers one copy may hold: read ahead of the hash, and ``O_DIRECT`` writes in flight."""

WRITERS = 3
"""``O_DIRECT`` writes in flight per copy: one synchronous write at a time leaves the device
idle between requests; three keep its queue busy (~2× on the disk measured)."""

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


def _pwrite_all(fd: int, chunk: memoryview, offset: int) -> None:
    written = 0
    while written < len(chunk):
        written += os.pwrite(fd, chunk[written:], offset + written)


class _Writers:
    """``O_DIRECT`` writes of whole chunks at their offsets, a few in flight."""

    def __init__(self, fd: int, count: int, done: Callable[[mmap.mmap], None]) -> None:
        self.fd = fd
        self.done = done
        self.jobs: queue.Queue[tuple[mmap.mmap, int, int] | None] = queue.Queue()
        self.error: OSError | None = None
        self.pending = 0
        self.condition = threading.Condition()
        self.threads = [threading.Thread(target=self._run, name="copy-write", daemon=True)
                        for _ in range(count)]
        for thread in self.threads:
            thread.start()

    def submit(self, buffer: mmap.mmap, count: int, offset: int) -> None:
        with self.condition:
            self.pending += 1
        self.jobs.put((buffer, count, offset))

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            buffer, count, offset = job
            try:
                if self.error is None:
                    with memoryview(buffer)[:count] as chunk:
                        _pwrite_all(self.fd, chunk, offset)
            except OSError as err:
                self.error = self.error or err
            finally:
                self.done(buffer)
                with self.condition:
                    self.pending -= 1
                    self.condition.notify_all()

    def drain(self) -> None:
        """Wait until every submitted write is done; raise the first write error."""
        with self.condition:
            while self.pending:
                self.condition.wait()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        for _ in self.threads:
            self.jobs.put(None)
        for thread in self.threads:
            thread.join()


def copy_and_hash(
    source_fd: int,
    dest_fd: int,
    *,
    progress: Progress | None = None,
    chunk_size: int = COPY_CHUNK,
    depth: int = COPY_DEPTH,
    direct_write: bool = False,
    pace: Progress | None = None,
) -> Digest:
    """Copy ``source_fd`` to ``dest_fd`` from their current offsets, hashing on the way.

    ``pace(chunk_size)`` is called by the reader before each read and may block (a dock
    waiting for its turn with a copy slot): it is called before a buffer is taken, so a
    copy that waits holds no buffer of the shared pool once its read-ahead is consumed.

    A reader thread keeps chunks read ahead, so the camera (USB, FUSE) is read while the
    previous chunk is hashed and written. Chunks are hashed strictly in order and every
    byte written went through the hash; the source is read exactly once.

    With ``direct_write`` the destination is written with ``O_DIRECT`` (whole blocks, a
    few writes in flight at their offsets; the unaligned tail through the page cache),
    where the filesystem allows it: the copy does not go through dirty page cache (no
    write-back storm, no page-cache memory for footage that is re-read from disk anyway),
    and the verifying ``O_DIRECT`` re-read then reads what the device holds. The caller
    still fsyncs: that makes the file size and any cached tail durable and flushes the
    device's write cache.

    Raises :class:`SourceReadError` or :class:`DestinationWriteError` so the caller can
    tell "the camera failed" from "our disk failed" — the two need different advice.
    """
    if chunk_size % _ALIGN:
        raise ValueError(f"chunk_size must be a multiple of {_ALIGN}")
    pool = SHARED_POOL if chunk_size == SHARED_POOL.size else BufferPool(chunk_size, depth)
    held = threading.Semaphore(max(2, depth))  # this copy's share of the pool
    dest_start = _tell(dest_fd) if direct_write else None
    direct = dest_start is not None and dest_start % _ALIGN == 0 and _set_direct(dest_fd, True)
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
    writers = _Writers(dest_fd, WRITERS, give_back) if direct else None
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
                if writers is not None and dest_start is not None and count % _ALIGN == 0:
                    writers.submit(ready, count, dest_start + total)
                    ready = None
                else:  # the unaligned tail, or no O_DIRECT here: through the page cache
                    if writers is not None and dest_start is not None:
                        writers.drain()
                        direct = _set_direct(dest_fd, False)
                        with memoryview(ready)[:count] as chunk:
                            _pwrite_all(dest_fd, chunk, dest_start + total)
                    else:
                        with memoryview(ready)[:count] as chunk:
                            _write_all(dest_fd, chunk)
            except OSError as err:
                raise DestinationWriteError(err) from err
            finally:
                if ready is not None:
                    give_back(ready)
            total += count
            if source_start is not None and total - advised >= _ADVISE_EVERY:
                # What was copied is not needed in the camera's page cache again.
                _advise(source_fd, source_start + advised, total - advised,
                        os.POSIX_FADV_DONTNEED)
                advised = total
            if progress is not None:
                progress(count)
        if writers is not None:
            try:
                writers.drain()
            except OSError as err:
                raise DestinationWriteError(err) from err
            if dest_start is not None:
                os.lseek(dest_fd, dest_start + total, os.SEEK_SET)
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
        if writers is not None:
            with contextlib.suppress(OSError):
                writers.drain()
            writers.close()
        if direct_write:
            _set_direct(dest_fd, False)
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


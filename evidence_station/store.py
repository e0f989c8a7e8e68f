"""Content-addressed store of original recordings (invariant 2: write once, by SHA-256).

``objects/ab/cd/<sha256>`` is the only name a recording has here. A file gets there by
being copied into ``tmp/`` while hashed, fsynced, re-read from disk and checked, made
read-only, and renamed into place with the directory fsynced. Anything in ``tmp/`` is by
definition not stored and is removed when the store is opened for writing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from evidence_station.errors import IntegrityAlarm, StoreFullError, StoreIOError
from evidence_station.i18n import human_bytes
from hashing.durable import fsync_directory, make_directories_durably, make_read_only_durably
from hashing.stream import (
    DestinationWriteError,
    Digest,
    Progress,
    SourceReadError,
    copy_and_hash,
    hash_file_from_disk,
)

READ_ONLY = 0o444


class CopyMismatchAlarm(IntegrityAlarm):
    """This one copy re-read differently from what was hashed while copying: the copy is
    discarded and the camera untouched. An alarm about the store disk, but about this
    file only — the next file is copied and verified on its own (issue 16)."""


@dataclass(frozen=True)
class Staged:
    """A copy in ``tmp/``: fsynced, hashed while copying, not yet verified or stored."""

    temp_path: Path
    digest: Digest


@dataclass(frozen=True)
class Stored:
    path: Path
    digest: Digest
    already_present: bool


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = root / "objects"
        self.tmp = root / "tmp"
        self._publish_lock = threading.Lock()

    @classmethod
    def create(cls, root: Path) -> Store:
        for directory in (root, root / "objects", root / "tmp"):
            make_directories_durably(directory)  # names fsynced: a cut keeps objects/
        return cls(root)

    def path_for(self, sha256: str) -> Path:
        return self.objects / sha256[:2] / sha256[2:4] / sha256

    def has(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def free_bytes(self) -> int:
        stats = os.statvfs(self.root)
        return stats.f_bavail * stats.f_frsize

    def remove_leftover_temps(self) -> int:
        """Delete copies an interrupted run left in ``tmp/`` (never counted as stored)."""
        removed = 0
        for entry in self.tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
                removed += 1
        return removed

    def ensure_room(self, size: int, *, reserve: int, file_label: str) -> None:
        free = self.free_bytes()
        if free - size < reserve:
            raise StoreFullError(
                file=file_label, needed=human_bytes(size + reserve), store=self.root,
                free=human_bytes(free),
            )

    def stage(self, source_fd: int, *, file_label: str, progress: Progress | None = None,
              pace: Progress | None = None) -> Staged:
        """Copy from ``source_fd`` into a temp file, hashing on the way, and fsync it.

        On any failure the temp file is removed before the exception propagates.
        Source read errors propagate as :class:`hashing.stream.SourceReadError`.
        """
        temp_path = self.tmp / f"{secrets.token_hex(8)}.partial"
        try:
            fd = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except OSError as err:  # no inode left, or the store disk failing: say which
            raise self._write_error(err, file_label) from err
        try:
            try:
                digest = copy_and_hash(source_fd, fd, progress=progress, write_behind=True,
                                       pace=pace)
                os.fsync(fd)
                # the copy is re-read from the device (O_DIRECT): its pages need not stay
                with contextlib.suppress(OSError):
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            except DestinationWriteError as err:
                raise self._write_error(err.cause, file_label) from err
            except SourceReadError:
                raise
            except OSError as err:  # fsync of the temp file: our disk, not the camera
                raise self._write_error(err, file_label) from err
        except BaseException:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                temp_path.unlink()
            raise
        os.close(fd)
        return Staged(temp_path, digest)

    def _write_error(self, err: OSError, file_label: str) -> Exception:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            return StoreFullError(
                file=file_label, needed="?", store=self.root, free=human_bytes(self.free_bytes())
            )
        return StoreIOError(store=self.root, file=file_label, detail=os.strerror(err.errno or 0))

    def discard(self, staged: Staged) -> None:
        with contextlib.suppress(FileNotFoundError):
            staged.temp_path.unlink()

    def verify_and_publish(self, staged: Staged, *, progress: Progress | None = None) -> Stored:
        """Re-read the staged bytes from disk, then give them their permanent name.

        If the content is already stored, the existing object is re-read and checked
        too; a mismatch there is an integrity alarm and nothing is replaced.
        """
        digest = staged.digest
        try:
            reread = hash_file_from_disk(staged.temp_path, progress=progress)
        except OSError as err:
            self.discard(staged)
            raise StoreIOError(store=self.root, file=staged.temp_path.name,
                               detail=f"re-reading the copy: {os.strerror(err.errno or 0)}") from err
        if reread != digest:
            self.discard(staged)
            raise CopyMismatchAlarm(
                detail=f"the store disk returned different bytes than were written "
                f"({reread.sha256} != {digest.sha256}); the copy was discarded, the camera is "
                "untouched. Check the store disk before ingesting again."
            )
        target = self.path_for(digest.sha256)
        with self._publish_lock:  # two docks may bring the same content at once
            return self._publish(staged, target)

    def _publish(self, staged: Staged, target: Path) -> Stored:
        digest = staged.digest
        if target.exists():
            try:
                existing = hash_file_from_disk(target)
                # An earlier attempt may have renamed it and failed before the directory
                # fsync: make the name durable now, before the caller records the event.
                fsync_directory(target.parent)
            except OSError as err:
                self.discard(staged)
                raise StoreIOError(
                    store=self.root, file=str(target),
                    detail=f"re-reading the stored object: {os.strerror(err.errno or 0)}; run "
                    "`evidence-station check --verify-data`") from err
            self.discard(staged)
            if existing != digest:
                raise IntegrityAlarm(
                    detail=f"stored object {target} no longer matches its name "
                    f"(hashes to {existing.sha256}); it was not replaced. Run "
                    "`evidence-station check --verify-data`."
                )
            return Stored(target, digest, already_present=True)
        try:
            # Invariant 2 / DESIGN.md "Durable means fsynced": the mode 0444 is the file's
            # last change, fsynced before the rename; then the name, by its directory.
            make_read_only_durably(staged.temp_path, READ_ONLY)
            for directory in (target.parent.parent, target.parent):
                if not directory.exists():
                    directory.mkdir(exist_ok=True)
                    fsync_directory(directory.parent)
            os.rename(staged.temp_path, target)
            fsync_directory(target.parent)
        except OSError as err:
            # Not stored: the previous durable state (no object under this name, or one
            # whose name is not yet durable and is re-published by the next attempt).
            self.discard(staged)
            raise self._publish_error(err, target) from err
        return Stored(target, digest, already_present=False)

    def _publish_error(self, err: OSError, target: Path) -> Exception:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            return StoreFullError(file=str(target), needed="?", store=self.root,
                                  free=human_bytes(self.free_bytes()))
        return StoreIOError(store=self.root, file=str(target),
                            detail=f"storing the copy: {os.strerror(err.errno or 0)}")

    def iter_objects(self) -> Iterator[Path]:
        for first in sorted(self.objects.iterdir()):
            if not first.is_dir():
                yield first
                continue
            for second in sorted(first.iterdir()):
                if not second.is_dir():
                    yield second
                    continue
                yield from sorted(second.iterdir())


"""List a camera's files without ever leaving its root or writing to it.

The walk uses directory file descriptors and ``openat`` with ``O_NOFOLLOW``: a symlink
(to ``/etc``, to ``..``, to another file on the card) is never followed, whatever races
happen while we walk, and names are kept as the exact bytes the filesystem returned
(GBK names from Chinese cameras included). Every file that is not taken is reported
with the reason, so a receipt can say what was left on the camera and why.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


@dataclass(frozen=True)
class CameraFile:
    rel_path: bytes  # components joined by b"/", exactly as on the camera
    size: int
    mtime_ns: int

    @property
    def name(self) -> bytes:
        return self.rel_path.rsplit(b"/", 1)[-1]


@dataclass(frozen=True)
class SkippedEntry:
    rel_path: bytes
    reason: str  # symlink | special_file | unreadable_dir | not_recording | bad_name
    detail: str = ""


@dataclass
class Listing:
    files: list[CameraFile] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)


def display_path(raw: bytes) -> str:
    """A readable form of a camera path: UTF-8, else GBK (common on Chinese cameras),
    else UTF-8 with the undecodable bytes shown as ``\\xNN``. The raw bytes are kept
    separately; this is only for people to read."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gbk")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="backslashreplace")


def _valid_component(name: bytes) -> bool:
    return name not in (b"", b".", b"..") and b"/" not in name and b"\0" not in name


def _open_dir_at(dir_fd: int | None, name: bytes | str) -> int:
    return os.open(
        name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd
    )


def list_camera(root: Path, extensions: Iterable[str]) -> Listing:
    """Every regular file under ``root`` with a recording extension, in path order."""
    wanted = {("." + ext.lower().lstrip(".")).encode() for ext in extensions}
    listing = Listing()
    root_fd = _open_dir_at(None, os.fsencode(root))
    try:
        _walk(root_fd, b"", wanted, listing)
    finally:
        os.close(root_fd)
    listing.files.sort(key=lambda item: item.rel_path)
    return listing


def _walk(dir_fd: int, prefix: bytes, wanted: set[bytes], listing: Listing) -> None:
    try:
        names = sorted(os.listdir(dir_fd))
    except OSError as err:
        listing.skipped.append(SkippedEntry(prefix, "unreadable_dir", os.strerror(err.errno or 0)))
        return
    for name in names:
        raw = os.fsencode(name) if isinstance(name, str) else name
        rel = prefix + b"/" + raw if prefix else raw
        if not _valid_component(raw):
            listing.skipped.append(SkippedEntry(rel, "bad_name"))
            continue
        try:
            info = os.stat(raw, dir_fd=dir_fd, follow_symlinks=False)
        except OSError as err:
            listing.skipped.append(SkippedEntry(rel, "unreadable_dir", os.strerror(err.errno or 0)))
            continue
        if stat.S_ISLNK(info.st_mode):
            target = os.readlink(raw, dir_fd=dir_fd)
            listing.skipped.append(SkippedEntry(rel, "symlink", display_path(os.fsencode(target))))
        elif stat.S_ISDIR(info.st_mode):
            try:
                child = _open_dir_at(dir_fd, raw)
            except OSError as err:
                listing.skipped.append(
                    SkippedEntry(rel, "unreadable_dir", os.strerror(err.errno or 0))
                )
                continue
            try:
                _walk(child, rel, wanted, listing)
            finally:
                os.close(child)
        elif not stat.S_ISREG(info.st_mode):
            listing.skipped.append(SkippedEntry(rel, "special_file"))
        elif os.path.splitext(raw)[1].lower() not in wanted:
            listing.skipped.append(SkippedEntry(rel, "not_recording"))
        else:
            listing.files.append(CameraFile(rel, info.st_size, info.st_mtime_ns))


def open_camera_file(root: Path, rel_path: bytes) -> int:
    """Open ``rel_path`` under ``root`` read-only, refusing symlinks at every step.

    ``O_NOATIME`` where allowed, so not even the access time on the camera changes.
    """
    parts = rel_path.split(b"/")
    if not all(_valid_component(part) for part in parts):
        raise OSError(errno.EINVAL, f"unsafe camera path {display_path(rel_path)!r}")
    dir_fd = _open_dir_at(None, os.fsencode(root))
    try:
        for part in parts[:-1]:
            child = _open_dir_at(dir_fd, part)
            os.close(dir_fd)
            dir_fd = child
        try:
            fd = os.open(parts[-1], OPEN_FLAGS | os.O_NOATIME, dir_fd=dir_fd)
        except PermissionError:
            fd = os.open(parts[-1], OPEN_FLAGS, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, f"{display_path(rel_path)!r} is no longer a regular file")
    os.set_blocking(fd, True)
    return fd

"""Durable writes, spelled out once (the sunlight ``internal/durable`` habit).

A write counts only after the data *and* the directory entry that names it have been
fsynced: write a temp file in the same directory, fsync it, rename it over the target,
fsync the directory. Store, ledger, keys and checkpoints all go through here.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make a rename or a new name in ``directory`` survive a power cut."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_durably(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> None:
    """Atomically replace ``path`` with ``data``; after return it is on disk.

    Either the old content or the new content is visible after a crash, never a mix.
    The temp file is created with ``mode`` from the start so a secret key is never
    briefly world-readable.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        # The mode (the umask may have narrowed it at create) is the file's last change,
        # so the one fsync below makes data and mode durable together; a chmod after the
        # fsync would be lost at a power cut (DESIGN.md, "Durable means fsynced").
        os.fchmod(fd, mode)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, target)
    except BaseException as err:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError) and not isinstance(err, DurableWriteError):
            raise DurableWriteError(target, err) from err
        raise
    try:
        fsync_directory(target.parent)
    except OSError as err:
        raise DurableWriteError(target, err) from err


class DurableWriteError(OSError):
    """A durable write failed; names the file (``os.write``/``fsync`` errors do not).
    The previous content of the file, if any, is what stays (the temp file is removed)."""

    def __init__(self, target: Path, cause: OSError) -> None:
        super().__init__(cause.errno, f"writing {target} failed: "
                         f"{os.strerror(cause.errno) if cause.errno else cause}", str(target))
        self.target = target

    def __str__(self) -> str:
        return str(self.strerror)


def make_directories_durably(path: str | os.PathLike[str], mode: int = 0o777) -> None:
    """``mkdir -p`` whose new names survive a power cut (``mode`` for the last one, as
    ``Path.mkdir(parents=True)``): each directory created here is
    named durably by an fsync of its parent (DESIGN.md: a name by its directory's fsync).
    Without it a cut can take ``store/objects`` away with every name under it."""
    target = Path(path)
    missing: list[Path] = []
    probe = target
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=mode if directory == target else 0o777)  # as mkdir -p
        fsync_directory(directory.parent)


_TEMP_NAME = re.compile(r"^\..+\.tmp-(\d+)$")


def remove_stale_temps(root: str | os.PathLike[str], *, skip: frozenset[str] = frozenset()
                       ) -> list[Path]:
    """Remove the temp files of :func:`write_file_durably` calls a killed process never
    finished (issue 22, crash points: a kill between the write and the rename left
    ``ledger/.checkpoint.tmp-PID`` behind for ever). A temp counts as stale when the
    process named in it is gone; ``skip`` names top-level folders not to walk (the store's
    objects: nothing there is written this way, and they are many)."""
    removed = []
    base = Path(root)
    for directory, dirnames, filenames in os.walk(base):
        if Path(directory) == base:
            dirnames[:] = [name for name in dirnames if name not in skip]
        for name in filenames:
            match = _TEMP_NAME.match(name)
            if match is None or _process_alive(int(match.group(1))):
                continue
            path = Path(directory) / name
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def make_read_only_durably(path: str | os.PathLike[str], mode: int = 0o444) -> None:
    """Set ``mode`` on a written file and fsync it, so the mode survives a power cut
    (an fsync of the data before a chmod does not cover the chmod)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)


def write_files_durably(files: list[tuple[Path, bytes]], *, mode: int = 0o644) -> None:
    """Atomically replace each ``path`` with its ``data``, in order, with as few waits for
    the disk as that order allows (issue 16: a checkpoint after a session wrote two files
    one after the other, four fsyncs each waiting for the file system's journal).

    Every temp file is written and fsynced first, the fsyncs issued together from threads
    (the journal commits them at once, one wait instead of one per file); then each temp
    is renamed over its target and the target's directory fsynced before the next rename,
    so file k is durably in place before file k+1 can be (a reader of the later file may
    rely on the earlier one: the checkpoint history entry before ``latest``). Durable is
    still file fsync + directory fsync per file (DESIGN.md, "Durable means fsynced").

    A failure before the first rename leaves every target as it was (the temps are
    removed); a failure at file k leaves files before k written and k onwards as they
    were, and raises :class:`DurableWriteError` naming file k."""
    from concurrent.futures import ThreadPoolExecutor

    temps: list[tuple[Path, Path, int]] = []  # (target, temp, fd or -1 once closed)
    try:
        for path, data in files:
            target = Path(path)
            tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
            except OSError as err:
                raise DurableWriteError(target, err) from err
            temps.append((target, tmp, fd))
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fchmod(fd, mode)  # the mode before the fsync, as write_file_durably
            except OSError as err:
                raise DurableWriteError(target, err) from err

        def sync(item: tuple[Path, Path, int]) -> None:
            try:
                os.fsync(item[2])
            except OSError as err:
                raise DurableWriteError(item[0], err) from err

        if len(temps) > 1:
            with ThreadPoolExecutor(len(temps)) as pool:
                for done in [pool.submit(sync, item) for item in temps]:
                    done.result()
        else:
            for item in temps:
                sync(item)
        for index, (target, tmp, fd) in enumerate(temps):
            os.close(fd)
            temps[index] = (target, tmp, -1)
    except BaseException:
        for _target, tmp, fd in temps:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    for index, (target, tmp, _fd) in enumerate(temps):
        try:
            os.replace(tmp, target)
            fsync_directory(target.parent)
        except OSError as err:
            for _later, later_tmp, _ in temps[index:]:
                with contextlib.suppress(OSError):
                    os.unlink(later_tmp)
            raise DurableWriteError(target, err) from err

"""Durable writes, spelled out once (the sunlight ``internal/durable`` habit).

A write counts only after the data *and* the directory entry that names it have been
fsynced: write a temp file in the same directory, fsync it, rename it over the target,
fsync the directory. Store, ledger, keys and checkpoints all go through here.
"""

from __future__ import annotations

import contextlib
import os
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
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, target)
    fsync_directory(target.parent)

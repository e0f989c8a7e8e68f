"""A small read-only FUSE passthrough filesystem for fault injection (fusepy + libfuse2).

Serves a real directory and, on request, fails for real through the kernel:
``--eio REL:START:END`` makes reads of that byte range of REL fail with EIO (a bad
sector on a camera card); ``--die-after N`` makes the filesystem process exit once it
has served N bytes, so further reads fail with ENOTCONN — what a reader sees when a
camera is unplugged mid-copy. Run: ``python tests/fusefs.py SOURCE MOUNTPOINT [...]``.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from typing import Any

from fuse import FUSE, FuseOSError, Operations  # type: ignore[import-untyped]


class FaultyPassthrough(Operations):  # type: ignore[misc]
    def __init__(self, root: str, eio: dict[str, tuple[int, int]], die_after: int | None) -> None:
        self.root = root
        self.eio = eio
        self.die_after = die_after
        self.served = 0

    def _full(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
        info = os.lstat(self._full(path))
        return {key: getattr(info, key) for key in (
            "st_atime", "st_ctime", "st_gid", "st_mode", "st_mtime", "st_nlink", "st_size",
            "st_uid")}

    def readdir(self, path: str, fh: Any) -> list[str]:
        return [".", "..", *os.listdir(self._full(path))]

    def readlink(self, path: str) -> str:
        return os.readlink(self._full(path))

    def open(self, path: str, flags: int) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR):
            raise FuseOSError(errno.EROFS)
        return os.open(self._full(path), os.O_RDONLY)

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        bad = self.eio.get(path.lstrip("/"))
        if bad is not None and offset < bad[1] and offset + size > bad[0]:
            raise FuseOSError(errno.EIO)
        if self.die_after is not None and self.served >= self.die_after:
            os._exit(0)  # the "camera" is gone
        os.lseek(fh, offset, os.SEEK_SET)
        data = os.read(fh, size)
        self.served += len(data)
        return data

    def release(self, path: str, fh: int) -> None:
        os.close(fh)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("source")
    parser.add_argument("mountpoint")
    parser.add_argument("--eio", action="append", default=[])
    parser.add_argument("--die-after", type=int, default=None)
    args = parser.parse_args()
    eio = {}
    for spec in args.eio:
        rel, start, end = spec.rsplit(":", 2)
        eio[rel] = (int(start), int(end))
    FUSE(FaultyPassthrough(args.source, eio, args.die_after), args.mountpoint, foreground=True,
         ro=True, nothreads=True, direct_io=True)
    sys.exit(0)


if __name__ == "__main__":
    main()

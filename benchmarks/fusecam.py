"""A simulated camera: a read-only FUSE passthrough throttled to a bus speed (fusepy).

``python benchmarks/fusecam.py SOURCE MOUNTPOINT --mb-s 35`` serves SOURCE at no more than
35 MB/s (a USB 2.0 body-worn camera in practice; USB 3 cameras ~100+ MB/s). The throttle
is the bus itself: each request's bytes arrive when the bus, free again, would have
carried them, so a reader sees a steady bus-limited stream whatever its request size,
and a camera left waiting gets no credit to burst above its bus afterwards. The time
between requests (the FUSE round trip, the reader's turn) is lost bus time too, as on a
bulk-only USB link: one reader of a 35 MB/s camera gets ~30 MB/s (105 MB in 3.5 s).
``direct_io`` so every read really goes through this process, as every read from a real
camera goes over its bus. ``fusecam.c`` is the same camera in C, at a third of the CPU.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import time
from typing import Any

from fuse import FUSE, FuseOSError, Operations  # type: ignore[import-untyped]


class ThrottledCamera(Operations):  # type: ignore[misc]
    def __init__(self, root: str, bytes_per_s: float) -> None:
        self.root = root
        self.rate = bytes_per_s
        self.bus_free = 0.0  # monotonic seconds: when the bus is done with what it carried

    def _full(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
        info = os.lstat(self._full(path))
        return {key: getattr(info, key) for key in (
            "st_atime", "st_ctime", "st_gid", "st_mode", "st_mtime", "st_nlink", "st_size",
            "st_uid")}

    def readdir(self, path: str, fh: Any) -> list[str]:
        return [".", "..", *os.listdir(self._full(path))]

    def open(self, path: str, flags: int) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR):
            raise FuseOSError(errno.EROFS)
        return os.open(self._full(path), os.O_RDONLY)

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        data = os.pread(fh, size, offset)
        # The bus carries these bytes once it is free, at its speed: hand them over when they
        # would arrive. Time the bus sat idle is lost, never credited (no burst above it).
        start = time.monotonic()
        self.bus_free = max(self.bus_free, start) + len(data) / self.rate
        time.sleep(self.bus_free - start)
        return data

    def release(self, path: str, fh: int) -> None:
        os.close(fh)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("source")
    parser.add_argument("mountpoint")
    parser.add_argument("--mb-s", type=float, default=35.0, help="bus speed, MB/s (10^6 B/s)")
    args = parser.parse_args()
    FUSE(ThrottledCamera(args.source, args.mb_s * 1e6), args.mountpoint, foreground=True,
         ro=True, nothreads=True, direct_io=True)
    sys.exit(0)


if __name__ == "__main__":
    main()

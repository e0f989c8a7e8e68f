"""A read-write FUSE passthrough that fails on command: EIO or ENOSPC, per path and per
operation, through the real kernel (fusepy + libfuse2). Issue 22: "EIO on the store, the
ledger and the catalog via a FUSE fault filesystem that fails a byte range or a path on
command".

Run: ``python tests/faults/iofaultfs.py SOURCE MOUNTPOINT [--log FILE]``. Commands come on
stdin, one a line, and each is answered ``ok`` on stdout once in force:

- ``fail OP ERRNO GLOB [START END]`` — operation OP (``read``, ``write``, ``fsync``,
  ``create``, ``rename``, ``chmod``, ``truncate``, ``mkdir``, ``unlink`` or ``*``) on a
  path matching GLOB (relative, fnmatch) fails with ERRNO (``EIO``, ``ENOSPC``); for
  ``read``/``write`` only when it touches bytes [START, END). ERRNO ``SHORT`` (writes
  only): the first write stores half its bytes and reports that, every later one fails
  with ENOSPC — the half-written append of a disk filling up.
- ``failonce OP ERRNO GLOB`` — the same, for the first matching operation only: the
  fault then clears by itself (a transient error, whatever thread meets it first).
- ``hang read GLOB`` — reads of GLOB block until ``clear`` (a camera whose helper hangs).
- ``clear`` — no more faults; hung reads go on.
- ``count`` — answers ``ok N``: how many operations failed so far.

``--log FILE`` appends ``op path [detail]`` for every create, write, fsync, chmod, rename
and unlink, in the order the kernel sent them: what the tests read to check the order of
durable writes (mode fsynced before the rename).
"""

from __future__ import annotations

import argparse
import errno
import fnmatch
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any

from fuse import FUSE, FuseOSError, Operations  # type: ignore[import-untyped]

SHORT = -1  # not an errno: a short write, then ENOSPC


@dataclass
class Fault:
    op: str
    code: int
    pattern: str
    start: int | None = None
    end: int | None = None
    used: bool = False
    once: bool = False

    def hits(self, op: str, path: str, offset: int | None = None, size: int | None = None) -> bool:
        if self.op not in ("*", op) or not fnmatch.fnmatchcase(path, self.pattern):
            return False
        if self.start is None or self.end is None or offset is None or size is None:
            return True
        return offset < self.end and offset + size > self.start


class FaultyFS(Operations):  # type: ignore[misc]
    def __init__(self, root: str, log: str | None) -> None:
        self.root = root
        self.faults: list[Fault] = []
        self.hung: list[str] = []
        self.released = threading.Event()
        self.failed = 0
        self.mutex = threading.Lock()
        self.log = open(log, "a", buffering=1, encoding="utf-8") if log else None  # noqa: SIM115

    # -- faults -------------------------------------------------------------------------
    def _rel(self, path: str) -> str:
        return path.lstrip("/")

    def _check(self, op: str, path: str, offset: int | None = None,
               size: int | None = None) -> int | None:
        """Raise the fault that applies; for a SHORT write, return how much to write."""
        rel = self._rel(path)
        with self.mutex:
            for fault in self.faults:
                if fault.hits(op, rel, offset, size):
                    self.failed += 1
                    if fault.once:
                        self.faults.remove(fault)
                    if fault.code == SHORT:
                        if not fault.used and size:
                            fault.used = True
                            return size // 2
                        raise FuseOSError(errno.ENOSPC)
                    raise FuseOSError(fault.code)
            hang = op == "read" and any(fnmatch.fnmatchcase(rel, p) for p in self.hung)
        if hang:
            self.released.wait(timeout=300)  # never hang a test run forever
        return None

    def _note(self, op: str, path: str, detail: str = "") -> None:
        if self.log is not None:
            with self.mutex:
                self.log.write(f"{op} {self._rel(path)} {detail}".rstrip() + "\n")

    def command(self, line: str) -> str:
        words = line.split()
        if not words:
            return "ok"
        with self.mutex:
            if words[0] in ("fail", "failonce"):
                op, pattern = words[1], words[3]
                code = SHORT if words[2] == "SHORT" else getattr(errno, words[2])
                start = int(words[4]) if len(words) > 5 else None
                end = int(words[5]) if len(words) > 5 else None
                self.faults.append(Fault(op, code, pattern, start, end,
                                         once=words[0] == "failonce"))
            elif words[0] == "hang":
                self.released.clear()
                self.hung.append(words[2])
            elif words[0] == "clear":
                self.faults = []
                self.hung = []
                self.released.set()
            elif words[0] == "count":
                return f"ok {self.failed}"
            else:
                return f"error unknown command {words[0]!r}"
        return "ok"

    # -- passthrough ------------------------------------------------------------------------
    def _full(self, path: str) -> str:
        return os.path.join(self.root, self._rel(path))

    def access(self, path: str, amode: int) -> None:
        if not os.access(self._full(path), amode):
            raise FuseOSError(errno.EACCES)

    def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
        info = os.lstat(self._full(path))
        return {key: getattr(info, key) for key in (
            "st_atime", "st_ctime", "st_gid", "st_mode", "st_mtime", "st_nlink", "st_size",
            "st_uid", "st_ino")}

    def readdir(self, path: str, fh: Any) -> list[str]:
        return [".", "..", *os.listdir(self._full(path))]

    def readlink(self, path: str) -> str:
        return os.readlink(self._full(path))

    def statfs(self, path: str) -> dict[str, Any]:
        info = os.statvfs(self._full(path))
        return {key: getattr(info, key) for key in (
            "f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files",
            "f_flag", "f_frsize", "f_namemax")}

    def chmod(self, path: str, mode: int) -> None:
        self._check("chmod", path)
        os.chmod(self._full(path), mode)
        self._note("chmod", path, oct(mode & 0o7777))

    def chown(self, path: str, uid: int, gid: int) -> None:
        os.chown(self._full(path), uid, gid)

    def mkdir(self, path: str, mode: int) -> None:
        self._check("mkdir", path)
        os.mkdir(self._full(path), mode)
        self._note("mkdir", path)

    def rmdir(self, path: str) -> None:
        os.rmdir(self._full(path))

    def unlink(self, path: str) -> None:
        self._check("unlink", path)
        os.unlink(self._full(path))
        self._note("unlink", path)

    def rename(self, old: str, new: str) -> None:
        self._check("rename", new)
        os.rename(self._full(old), self._full(new))
        self._note("rename", old, self._rel(new))

    def link(self, target: str, name: str) -> None:
        os.link(self._full(name), self._full(target))

    def symlink(self, name: str, target: str) -> None:
        os.symlink(target, self._full(name))

    def utimens(self, path: str, times: Any = None) -> None:
        os.utime(self._full(path), times)

    def truncate(self, path: str, length: int, fh: Any = None) -> None:
        self._check("truncate", path)
        if fh is not None:
            os.ftruncate(fh, length)
        else:
            os.truncate(self._full(path), length)
        self._note("truncate", path, str(length))

    def open(self, path: str, flags: int) -> int:
        return os.open(self._full(path), flags & ~(os.O_APPEND | os.O_CREAT | os.O_EXCL))

    def create(self, path: str, mode: int, fi: Any = None) -> int:
        self._check("create", path)
        fd = os.open(self._full(path), os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
        self._note("create", path, oct(mode & 0o7777))
        return fd

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        self._check("read", path, offset, size)
        return os.pread(fh, size, offset)

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        short = self._check("write", path, offset, len(data))
        written = os.pwrite(fh, data if short is None else data[:short], offset)
        self._note("write", path, f"{offset}+{written}")
        return written

    def flush(self, path: str, fh: int) -> None:
        return None

    def fsync(self, path: str, datasync: int, fh: int) -> None:
        self._check("fsync", path)
        if datasync:
            os.fdatasync(fh)
        else:
            os.fsync(fh)
        self._note("fsync", path)

    def fsyncdir(self, path: str, datasync: int, fh: Any) -> None:
        self._check("fsync", path)
        fd = os.open(self._full(path), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._note("fsyncdir", path)

    def release(self, path: str, fh: int) -> None:
        os.close(fh)


def _commands(fs: FaultyFS) -> None:
    for line in sys.stdin:
        answer = fs.command(line)
        sys.stdout.write(answer + "\n")
        sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("source")
    parser.add_argument("mountpoint")
    parser.add_argument("--log", default=None)
    args = parser.parse_args()
    fs = FaultyFS(os.path.realpath(args.source), args.log)
    threading.Thread(target=_commands, args=(fs,), daemon=True).start()
    FUSE(fs, args.mountpoint, foreground=True, nothreads=False, default_permissions=True,
         use_ino=True, allow_other=False)
    sys.exit(0)


if __name__ == "__main__":
    main()

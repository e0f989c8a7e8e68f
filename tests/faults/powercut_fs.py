"""A FUSE filesystem that forgets, at a "power cut", everything fsync did not promise.

Run: ``python tests/faults/powercut_fs.py BACKING MOUNTPOINT STATE [--cut-after N]``.
Every operation passes through to BACKING, and beside it the filesystem keeps what a
power loss would leave of a POSIX filesystem that promises only what fsync promises:

* a file's data, size and mode are durable as of its last ``fsync``; ``fdatasync`` makes
  data and size durable but not a changed mode; a file never synced comes back empty with
  the mode it was created with;
* a directory's entries (create, mkdir, rename, unlink, rmdir) are durable as of the last
  fsync of *that directory*; a name never made durable is gone, an unlink never made
  durable is undone (the file comes back with its durable content);
* what existed at mount time is durable.

The cut comes at the N-th state-changing operation (create, mkdir, unlink, rmdir, rename,
write, truncate, chmod, fsync, fsyncdir): the calling process group is killed with SIGKILL
before the operation runs — it never gets an answer — and every later operation fails
with EIO. Without ``--cut-after`` (or with N larger than the run) the cut comes when the
filesystem is unmounted. Either way, on unmount BACKING is rewritten to exactly the
durable state, STATE/ops holds the number of state-changing operations seen and STATE/cut
says whether the cut came in the middle. Files are identified by node numbers of our own
(not the backing inode numbers, which the backing filesystem reuses).
"""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import signal
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fuse import FUSE, FuseOSError, Operations, fuse_get_context  # type: ignore[import-untyped]


@dataclass
class Node:
    is_dir: bool
    durable_mode: int
    blob: Path | None = None  # durable data (None: empty)
    entries: dict[str, int] = field(default_factory=dict)  # a directory's durable names


class PowerCut(Operations):  # type: ignore[misc]
    def __init__(self, backing: str, state: Path, cut_after: int | None) -> None:
        self.backing = backing
        self.state = state
        self.blobs = state / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.cut_after = cut_after
        self.ops = 0
        self.cut = False
        self.nodes: dict[int, Node] = {}
        self.live: dict[str, int] = {}  # path ("/" rooted) -> node, the current tree
        self._next = 0
        self._snapshot_all()

    # -- the model ------------------------------------------------------------------
    def _new_node(self, is_dir: bool, mode: int) -> int:
        self._next += 1
        self.nodes[self._next] = Node(is_dir, stat.S_IMODE(mode))
        return self._next

    def _snapshot_all(self) -> None:
        root = self._new_node(True, os.stat(self.backing).st_mode)
        self.live["/"] = root
        for directory, dirnames, filenames in os.walk(self.backing):
            relative = os.path.relpath(directory, self.backing)
            rel = "/" if relative == "." else "/" + relative
            parent = self.nodes[self.live[rel]]
            for name in sorted(dirnames + filenames):
                full = os.path.join(directory, name)
                info = os.lstat(full)
                child_path = (rel.rstrip("/") + "/" + name)
                node_id = self._new_node(stat.S_ISDIR(info.st_mode), info.st_mode)
                self.live[child_path] = node_id
                parent.entries[name] = node_id
                if stat.S_ISREG(info.st_mode):
                    self._save_data(node_id, full)

    def _save_data(self, node_id: int, full: str) -> None:
        blob = self.blobs / str(node_id)
        shutil.copyfile(full, blob)
        self.nodes[node_id].blob = blob

    def _count(self) -> None:
        """One more state-changing operation; at the N-th, the power goes."""
        if self.cut:
            raise FuseOSError(errno.EIO)
        self.ops += 1
        if self.cut_after is not None and self.ops >= self.cut_after:
            self.cut = True
            (self.state / "cut").write_text(str(self.ops))
            _, _, pid = fuse_get_context()
            try:
                group = os.getpgid(pid)
                if group not in (os.getpgid(0), os.getpgid(os.getppid())):  # never the harness
                    os.killpg(group, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            raise FuseOSError(errno.EIO)

    def _forget(self, path: str) -> None:
        for known in [p for p in self.live if p == path or p.startswith(path + "/")]:
            del self.live[known]

    def restore(self) -> None:
        """Rewrite the backing directory to the durable state (the machine powers up)."""
        target = Path(self.backing)
        rebuilt = target.with_name(target.name + ".powerup")
        if rebuilt.exists():
            shutil.rmtree(rebuilt)
        rebuilt.mkdir()
        self._build(self.live.get("/", 1), rebuilt)
        os.chmod(rebuilt, stat.S_IMODE(os.stat(target).st_mode))
        # swap in the durable state; the mount point is gone by now
        for entry in list(target.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        for entry in list(rebuilt.iterdir()):
            os.rename(entry, target / entry.name)
        rebuilt.rmdir()

    def _build(self, node_id: int, out: Path) -> None:
        for name, child_id in sorted(self.nodes[node_id].entries.items()):
            child = self.nodes[child_id]
            path = out / name
            if child.is_dir:
                path.mkdir()
                self._build(child_id, path)
                os.chmod(path, child.durable_mode)
            else:
                if child.blob is not None and child.blob.exists():
                    shutil.copyfile(child.blob, path)
                else:
                    path.write_bytes(b"")
                os.chmod(path, child.durable_mode)

    # -- passthrough ------------------------------------------------------------------
    def _full(self, path: str) -> str:
        return os.path.join(self.backing, path.lstrip("/"))

    def _check(self) -> None:
        if self.cut:
            raise FuseOSError(errno.EIO)

    def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
        self._check()
        try:
            info = os.lstat(self._full(path))
        except OSError as err:
            raise FuseOSError(err.errno) from err
        return {key: getattr(info, key) for key in (
            "st_atime", "st_ctime", "st_gid", "st_mode", "st_mtime", "st_nlink", "st_size",
            "st_uid")}

    def access(self, path: str, amode: int) -> int:
        self._check()
        if not os.access(self._full(path), amode):
            raise FuseOSError(errno.EACCES)
        return 0

    def readdir(self, path: str, fh: Any) -> list[str]:
        self._check()
        return [".", "..", *os.listdir(self._full(path))]

    def opendir(self, path: str) -> int:
        self._check()
        return 0

    def statfs(self, path: str) -> dict[str, Any]:
        info = os.statvfs(self._full(path))
        return {key: getattr(info, key) for key in (
            "f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files",
            "f_flag", "f_frsize", "f_namemax")}

    def open(self, path: str, flags: int) -> int:
        self._check()
        if flags & os.O_TRUNC:
            self._count()
        try:
            return os.open(self._full(path), flags & ~os.O_CREAT)
        except OSError as err:
            raise FuseOSError(err.errno) from err

    def create(self, path: str, mode: int, fi: Any = None) -> int:
        self._count()
        try:  # read-write whatever the caller asked: SQLite mmaps its -shm file
            fd = os.open(self._full(path), os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            return os.open(self._full(path), os.O_RDWR | os.O_TRUNC)
        self.live[path] = self._new_node(False, mode)
        return fd

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        self._check()
        return os.pread(fh, size, offset)

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        self._count()
        return os.pwrite(fh, data, offset)

    def truncate(self, path: str, length: int, fh: Any = None) -> None:
        self._count()
        if fh is not None:
            os.ftruncate(fh, length)
        else:
            os.truncate(self._full(path), length)

    def chmod(self, path: str, mode: int) -> None:
        self._count()
        os.chmod(self._full(path), mode)

    def chown(self, path: str, uid: int, gid: int) -> None:
        self._count()
        os.chown(self._full(path), uid, gid)

    def utimens(self, path: str, times: Any = None) -> None:
        self._check()
        os.utime(self._full(path), times)

    def mkdir(self, path: str, mode: int) -> None:
        self._count()
        try:
            os.mkdir(self._full(path), mode)
        except OSError as err:
            raise FuseOSError(err.errno) from err
        self.live[path] = self._new_node(True, mode)

    def unlink(self, path: str) -> None:
        self._count()
        try:
            os.unlink(self._full(path))
        except OSError as err:
            raise FuseOSError(err.errno) from err
        self._forget(path)

    def rmdir(self, path: str) -> None:
        self._count()
        try:
            os.rmdir(self._full(path))
        except OSError as err:
            raise FuseOSError(err.errno) from err
        self._forget(path)

    def rename(self, old: str, new: str) -> None:
        self._count()
        try:
            os.rename(self._full(old), self._full(new))
        except OSError as err:
            raise FuseOSError(err.errno) from err
        self._forget(new)
        for known in [p for p in self.live if p == old or p.startswith(old + "/")]:
            self.live[new + known[len(old):]] = self.live.pop(known)

    def symlink(self, target: str, source: str) -> None:
        raise FuseOSError(errno.EPERM)  # nothing in a data dir is a symlink

    def link(self, target: str, source: str) -> None:
        raise FuseOSError(errno.EPERM)

    def fsync(self, path: str, datasync: int, fh: int) -> None:
        self._count()
        os.fsync(fh)
        node = self.live.get(path)
        if node is None:  # unlinked while open: nothing names it any more
            return
        self._save_data(node, self._full(path))
        if not datasync:  # fdatasync leaves a changed mode behind
            self.nodes[node].durable_mode = stat.S_IMODE(os.stat(self._full(path)).st_mode)

    def fsyncdir(self, path: str, datasync: int, fh: int) -> None:
        self._count()
        node = self.live.get(path)
        if node is None:
            return
        prefix = path.rstrip("/") + "/"
        self.nodes[node].entries = {
            name: self.live[prefix + name] for name in os.listdir(self._full(path))
            if prefix + name in self.live}

    def flush(self, path: str, fh: int) -> None:
        return None

    def release(self, path: str, fh: int) -> None:
        os.close(fh)

    def releasedir(self, path: str, fh: int) -> None:
        return None

    def destroy(self, path: str) -> None:
        (self.state / "ops").write_text(str(self.ops))
        self.restore()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("backing")
    parser.add_argument("mountpoint")
    parser.add_argument("state")
    parser.add_argument("--cut-after", type=int, default=None)
    args = parser.parse_args()
    state = Path(args.state)
    state.mkdir(parents=True, exist_ok=True)
    filesystem = PowerCut(os.path.abspath(args.backing), state, args.cut_after)
    FUSE(filesystem, args.mountpoint, foreground=True, nothreads=True, default_permissions=True)
    sys.exit(0)


if __name__ == "__main__":
    main()

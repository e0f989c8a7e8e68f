"""Mount a camera read-only into a private directory, and take it away again.

Always ``ro,nosuid,nodev,noexec``. The kernel's own driver is used when it has one;
otherwise the FUSE helper (``fusefat``, ``mount.exfat-fuse``), as on this project's
build machines. A filesystem we cannot read is reported, never guessed at. When a
camera is pulled mid-copy the FUSE connection is aborted so that reads fail at once
(ENOTCONN) instead of hanging, and the session is recorded as interrupted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from docks.blockdev import BlockDevice

OPTIONS = "ro,nosuid,nodev,noexec"
KERNEL_TYPES = {"vfat": "vfat", "exfat": "exfat"}
FUSE_HELPERS = {"vfat": ["fusefat", "-o", OPTIONS], "exfat": ["mount.exfat-fuse", "-o", OPTIONS]}
SUPPORTED = set(KERNEL_TYPES)


class MountError(Exception):
    """The camera could not be mounted; the message says why and what to do."""


def kernel_filesystems(path: Path = Path("/proc/filesystems")) -> set[str]:
    return {line.split()[-1] for line in path.read_text().splitlines() if line.strip()}


def mount_command(fs_type: str | None, devnode: Path, target: Path,
                  kernel: set[str]) -> list[str]:
    """Pure: the command that mounts ``devnode`` read-only at ``target``."""
    if fs_type not in SUPPORTED:
        raise MountError(
            f"{devnode}: filesystem {fs_type or 'unknown'!r} is not one a camera uses "
            f"(supported: {', '.join(sorted(SUPPORTED))}); nothing was read. If this is a "
            "camera, copy its files with a card reader and dock the folder instead.")
    assert fs_type is not None
    if KERNEL_TYPES[fs_type] in kernel:
        return ["mount", "-t", KERNEL_TYPES[fs_type], "-o", OPTIONS, "--", str(devnode), str(target)]
    return [*FUSE_HELPERS[fs_type], str(devnode), str(target)]


def mounted_at(target: Path) -> str | None:
    """The filesystem type mounted exactly at ``target``, from /proc/self/mountinfo."""
    wanted = str(target)
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4].replace("\\040", " ") == wanted:
            return fields[fields.index("-") + 1]
    return None


FUSECTL = Path("/sys/fs/fuse/connections")


def ensure_fusectl() -> bool:
    """Mount the FUSE control filesystem if it is not (systemd does it at boot; minimal
    machines and containers may not), so a pulled camera's connection can be aborted."""
    if mounted_at(FUSECTL) is not None:
        return True
    if not FUSECTL.is_dir() or "fusectl" not in kernel_filesystems():
        return False
    result = subprocess.run(["mount", "-t", "fusectl", "fusectl", str(FUSECTL)],
                            capture_output=True, check=False, timeout=30)
    return result.returncode == 0


def _helper_pids(target: Path) -> list[int]:
    """Processes whose command line names ``target``: the FUSE helper serving it."""
    wanted = os.fsencode(target)
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                arguments = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if wanted in arguments and entry.name != str(os.getpid()):
                pids.append(int(entry.name))
    return pids


def fuse_connection(mountpoint: Path) -> Path:
    """The FUSE control directory of a mount. Its name is the kernel's dev_t of the
    superblock (major << 20 | minor): plain minor for ``fuse``, the block device's
    number for ``fuseblk`` (exfat-fuse)."""
    device = os.stat(mountpoint).st_dev
    return FUSECTL / str((os.major(device) << 20) | os.minor(device))


@dataclass
class Mount:
    device: BlockDevice
    target: Path
    fuse: bool

    def connection(self) -> Path | None:
        """The FUSE control file for this mount (``/sys/fs/fuse/connections/N``)."""
        if not self.fuse:
            return None
        try:
            path = fuse_connection(self.target)
        except OSError:
            return None
        return path if path.exists() else None

    def abort(self) -> None:
        """The camera was pulled: make every read fail now rather than hang."""
        connection = self.connection()
        if connection is not None and (connection / "abort").exists():
            with contextlib.suppress(OSError):
                (connection / "abort").write_text("1")
                return
        for pid in _helper_pids(self.target):  # no fusectl: end the helper itself
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def unmount(self, timeout: float = 10.0) -> None:
        """Unmount and wait until the helper has let go of the device, so "safe to
        unplug" is true when it is shown."""
        unmount_path(self.target, fuse=self.fuse, timeout=timeout)


def unmount_path(target: Path, *, fuse: bool, timeout: float = 10.0) -> None:
    """Unmount ``target`` and wait for its FUSE helper to exit; a mount still busy at the
    deadline is detached lazily. The empty mount folder is removed."""
    helpers = _helper_pids(target) if fuse else []
    deadline = time.monotonic() + timeout
    while mounted_at(target) is not None:
        lazy = time.monotonic() > deadline
        command = ["fusermount", "-u", *(["-z"] if lazy else []), str(target)] if fuse \
            else ["umount", *(["-l"] if lazy else []), str(target)]
        subprocess.run(command, capture_output=True, check=False, timeout=60)
        if lazy:
            break
        time.sleep(0.1)
    while any(Path(f"/proc/{pid}").exists() for pid in helpers) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(OSError):
        target.rmdir()


def mount_readonly(device: BlockDevice, target: Path, *, zone: str,
                   timeout: float = 20.0) -> Mount:
    """Mount ``device`` at ``target`` (created 0700) and wait until it is there."""
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    if mounted_at(target) is not None:
        Mount(device, target, fuse=True).unmount()
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
    command = mount_command(device.filesystem.type, device.devnode, target, kernel_filesystems())
    # FAT and exFAT hold local wall-clock times: the helper reads them in the camera's zone.
    env = {**os.environ, "TZ": zone}
    # A device that just appeared may still be settling (or its buffer cache may hold a
    # previous medium's blocks): flush, then retry a few times before calling it unreadable.
    for attempt in range(3):
        subprocess.run(["blockdev", "--flushbufs", str(device.devnode)], capture_output=True,
                       check=False, timeout=30)
        result = subprocess.run(command, capture_output=True, text=True, env=env,
                                timeout=timeout, check=False)
        if result.returncode == 0:
            break
        time.sleep(0.5 * (attempt + 1))
    if result.returncode != 0:
        raise MountError(f"{device.devnode}: mounting read-only failed "
                         f"({' '.join(command[:1])} exit {result.returncode}: "
                         f"{result.stderr.strip()[:300]}); the camera was not read")
    deadline = time.monotonic() + timeout
    while (kind := mounted_at(target)) is None:
        if time.monotonic() > deadline:
            raise MountError(f"{device.devnode}: the mount helper returned but nothing is "
                             f"mounted at {target}")
        time.sleep(0.05)
    return Mount(device, target, fuse=kind.startswith("fuse"))

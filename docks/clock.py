"""Setting a camera's clock (校时, R1) through the time file its vendor defines.

This and the optional wipe (``docks.wipe``) are the only writes to a camera. The clock is
set only when the unit turned it on (``daemon.set_camera_clock``), the camera's profile
declares a time file, every file on the camera is committed and the camera's clock
reading has been ledgered — so the evidence of how wrong the clock was is never lost by
correcting it. Only the time file
is written: through mtools for FAT (no mount), through a short read-write FUSE mount
for exFAT, fsynced before it counts.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

from docks.blockdev import BlockDevice
from docks.mount import MountError, mounted_at, unmount_path
from docks.profiles import ClockSetting


def clock_file_content(now_local: datetime, setting: ClockSetting) -> bytes:
    """Pure: the file's bytes for the station time ``now_local`` (CRLF, as DOS tools)."""
    return now_local.strftime(setting.format).encode("ascii") + b"\r\n"


def write_clock_file(device: BlockDevice, setting: ClockSetting, content: bytes,
                     work_dir: Path) -> None:
    """Write the time file at the root of the camera's volume."""
    work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.NamedTemporaryFile(dir=work_dir, delete=False) as handle:
        handle.write(content)
        staged = Path(handle.name)
    try:
        if device.filesystem.type == "vfat":
            result = subprocess.run(
                ["mcopy", "-o", "-i", str(device.devnode), str(staged), f"::/{setting.file}"],
                capture_output=True, text=True, check=False, timeout=60)
            if result.returncode != 0:
                raise MountError(f"{device.devnode}: writing {setting.file} failed: "
                                 f"{result.stderr.strip()[:300]}")
            with open(device.devnode, "rb") as block:  # flush the device's buffers
                os.fsync(block.fileno())
        elif device.filesystem.type == "exfat":
            target = work_dir / "clock-mount"
            target.mkdir(exist_ok=True, mode=0o700)
            result = subprocess.run(
                ["mount.exfat-fuse", "-o", "rw,nosuid,nodev,noexec", str(device.devnode),
                 str(target)], capture_output=True, text=True, check=False, timeout=60)
            if result.returncode != 0 or mounted_at(target) is None:
                raise MountError(f"{device.devnode}: read-write mount for {setting.file} "
                                 f"failed: {result.stderr.strip()[:300]}")
            try:
                fd = os.open(target / setting.file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    os.write(fd, content)
                    os.fsync(fd)
                finally:
                    os.close(fd)
            finally:
                unmount_path(target, fuse=True)
        else:
            raise MountError(f"{device.devnode}: cannot write a time file on "
                             f"{device.filesystem.type!r}")
    finally:
        with contextlib.suppress(FileNotFoundError):
            staged.unlink()

"""Optional camera wipe after a verified commit — off unless a unit turns it on.

Only files whose bytes are committed to the store and the ledger are removed, and each
one is read from the camera once more and hashed just before it is removed: a file that
changed on the camera since it was copied stays. FAT volumes are changed with mtools
(no mount); exFAT through a short read-write FUSE mount. Nothing else is written.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from docks.blockdev import BlockDevice
from docks.mount import MountError, mounted_at, unmount_path
from hashing.stream import hash_fd

_MTOOLS_ENV = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "MTOOLS_SKIP_CHECK": "1"}


@dataclass
class WipeResult:
    removed: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # path → why it stayed


def _fat_hash(device: BlockDevice, path: str) -> str:
    process = subprocess.Popen(["mcopy", "-n", "-i", str(device.devnode), f"::/{path}", "-"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_MTOOLS_ENV)
    assert process.stdout is not None
    digest = hashlib.sha256()
    for chunk in iter(lambda: process.stdout.read(8 << 20), b""):  # type: ignore[union-attr]
        digest.update(chunk)
    _, error = process.communicate(timeout=3600)
    if process.returncode != 0:
        raise OSError(f"mcopy: {error.decode(errors='replace').strip()[:200]}")
    return digest.hexdigest()


def _fat_delete(device: BlockDevice, path: str) -> None:
    result = subprocess.run(["mdel", "-i", str(device.devnode), f"::/{path}"], capture_output=True,
                            text=True, env=_MTOOLS_ENV, timeout=300, check=False)
    if result.returncode != 0:
        raise OSError(f"mdel: {result.stderr.strip()[:200]}")


def _file_hash(path: Path) -> str:
    with path.open("rb") as handle:
        return hash_fd(handle.fileno()).sha256


def wipe_committed(device: BlockDevice, committed: Mapping[str, str], work_dir: Path) -> WipeResult:
    """Remove each ``path → sha256`` from the camera if it still hashes to ``sha256``."""
    result = WipeResult()
    if device.filesystem.type == "vfat":
        for path, sha256 in sorted(committed.items()):
            try:
                if _fat_hash(device, path) != sha256:
                    result.kept[path] = "changed on the camera since it was copied"
                    continue
                _fat_delete(device, path)
                result.removed.append(path)
            except OSError as err:
                result.kept[path] = str(err)
        with open(device.devnode, "rb") as block:
            os.fsync(block.fileno())
        return result
    if device.filesystem.type != "exfat":
        raise MountError(f"{device.devnode}: wiping {device.filesystem.type!r} is not supported")
    target = work_dir / "wipe-mount"
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    mounted = subprocess.run(["mount.exfat-fuse", "-o", "rw,nosuid,nodev,noexec",
                              str(device.devnode), str(target)], capture_output=True, text=True,
                             timeout=60, check=False)
    if mounted.returncode != 0 or mounted_at(target) is None:
        raise MountError(f"{device.devnode}: read-write mount for the wipe failed: "
                         f"{mounted.stderr.strip()[:300]}")
    try:
        for path, sha256 in sorted(committed.items()):
            file = target / path
            try:
                if _file_hash(file) != sha256:
                    result.kept[path] = "changed on the camera since it was copied"
                    continue
                file.unlink()
                result.removed.append(path)
            except OSError as err:
                result.kept[path] = str(err)
        os.sync()
    finally:
        unmount_path(target, fuse=True)
    return result

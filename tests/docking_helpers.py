"""Camera images on loop devices and a daemon subprocess, for the docking tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docks.mount import fuse_connection

ZONE = "Asia/Shanghai"


def build_image(image: Path, fs: str, source: Path, *, size_mib: int = 64,
                label: str = "CAMERA") -> Path:
    """A FAT32 or exFAT image holding ``source``'s tree with its file times."""
    with image.open("wb") as handle:
        handle.truncate(size_mib * 1024 * 1024)
    env = {**os.environ, "TZ": ZONE}  # FAT/exFAT keep local time: the camera's zone
    if fs == "vfat":
        subprocess.run(["mkfs.vfat", "-F", "32", "-n", label, str(image)], check=True,
                       capture_output=True)
        entries = [str(path) for path in sorted(source.iterdir())]
        if entries:
            subprocess.run(["mcopy", "-s", "-m", "-i", str(image), *entries, "::/"], check=True,
                           capture_output=True, env=env)
    elif fs == "exfat":
        subprocess.run(["mkfs.exfat", "-L", label, str(image)], check=True, capture_output=True)
        target = image.with_suffix(".mnt")
        target.mkdir()
        devnode = attach(image)  # exfat-fuse mounts block devices (fuseblk), not files
        try:
            subprocess.run(["mount.exfat-fuse", devnode, str(target)], check=True,
                           capture_output=True, env=env)
            try:
                subprocess.run(["cp", "-a", f"{source}/.", str(target)], check=True, env=env)
            finally:
                subprocess.run(["fusermount", "-u", str(target)], check=True)
        finally:
            detach(devnode, wait=True)
            target.rmdir()
    else:
        raise ValueError(fs)
    return image


def attach(image: Path) -> str:
    return subprocess.run(["losetup", "-f", "--show", str(image)], check=True,
                          capture_output=True, text=True).stdout.strip()


def detach(devnode: str, *, wait: bool = False) -> None:
    """``losetup -d``; with ``wait``, until the kernel really let go (a detach is deferred
    while a mount helper still has the device open)."""
    subprocess.run(["losetup", "-d", devnode], check=False, capture_output=True)
    size = Path("/sys/block") / Path(devnode).name / "size"
    deadline = time.monotonic() + 20
    while wait and size.read_text().strip() != "0" and time.monotonic() < deadline:
        time.sleep(0.05)


def write_config(path: Path, reserve_mib: int = 0, **daemon: Any) -> Path:
    lines = ["[ingest]", f"reserve_mib = {reserve_mib}", "[daemon]", "demo_camera = false",
             "settle_seconds = 0.5", "poll_seconds = 0.5"]
    for key, value in daemon.items():
        lines.append(f"{key} = {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n")
    return path


class DaemonProcess:
    def __init__(self, data_dir: Path, config: Path) -> None:
        self.data_dir = data_dir
        self.status_path = data_dir / "run" / "status.json"
        self.log = (data_dir.parent / "daemon.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "evidence_station", "--data-dir", str(data_dir), "--config",
             str(config), "--lang", "en", "daemon", "--station", "test-station"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_for(lambda status: bool(status.get("ready")), timeout=30)

    def status(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.status_path.read_text())  # type: ignore[no-any-return]
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def dock(self, port: str) -> dict[str, Any] | None:
        status = self.status()
        for dock in (status or {}).get("docks", []):
            if dock["port"] == port:
                return dock  # type: ignore[no-any-return]
        return None

    def wait_for(self, condition: Callable[[dict[str, Any]], bool], *, timeout: float = 60,
                 port: str | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}: {self.output()}")
            current = self.dock(port) if port else self.status()
            if current is not None and condition(current):
                return current
            time.sleep(0.05)
        raise AssertionError(f"timed out; status {self.status()}\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        return (self.data_dir.parent / "daemon.log").read_text(errors="replace")[-4000:]

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        finally:
            self.log.close()


def port_of(devnode: str) -> str:
    return Path(devnode).name


def fuse_abort(mountpoint: Path) -> None:
    """What a yanked cable does to a FUSE helper: its connection dies, reads fail."""
    (fuse_connection(mountpoint) / "abort").write_text("1")


def tools_missing() -> str | None:
    for tool in ("losetup", "mkfs.vfat", "mcopy", "mkfs.exfat", "mount.exfat-fuse", "fusefat",
                 "blkid"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (make deps installs it)"
    if os.geteuid() != 0:
        return "needs root for loop devices and mounts"
    if not Path("/dev/fuse").exists():
        return "no /dev/fuse"
    probe = subprocess.run(["losetup", "-f"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"no free loop device: {probe.stderr.strip()}"
    return None

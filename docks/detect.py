"""Notice cameras arriving and leaving: block devices over pyudev, folders over watchdog.

Kernel uevents work everywhere (``source='kernel'``); when udevd runs its events carry
``ID_FS_*`` properties and arrive after its rules ran (``source='udev'``). Either way
each event is re-evaluated against sysfs, and callers only hear about *transitions*:
a loop device being attached shows up as a ``change`` of an existing ``/dev/loopN``
whose size goes from 0 to the image's, a USB camera as an ``add``; both are "present".
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyudev
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from docks.blockdev import BlockDevice, describe, mounted_devices

log = logging.getLogger(__name__)
SETTLE_SECONDS = 0.5


def udevd_running(control: Path = Path("/run/udev/control")) -> bool:
    """Whether udevd answers on its control socket (the file outlives a stopped udevd)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as probe:
        try:
            probe.connect(str(control))
        except OSError:
            return False
    return True


def resolve_source(source: str) -> str:
    """``auto`` → ``udev`` when udevd runs, else ``kernel``."""
    if source == "auto":
        return "udev" if udevd_running() else "kernel"
    if source not in ("udev", "kernel"):
        raise ValueError(f"uevent source must be auto, udev or kernel, not {source!r}")
    return source


def is_dock_candidate(device: BlockDevice, mounted_elsewhere: bool) -> bool:
    """Pure: could this block device be a camera or a card? USB, removable or loop
    devices with a medium, not mounted by anyone else, not a partitioned whole disk
    (its partitions dock instead)."""
    if device.size == 0 or mounted_elsewhere:
        return False
    if device.filesystem.type is None and device.filesystem.partition_table:
        return False
    return device.usb is not None or device.removable or device.is_loop


class BlockWatcher:
    """Calls ``on_present(device)`` / ``on_absent(sys_name)`` on transitions."""

    def __init__(self, on_present: Callable[[BlockDevice], None],
                 on_absent: Callable[[str], None], *, source: str = "auto",
                 own_mounts: Path | None = None) -> None:
        self.on_present = on_present
        self.on_absent = on_absent
        self.source = resolve_source(source)
        self.own_mounts = own_mounts
        self._present: dict[str, int] = {}  # sys_name -> size of the medium seen
        self._lock = threading.Lock()
        self._observer: Any = None

    def start(self, *, monitor: bool = True) -> None:
        """Report the devices already there; with ``monitor``, keep listening."""
        context = pyudev.Context()
        if monitor:
            netlink = pyudev.Monitor.from_netlink(context, source=self.source)
            netlink.filter_by("block")
            self._observer = pyudev.MonitorObserver(netlink, callback=self._on_event,
                                                    name="uevents")
            self._observer.start()
        for device in context.list_devices(subsystem="block"):  # what was there before us
            self._evaluate(device)

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()

    def _on_event(self, device: Any) -> None:
        try:
            if device.action == "remove":
                self._gone(device.sys_name)
            else:
                self._evaluate(device)
        except Exception:  # a bad event must not kill the watcher thread
            log.exception("uevent for %s could not be handled", getattr(device, "sys_name", "?"))

    def _gone(self, sys_name: str) -> None:
        with self._lock:
            was_present = self._present.pop(sys_name, None) is not None
        if was_present:
            self.on_absent(sys_name)

    def _evaluate(self, device: Any) -> None:
        size_attr = device.attributes.get("size")
        size = int(size_attr) * 512 if size_attr else 0
        with self._lock:
            if size and self._present.get(device.sys_name) == size:
                # Same medium still there. Events while we use it (our mount helper
                # opening and closing it) must not look like a new camera, so its
                # filesystem is probed once, when it arrives.
                return
        trust_udev = self.source == "udev"
        described = describe(device, trust_udev=trust_udev)
        if described is None:
            return
        if described.size and described.filesystem.type is None and self.source == "kernel":
            # A raw kernel event can come before the medium is readable (a loop device's
            # first change event, a card still spinning up): look once more before
            # reporting "no filesystem". udev's events come after its own probing.
            time.sleep(SETTLE_SECONDS)
            described = describe(pyudev.Devices.from_sys_path(device.context, device.sys_path),
                                 trust_udev=trust_udev)
            if described is None:
                return
        if not is_dock_candidate(described, self._mounted_elsewhere(device)):
            if described.size == 0:
                self._gone(described.sys_name)
            return
        with self._lock:
            previous = self._present.get(described.sys_name)
            if previous == described.size:
                return  # the enumeration and an event raced over the same medium
            changed = previous is not None
            self._present[described.sys_name] = described.size
        if changed:
            self.on_absent(described.sys_name)  # a different medium in the same slot
        self.on_present(described)

    def _mounted_elsewhere(self, device: Any) -> bool:
        number = device.properties.get("MAJOR", "") + ":" + device.properties.get("MINOR", "")
        return number in mounted_devices(exclude_under=self.own_mounts)


class InboxWatcher:
    """Watches inbox folders; each subfolder is a camera (card reader copy, export).

    A folder is handed on once it has been quiet for ``settle_seconds`` — a copy still
    running into it would otherwise be docked half-way — and again after later changes.
    """

    def __init__(self, inboxes: list[Path], on_folder: Callable[[Path], None], *,
                 settle_seconds: float = 2.0) -> None:
        self.inboxes = [inbox.resolve() for inbox in inboxes]
        self.on_folder = on_folder
        self.settle_seconds = settle_seconds
        self._dirty: dict[Path, float] = {}
        self._handing: set[Path] = set()  # folders whose hand-on thread still runs
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._observer: Any = Observer()
        self._thread = threading.Thread(target=self._settle_loop, name="inbox", daemon=True)

    def start(self) -> None:
        handler = _Handler(self)
        for inbox in self.inboxes:
            inbox.mkdir(parents=True, exist_ok=True)
            self._observer.schedule(handler, str(inbox), recursive=True)
            for child in sorted(inbox.iterdir()):
                self.touch(child)
        self._observer.start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._observer.stop()

    def touch(self, path: Path) -> None:
        """Something changed at ``path``: mark its camera folder as not yet settled."""
        for inbox in self.inboxes:
            try:
                relative = path.relative_to(inbox)
            except ValueError:
                continue
            if relative.parts:
                with self._lock:
                    self._dirty[inbox / relative.parts[0]] = time.monotonic()

    def _settle_loop(self) -> None:
        while not self._stop.wait(0.25):
            now = time.monotonic()
            with self._lock:
                ready = [path for path, when in self._dirty.items()
                         if now - when >= self.settle_seconds]
                for path in ready:
                    del self._dirty[path]
            for path in ready:
                # One thread per folder handed on: a folder whose filesystem hangs (a
                # card reader's stuck FUSE helper: even a stat blocks) holds only itself,
                # never the other cameras in the inbox (issue 22, stalls). A folder still
                # being handed on is looked at again after it finishes.
                with self._lock:
                    if path in self._handing:
                        self._dirty[path] = now
                        continue
                    self._handing.add(path)
                threading.Thread(target=self._hand_on, args=(path,), name="inbox-folder",
                                 daemon=True).start()

    def _hand_on(self, path: Path) -> None:
        try:
            if path.is_dir() and not path.is_symlink():
                self.on_folder(path)
        except Exception:  # a broken folder is that folder's problem, logged, not the loop's
            log.exception("inbox folder %s could not be handed on", path)
        finally:
            with self._lock:
                self._handing.discard(path)


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: InboxWatcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        for path in (event.src_path, getattr(event, "dest_path", "")):
            if path:
                self.watcher.touch(Path(path if isinstance(path, str) else path.decode()))

"""The docking loop: find cameras, ingest each through the pipeline, say when it is done.

This first version docks cameras that appear as folders (card readers, copied camera
folders) under the configured inbox folders, and a generated demo camera when nothing
is configured, so the README's main command shows the whole flow on a fresh machine.
USB/udev detection plugs into :func:`find_cameras` as another source of folders.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from evidence_station.demo import make_demo_camera
from evidence_station.ingest.model import Reporter, SessionResult
from evidence_station.ingest.pipeline import ingest_source
from evidence_station.station import Station


@dataclass(frozen=True)
class DockedCamera:
    path: Path
    signature: tuple[tuple[str, int, int], ...]  # what we saw: (name, size, mtime) per entry


def _signature(path: Path) -> tuple[tuple[str, int, int], ...]:
    entries = []
    for item in sorted(path.rglob("*")):
        try:
            info = item.lstat()
        except OSError:
            continue
        entries.append((str(item.relative_to(path)), info.st_size, info.st_mtime_ns))
    return tuple(entries)


def find_cameras(station: Station) -> Iterator[DockedCamera]:
    config = station.config.daemon
    inboxes = list(config.inbox_dirs)
    for inbox in inboxes:
        if not inbox.is_dir():
            continue
        for child in sorted(inbox.iterdir()):
            if child.is_dir() and not child.is_symlink():
                yield DockedCamera(child, _signature(child))
    if not inboxes and config.demo_camera:
        demo = make_demo_camera(station.layout.root / "demo-camera",
                                zone=station.config.station.timezone)
        yield DockedCamera(demo, _signature(demo))


def run(
    station: Station, *, actor: str, once: bool,
    reporter_factory: Callable[[DockedCamera], Reporter],
    on_result: Callable[[DockedCamera, SessionResult], None],
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Ingest every camera that appears or changes; with ``once``, one pass then return."""
    seen: dict[Path, tuple[tuple[str, int, int], ...]] = {}
    while not should_stop():
        for camera in find_cameras(station):
            if seen.get(camera.path) == camera.signature:
                continue
            result = ingest_source(station, camera.path, actor=actor,
                                   reporter=reporter_factory(camera))
            seen[camera.path] = camera.signature
            on_result(camera, result)
        if once:
            return
        time.sleep(station.config.daemon.poll_seconds)

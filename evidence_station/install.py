"""The installed station (the Debian package): who owns its files, which software runs it,
and the ledger event when that software changes.

Why here and not in the package's maintainer scripts: an upgrade is a change to the
station, so it is a ledger event (DESIGN.md, invariant 3), and only the station's one
writer may append to the ledger. The package therefore only records its version in the
venv (``share/evidence-station/package-version``); the daemon, the first time it opens
the station with new software, records ``station.upgrade`` with the old and new version
before it docks anything. ``init`` run by root on an installed station hands every file it
created to the service user, who owns the data dir and runs the daemon.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hashing.durable import write_file_durably
from hashing.ledger import Draft, Event

if TYPE_CHECKING:
    from evidence_station.station import Station

VERSION_FILE = "software-version"  # in the data dir: the software that last ran it
PACKAGE_VERSION = Path(sys.prefix) / "share" / "evidence-station" / "package-version"


def software_version() -> str:
    """The Debian package's version when installed from it (a rebuild changes only that),
    else the Python distribution's, else ``unknown`` (a bare checkout on sys.path)."""
    try:
        stamped = PACKAGE_VERSION.read_text(encoding="utf-8").strip()
    except OSError:
        stamped = ""
    if stamped:
        return stamped
    try:
        return importlib.metadata.version("evidence-station")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def remember_software_version(data_dir: Path) -> None:
    """Write which software last ran the station; durable, after the event that says so."""
    write_file_durably(data_dir / VERSION_FILE,
                       json.dumps({"version": software_version()}).encode(), mode=0o600)


def recorded_software_version(data_dir: Path) -> str | None:
    try:
        value = json.loads((data_dir / VERSION_FILE).read_text(encoding="utf-8")).get("version")
    except (FileNotFoundError, json.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def note_upgrade(station: Station) -> Event | None:
    """Record ``station.upgrade`` (actor ``station``) if the software changed since the
    station last ran; None when it did not. The catalog was already brought to the new
    schema by opening it; config migrations run on every load."""
    root = station.layout.root
    previous = recorded_software_version(root)
    current = software_version()
    if previous == current:
        return None
    event = station.record(Draft("station.upgrade", "station", {"from": previous, "to": current}))
    remember_software_version(root)
    return event


def hand_to_owner_of(data_dir: Path, *, uid: int, gid: int) -> int:
    """Give every file under ``data_dir`` to ``uid:gid`` (root ran ``init`` on a data dir the
    package made for the service user); returns how many entries changed hands. Symlinks
    are not followed."""
    changed = 0
    for directory, subdirs, files in os.walk(data_dir):
        for name in (directory, *(os.path.join(directory, n) for n in (*subdirs, *files))):
            status = os.lstat(name)
            if (status.st_uid, status.st_gid) != (uid, gid):
                os.lchown(name, uid, gid)
                changed += 1
    return changed

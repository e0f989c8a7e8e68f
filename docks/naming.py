"""Read what a camera's file name says: start time, device id, officer id, sequence.

Body-worn cameras name recordings after their clock, e.g. ``20261123_143000.MP4`` or
``<产品序号>_<警号>_20261123143000_0001.MP4``. :func:`parse_name` is the generic reading
used when no vendor profile (``docks/profiles/*.toml``) fits. The result is what the
*name* claims — the camera clock — which analysis later compares with the station clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

_TIMESTAMP = re.compile(
    rb"(?<!\d)(?P<year>(?:19|20)\d\d)[-_]?(?P<month>\d\d)[-_]?(?P<day>\d\d)"
    rb"[-_ T]?(?P<hour>\d\d)[-_:]?(?P<minute>\d\d)[-_:]?(?P<second>\d\d)(?!\d)"
)
_PREFIX_IDS = re.compile(rb"^(?P<device>[A-Za-z0-9]{4,})_(?P<officer>\d{5,8})_")


@dataclass(frozen=True)
class NameInfo:
    recorded_at: datetime | None = None
    device_id: str | None = None
    officer_id: str | None = None
    seq: int | None = None  # the camera's running file number, where its naming has one


def parse_name(name: bytes, zone: str) -> NameInfo:
    """Parse a recording's base name; anything not recognised is ``None``."""
    recorded_at = None
    match = _TIMESTAMP.search(name)
    if match:
        parts = {key: int(value) for key, value in match.groupdict().items()}
        try:
            recorded_at = datetime(tzinfo=ZoneInfo(zone), **parts)
        except ValueError:
            recorded_at = None  # 20261345_..., not a real time
    device_id = officer_id = None
    ids = _PREFIX_IDS.match(name)
    if ids and (match is None or ids.end() <= match.start()):
        device_id = ids.group("device").decode("ascii")
        officer_id = ids.group("officer").decode("ascii")
    return NameInfo(recorded_at, device_id, officer_id)

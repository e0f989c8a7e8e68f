"""Durations written in config as people say them: ``"7d"``, ``"12h"``, ``"30m"``.

Its own small module, so validating the config (every command does) does not import
the scrub, its station and ctypes just to read ``[scrub] every``."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> timedelta:
    """``"7d"``, ``"12h"``, ``"30m"``, ``"45s"`` or a combination (``"1d12h"``) as a
    timedelta; a zero or malformed duration is a ValueError naming the accepted forms."""
    match = _DURATION.match(text.strip()) if text else None
    if match is None or not any(match.groups()):
        raise ValueError(f"duration {text!r}: write a number with d, h, m or s, such as "
                         "\"7d\", \"12h\", \"30m\" (or combined, \"1d12h\")")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    value = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if value <= timedelta(0):
        raise ValueError(f"duration {text!r} must be longer than zero")
    return value

"""Vendor profiles: how a camera lays out its card and names its recordings.

A profile is data, not code (``docks/profiles/*.toml``), so a unit with a new recorder
model adds a file instead of a release. It says how to recognise the camera (top-level
folders, volume label, USB vendor:product ids), which extensions are recordings, and
how a file's path encodes the device id (产品序号), the officer id
(警号), the start time and the file's sequence number. Matching is a pure function of
what the station saw, so it is tested on name lists without any hardware.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from docks.listing import Listing, list_camera
from docks.naming import NameInfo, parse_name

PROFILE_DIR = Path(__file__).with_name("profiles")
_TIME_GROUPS = ("year", "month", "day", "hour", "minute", "second")
_ALLOWED_GROUPS = {*_TIME_GROUPS, "device", "officer", "seq", "ext"}


class ProfileError(ValueError):
    """A profile file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class ClockSetting:
    """How a recorder takes the time from the station (校时), where its vendor has a way:
    a text file at the card's root that the recorder reads (and deletes) at its next
    start, e.g. ``TIMESET.TXT`` holding ``2026-11-23 14:30:00``."""

    file: str
    format: str  # strftime format of the file's content, local time of the station zone
    source: str  # where the convention is documented


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    source: str  # where the layout and naming were documented
    priority: int = 0  # higher wins a tie; vendor profiles above the generic ones
    folders: tuple[str, ...] = ()  # any of these top-level folders (case-insensitive)
    label_pattern: re.Pattern[str] | None = None
    usb_ids: tuple[str, ...] = ()  # "vvvv:pppp", lower-case hex
    extensions: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()
    clock: ClockSetting | None = None
    path: Path | None = field(default=None, compare=False)

    def parse(self, rel_path: bytes, zone: str) -> NameInfo:
        """What the path says, by the first pattern that matches its end; else nothing."""
        text = rel_path.decode("utf-8", "surrogateescape")
        for pattern in self.patterns:
            match = pattern.search(text)
            if match is None:
                continue
            groups = {key: value for key, value in match.groupdict().items() if value}
            recorded_at = None
            if all(key in groups for key in _TIME_GROUPS):
                try:
                    recorded_at = datetime(tzinfo=ZoneInfo(zone),
                                           **{key: int(groups[key]) for key in _TIME_GROUPS})
                except ValueError:
                    recorded_at = None  # 20261345..., not a real time: flagged later
            seq = int(groups["seq"]) if "seq" in groups else None
            return NameInfo(recorded_at, groups.get("device"), groups.get("officer"), seq)
        return NameInfo()

    def is_recording(self, rel_path: bytes) -> bool:
        return _extension(rel_path) in self.extensions


def _extension(rel_path: bytes) -> str:
    name = rel_path.rsplit(b"/", 1)[-1]
    return name.rsplit(b".", 1)[-1].decode("ascii", "replace").lower() if b"." in name else ""


def _require(raw: dict[str, object], key: str, kind: type, path: Path) -> object:
    value = raw.get(key)
    if not isinstance(value, kind):
        raise ProfileError(f"{path}: key `{key}` must be a {kind.__name__}")
    return value


def _strings(raw: dict[str, object], key: str, path: Path) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ProfileError(f"{path}: key `{key}` must be a list of strings")
    return tuple(value)


def parse_profile(text: str, path: Path) -> Profile:
    """Validate one profile file; every mistake names the file and the key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ProfileError(f"{path}: not valid TOML: {err}") from err
    known = {"name", "title", "source", "priority", "match", "layout", "names", "clock"}
    unknown = set(raw) - known
    if unknown:
        raise ProfileError(f"{path}: unknown key(s) {sorted(unknown)}")
    match = raw.get("match", {})
    layout = raw.get("layout", {})
    if not isinstance(match, dict) or not isinstance(layout, dict):
        raise ProfileError(f"{path}: `match` and `layout` must be tables")
    patterns = []
    for index, entry in enumerate(raw.get("names", [])):
        source = entry.get("pattern") if isinstance(entry, dict) else None
        if not isinstance(source, str):
            raise ProfileError(f"{path}: names[{index}].pattern must be a string")
        try:
            pattern = re.compile(f"(?:{source})$")
        except re.error as err:
            raise ProfileError(f"{path}: names[{index}].pattern: {err}") from err
        extra = set(pattern.groupindex) - _ALLOWED_GROUPS
        if extra:
            raise ProfileError(f"{path}: names[{index}].pattern has unknown groups {sorted(extra)}; "
                               f"allowed: {sorted(_ALLOWED_GROUPS)}")
        patterns.append(pattern)
    clock = None
    if "clock" in raw:
        table = raw["clock"]
        if not isinstance(table, dict):
            raise ProfileError(f"{path}: `clock` must be a table")
        clock = ClockSetting(*(str(_require(table, key, str, path))
                               for key in ("file", "format", "source")))
        if "/" in clock.file or clock.file in ("", ".", ".."):
            raise ProfileError(f"{path}: clock.file must be a plain file name at the card's root")
    label = match.get("label_pattern")
    priority = raw.get("priority", 0)
    if not isinstance(priority, int):
        raise ProfileError(f"{path}: key `priority` must be an integer")
    return Profile(
        name=str(_require(raw, "name", str, path)),
        title=str(_require(raw, "title", str, path)),
        source=str(_require(raw, "source", str, path)),
        priority=priority,
        folders=_strings(match, "folders", path),
        label_pattern=re.compile(label) if isinstance(label, str) else None,
        usb_ids=tuple(item.lower() for item in _strings(match, "usb_ids", path)),
        extensions=tuple(item.lower().lstrip(".") for item in _strings(layout, "extensions", path)),
        patterns=tuple(patterns),
        clock=clock,
        path=path,
    )


def load_profiles(directories: Iterable[Path] = (PROFILE_DIR,)) -> list[Profile]:
    """Every ``*.toml`` in the directories, in name order; a later file of the same
    ``name`` replaces an earlier one (a unit's own directory overrides ours)."""
    by_name: dict[str, Profile] = {}
    for directory in directories:
        for path in sorted(Path(directory).glob("*.toml")):
            profile = parse_profile(path.read_text(encoding="utf-8"), path)
            by_name[profile.name] = profile
    return list(by_name.values())


@dataclass(frozen=True)
class Seen:
    """What the station knows about a docked volume before choosing a profile."""

    top_level: tuple[str, ...]  # names of the root's entries
    recordings: tuple[bytes, ...]  # relative paths of candidate files (any extension)
    label: str | None = None
    usb_id: str | None = None  # "vvvv:pppp"


@dataclass(frozen=True)
class Match:
    profile: Profile
    score: float
    parsed: int  # how many candidate files the profile's patterns understood


def score(profile: Profile, seen: Seen, zone: str = "UTC") -> Match | None:
    """How well a profile fits; ``None`` when it does not fit at all.

    A USB id or label match identifies the camera by itself. Otherwise the profile's
    folders must be present and at least one recording's name must parse with a time:
    a stray USB stick full of documents matches nothing and is not ingested (issue 5).
    """
    tops = {name.lower() for name in seen.top_level}
    recordings = [path for path in seen.recordings if profile.is_recording(path)]
    parsed = sum(1 for path in recordings if profile.parse(path, zone).recorded_at is not None)
    value = 0.0
    if seen.usb_id and seen.usb_id.lower() in profile.usb_ids:
        value += 100
    if seen.label and profile.label_pattern and profile.label_pattern.search(seen.label):
        value += 50
    if value == 0:
        if profile.folders and not tops & {folder.lower() for folder in profile.folders}:
            return None
        if parsed == 0:
            return None
    if recordings:
        value += 10 * parsed / len(recordings)
    return Match(profile, value + profile.priority / 100, parsed)


def choose_profile(profiles: Sequence[Profile], seen: Seen, zone: str = "UTC") -> Match | None:
    """The best-fitting profile, or ``None`` when none fits."""
    matches = [m for m in (score(p, seen, zone) for p in profiles) if m is not None]
    if not matches:
        return None
    return max(matches, key=lambda m: (m.score, m.profile.name))


def read_name(rel_path: bytes, profile: Profile | None, zone: str) -> NameInfo:
    """What a recording's path says, by the profile, else by the generic reading."""
    info = profile.parse(rel_path, zone) if profile else NameInfo()
    if info == NameInfo():
        info = parse_name(rel_path.rsplit(b"/", 1)[-1], zone)
    return info


@dataclass(frozen=True)
class Identified:
    """A camera root after looking at it: its files, the profile that fits, and the ids
    its file names state (the camera's own word for 产品序号 and 警号)."""

    listing: Listing
    match: Match | None
    device_id: str | None
    officer_id: str | None

    @property
    def profile(self) -> Profile | None:
        return self.match.profile if self.match else None


def identify(root: Path, profiles: Sequence[Profile], extensions: Iterable[str], zone: str, *,
             label: str | None = None, usb_id: str | None = None) -> Identified:
    """List ``root`` (never following links) and choose the profile that fits it."""
    all_extensions = sorted({*extensions, *(ext for p in profiles for ext in p.extensions)})
    listing = list_camera(root, all_extensions)
    top = tuple(sorted(os.fsdecode(name) for name in os.listdir(root)))
    match = choose_profile(profiles, Seen(top, tuple(f.rel_path for f in listing.files),
                                          label, usb_id), zone)
    infos = [read_name(item.rel_path, match.profile if match else None, zone)
             for item in listing.files]
    return Identified(listing, match,
                      next((info.device_id for info in infos if info.device_id), None),
                      next((info.officer_id for info in infos if info.officer_id), None))

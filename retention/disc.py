"""Optical disc burn-out (R7): plan a case's evidence onto discs, burn with xorriso,
read back and verify.

Planning is a pure function (first-fit decreasing onto the chosen medium, with room kept
for the notes, manifest and verifier). Burning and reading go through xorriso with the
drive given as a device (``/dev/sr0``, a real burner) or ``stdio:FILE`` (an image file):
the same commands either way, only the drive differs.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Usable bytes (2048-byte sectors) of common write-once media.
MEDIA: dict[str, int] = {
    "cd": 360_000 * 2048,  # CD-R 80 min, 700 MB
    "dvd": 2_295_104 * 2048,  # DVD±R, 4.7 GB
    "dvd-dl": 4_171_712 * 2048,  # DVD±R DL, 8.5 GB
    "bd": 12_219_392 * 2048,  # BD-R, 25 GB
}
RESERVED = 16 * 1024 * 1024  # notes, manifest, proofs, verifier and ISO 9660 structures
PER_FILE = 4 * 2048  # directory records and rounding per file


class DiscError(Exception):
    """Planning, burning or reading a disc failed; the message says what to do."""


@dataclass(frozen=True)
class DiscFile:
    key: str  # clip id
    size: int


@dataclass
class DiscPlan:
    number: int
    files: list[DiscFile] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(item.size for item in self.files)


def plan_discs(files: Sequence[DiscFile], medium: str) -> list[DiscPlan]:
    """Pure: place every file on a disc of ``medium``; a file never spans discs."""
    if medium not in MEDIA:
        raise DiscError(f"unknown medium {medium!r}; choose {', '.join(MEDIA)}")
    capacity = MEDIA[medium] - RESERVED
    discs: list[DiscPlan] = []
    room: list[int] = []
    for item in sorted(files, key=lambda f: (-f.size, f.key)):
        need = item.size + PER_FILE
        if need > capacity:
            bigger = [name for name, size in MEDIA.items() if size - RESERVED >= need]
            raise DiscError(f"{item.key} ({item.size} bytes) does not fit on {medium}; use "
                            f"{bigger[0] if bigger else 'a removable drive (R9)'}")
        for index, free in enumerate(room):
            if free >= need:
                discs[index].files.append(item)
                room[index] -= need
                break
        else:
            discs.append(DiscPlan(len(discs) + 1, [item]))
            room.append(capacity - need)
    return discs


def volume_id(case_number: str, number: int, total: int) -> str:
    """An ISO 9660 volume id (d-characters, ≤ 32) naming the case and the disc."""
    cleaned = re.sub(r"[^A-Z0-9]+", "_", case_number.upper()).strip("_") or "CASE"
    suffix = f"_{number}OF{total}"
    return (cleaned[: 32 - len(suffix)] + suffix)[:32]


def _xorriso(arguments: list[str], what: str) -> str:
    result = subprocess.run(["xorriso", *arguments], capture_output=True, text=True, check=False,
                            timeout=6 * 3600)
    if result.returncode != 0:
        raise DiscError(f"{what} failed (xorriso exit {result.returncode}): "
                        f"{(result.stderr or result.stdout).strip()[-600:]}")
    return result.stdout + result.stderr


def burn(staging: Path, drive: str, volid: str) -> None:
    """Write ``staging`` as ISO 9660 + Rock Ridge + Joliet with MD5s, and close the disc."""
    _xorriso(["-outdev", drive, "-blank", "as_needed", "-volid", volid, "-joliet", "on",
              "-rockridge", "on", "-md5", "on", "-close", "on", "-map", str(staging), "/",
              "-commit"], f"burning to {drive}")


def check_md5(drive: str) -> None:
    """xorriso's own check of the session against the MD5 recorded at burn time
    (``-md5 on`` must come before ``-indev``, or the check silently passes)."""
    _xorriso(["-md5", "on", "-indev", drive, "-check_md5", "FAILURE", "--"],
             f"reading {drive} back (MD5 check)")


def extract(drive: str, destination: Path) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    _xorriso(["-osirrox", "on", "-indev", drive, "-extract", "/", str(destination)],
             f"reading {drive} back")

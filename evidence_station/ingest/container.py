"""A cheap structural check of a stored recording, before it is committed.

Reads only box headers (ISO BMFF: MP4/MOV/3GP) or the RIFF header (AVI/WAV), never the
media data, so it costs a few small reads however large the file. It catches what a
camera leaves when the battery dies or the card is pulled: a box running past the end
of the file, or no ``moov`` index. Full decoding is the analysis stage's job.
"""

from __future__ import annotations

import struct
from pathlib import Path

from evidence_station.ingest.flags import Flag

ISO_BMFF = {".mp4", ".mov", ".m4a", ".3gp"}
RIFF = {".avi", ".wav"}


def check_container(path: Path, extension: str) -> list[Flag]:
    extension = extension.lower()
    size = path.stat().st_size
    if size == 0:
        return []
    with open(path, "rb") as handle:
        if extension in ISO_BMFF:
            return _check_iso_bmff(handle, size)
        if extension in RIFF:
            return _check_riff(handle, size)
    return []


def _truncated(detail: str) -> list[Flag]:
    return [Flag("media_truncated", detail + "; stored as found, check the recording", "R3 000:7")]


def _check_iso_bmff(handle: object, size: int) -> list[Flag]:
    import io

    assert isinstance(handle, io.BufferedReader)
    offset = 0
    seen: list[str] = []
    while offset < size:
        handle.seek(offset)
        header = handle.read(16)
        if len(header) < 8:
            return _truncated(f"{size - offset} stray bytes at the end (offset {offset})")
        box_size, raw_type = struct.unpack(">I4s", header[:8])
        box_type = raw_type.decode("latin-1")
        if box_size == 1:
            if len(header) < 16:
                return _truncated(f"box {box_type!r} header cut off at offset {offset}")
            box_size = struct.unpack(">Q", header[8:16])[0]
        elif box_size == 0:
            box_size = size - offset
        if box_size < 8:
            return [Flag("media_malformed", f"box {box_type!r} at offset {offset} has size "
                         f"{box_size}; not a valid MP4/MOV")]
        if offset + box_size > size:
            return _truncated(
                f"box {box_type!r} at offset {offset} needs {box_size} bytes, the file ends "
                f"after {size - offset}"
            )
        seen.append(box_type)
        offset += box_size
    if not seen or seen[0] not in ("ftyp", "wide", "free", "mdat", "moov", "skip"):
        return [Flag("media_malformed", f"does not start with an MP4/MOV box ({seen[:1]})")]
    if "moov" not in seen:
        return _truncated("no 'moov' index: the recording was not finalised")
    return []


def _check_riff(handle: object, size: int) -> list[Flag]:
    import io

    assert isinstance(handle, io.BufferedReader)
    header = handle.read(12)
    if len(header) < 12 or header[:4] not in (b"RIFF", b"RF64"):
        return [Flag("media_malformed", "no RIFF header")]
    declared = struct.unpack("<I", header[4:8])[0] + 8
    if header[:4] == b"RIFF" and declared > size:
        return _truncated(f"RIFF header declares {declared} bytes, the file has {size}")
    return []
